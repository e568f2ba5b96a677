//! Evaluation: automatic checks on outputs and the statistics that say whether a win is real.

pub mod calibration;
pub mod checks;
pub mod compare;
pub mod headtohead;
pub mod judge;
pub mod pii;
pub mod stats;
pub mod text;
pub mod verdicts;

/// The check specifications live in the ground-floor `spec` module; this path is kept for
/// the code that names them through `eval`.
pub use crate::spec::check as spec;
