//! The Compare screen's state: which outputs side by side, and their diff.

use std::sync::Arc;

use crate::diff::{DiffLines, DiffMode};

pub struct CompareState {
    pub case: usize,
    /// Variant indices into the run's variants.
    pub left: usize,
    pub right: usize,
    /// Which repeat of each cell is shown (0-based), when the run has several.
    pub repeat: u32,
    pub mode: ViewMode,
    /// The earlier run the right side comes from, for a regression view.
    pub right_run: Option<String>,
    pub diff: Option<(DiffKey, Arc<DiffLines>)>,
    pub scroll: u16,
    /// The retrieval inspector replaces the diff (`g`).
    pub inspect: bool,
    /// The checks panels take most of the screen (`c`).
    pub checks_expanded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewMode {
    Word,
    Line,
    Unified,
}

impl ViewMode {
    pub fn diff_mode(self) -> DiffMode {
        match self {
            ViewMode::Line => DiffMode::Line,
            ViewMode::Word | ViewMode::Unified => DiffMode::Word,
        }
    }
}

/// Names a computed diff: which two texts, compared how.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiffKey {
    pub left: String,
    pub right: String,
    pub mode: DiffMode,
}
