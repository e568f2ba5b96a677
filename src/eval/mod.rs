//! Evaluation: automatic checks on outputs and the statistics that say whether a win is real.

pub mod checks;
pub mod headtohead;
pub mod judge;
pub mod pii;
pub mod spec;
pub mod stats;
pub mod text;
pub mod verdicts;
