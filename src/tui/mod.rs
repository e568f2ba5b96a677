//! The workbench TUI: plain `State`, `Msg`s into `update`, `Effect`s out, pure `draw`.

pub mod action;
pub mod app;
pub mod draw;
pub mod input;
pub mod keymap;
pub mod layers;
pub mod msg;
pub mod screens;
pub mod state;
pub mod strings;
pub mod term;
pub mod theme;
pub mod update;
pub mod widgets;
