//! The Run screen's state: what the next run includes, and the run in progress.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseFilter {
    All,
    Tag(String),
    /// Cases with a cell that errored (no answer) in the run shown.
    Errored,
    /// Cases with an answer that failed a check in the run shown.
    FailedCheck,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRun {
    pub run_id: String,
    pub total: usize,
    pub done: usize,
    pub errors: usize,
    pub cached: usize,
    pub started_ms: u64,
}

pub struct RunState {
    /// Which session variants the next run includes (by index).
    pub chosen: Vec<bool>,
    pub cursor: usize,
    pub filter: CaseFilter,
    pub active: Option<ActiveRun>,
    /// Case whose outputs stream into the panes.
    pub case: usize,
    /// Text streamed so far for the focused case, per variant: already sanitized.
    pub live: HashMap<String, String>,
    pub cell_errors: Vec<String>,
}
