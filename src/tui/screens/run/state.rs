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
    /// The cases the run covers, in session order: `n`/`p` stay among them.
    pub case_ids: Vec<String>,
    pub total: usize,
    pub done: usize,
    pub errors: usize,
    pub cached: usize,
    pub started_ms: u64,
}

/// One cell of the run in progress as the panes show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveCell {
    /// Sanitized text so far (the whole output once the cell is done).
    pub text: String,
    pub done: bool,
    pub error: Option<String>,
}

pub struct RunState {
    /// Which session variants the next run includes (by index).
    pub chosen: Vec<bool>,
    pub cursor: usize,
    pub filter: CaseFilter,
    pub active: Option<ActiveRun>,
    /// Case whose outputs stream into the panes.
    pub case: usize,
    /// Every cell of the run in progress (first repeat), by (variant, case id): the whole
    /// text so far, already sanitized, whichever case is focused.
    pub live: HashMap<(String, String), LiveCell>,
    /// Lines the panes are scrolled up from the tail; 0 follows new text.
    pub scroll_back: u16,
    pub cell_errors: Vec<String>,
    /// Models of the run in progress that do not answer, with the line saying so (their
    /// cells wait; the line counts down to the next probe).
    pub unreachable: std::collections::BTreeMap<String, String>,
    /// The last run's summary of what failed and why (sanitized lines).
    pub summary: Vec<String>,
}
