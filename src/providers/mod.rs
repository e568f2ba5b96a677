//! Model providers behind one streaming interface; retries, timeouts and limits live here once.

pub mod types;

pub use types::*;
