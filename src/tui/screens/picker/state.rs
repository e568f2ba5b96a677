//! The run picker's state: the session's runs, summarised, and which one is chosen for what.

use crate::store::RunStatus;

/// One run of the session, as the picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: String,
    pub created_ms: u64,
    pub variants: Vec<String>,
    /// Cells the run planned (variants x cases x repeats).
    pub cells: usize,
    /// Cells with an output (answered or errored).
    pub done: usize,
    pub errors: usize,
    pub status: RunStatus,
}

impl RunSummary {
    /// A run that never produced an output (interrupted at once): nothing to compare with.
    pub fn is_empty(&self) -> bool {
        self.done == 0
    }
}

/// What the chosen run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    /// Shown in Results and Compare.
    Shown,
    /// Compared against the shown run, variant by variant (the regression view).
    Earlier,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunPicker {
    pub purpose: PickFor,
    /// Newest first; `None` while the store is read.
    pub runs: Option<Vec<RunSummary>>,
    /// Index into [`RunPicker::visible`].
    pub selected: usize,
    /// Runs without outputs are left out unless asked for (`a`).
    pub show_empty: bool,
    /// The run shown when the picker opened (never its own earlier run).
    pub shown: Option<String>,
    /// Enter was pressed before the list arrived: the run it would choose is taken as soon
    /// as the list is read, so the key press is not lost.
    pub enter_pending: bool,
}

impl RunPicker {
    /// The runs offered: for an earlier run, not the shown one, and empty ones only when
    /// asked for.
    pub fn visible(&self) -> Vec<&RunSummary> {
        self.runs
            .iter()
            .flatten()
            .filter(|r| self.show_empty || !r.is_empty())
            .filter(|r| self.purpose == PickFor::Shown || Some(&r.id) != self.shown.as_ref())
            .collect()
    }

    pub fn hidden_empty(&self) -> usize {
        if self.show_empty {
            return 0;
        }
        self.runs.iter().flatten().filter(|r| r.is_empty()).count()
    }
}
