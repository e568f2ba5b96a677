//! Evaluation: automatic checks on outputs and the statistics that say whether a win is real.

pub mod spec;
