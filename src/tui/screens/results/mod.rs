//! The Results screen: its state, its update and its view.

pub mod state;
pub mod update;
pub mod view;
