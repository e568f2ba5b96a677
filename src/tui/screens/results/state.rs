//! The Results screen's state: the run's report, its sort and filters.

use crate::report::RunReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Variant,
    PassRate,
    LatencyP50,
    Cost,
    Errors,
}

pub struct ResultsState {
    pub report: Option<RunReport>,
    pub sort: SortBy,
    /// Row of the case x variant grid.
    pub row: usize,
    pub failed_only: bool,
    pub differing_only: bool,
    pub tag: Option<String>,
}
