//! The App's screens, each in its own folder with its state, its update and its view:
//! the workbench's four tabs (templates, run, compare, results), the rating screen and the
//! owner's view of a rating session. Screens share widgets (`tui::widgets`), not each
//! other's internals.

pub mod compare;
pub mod owner;
pub mod picker;
pub mod rate;
pub mod results;
pub mod run;
pub mod templates;
