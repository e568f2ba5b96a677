//! The Results screen's `update`: its actions and the messages it reacts to.

use std::collections::HashMap;

use crate::tui::action::Action;
use crate::tui::msg::Effect;
use crate::tui::screens::compare;
use crate::tui::screens::run::update::session_tags;
use crate::tui::state::{CaseFlags, SortBy, State};

/// What the output filters need to know of one case's outputs.
#[derive(Default)]
struct Seen<'a> {
    flags: CaseFlags,
    first: Option<&'a str>,
}

/// The filters' flags per case id, computed once when a run loads: the outputs (every
/// repeat) are visited once, by reference.
pub(crate) fn case_flags<'a>(
    outputs: impl IntoIterator<Item = &'a crate::store::OutputRecord>,
) -> HashMap<String, CaseFlags> {
    let mut seen: HashMap<&str, Seen> = HashMap::new();
    for o in outputs {
        let s = seen.entry(o.case_id.as_str()).or_default();
        s.flags.errored |= o.error.is_some();
        s.flags.failed_check |= o.error.is_none() && o.checks.iter().any(|c| !c.pass);
        match s.first {
            None => s.first = Some(&o.text),
            Some(first) => s.flags.differ |= first != o.text,
        }
    }
    seen.into_iter()
        .map(|(id, s)| (id.to_owned(), s.flags))
        .collect()
}

/// The grid's rows after filters: case indices. Called on every frame of Results and every
/// key there, with runs of 10k cases and more, so it reads only the per-case flags.
pub fn grid_rows(state: &State) -> Vec<usize> {
    let r = &state.results;
    // Only the cases the run covers (a run of one tag has no row for the others).
    crate::tui::screens::compare::update::run_cases(state)
        .into_iter()
        .filter(|&i| {
            let case = &state.session.cases[i];
            let flags = || state.data.case_flags.get(case.id.as_str());
            r.tag.as_ref().is_none_or(|t| case.tags.contains(t))
                && (!r.failed_only || flags().is_some_and(|f| f.failed()))
                && (!r.differing_only || flags().is_some_and(|f| f.differ))
        })
        .collect()
}

pub(crate) fn results_action(state: &mut State, action: Action) -> Vec<Effect> {
    let rows = grid_rows(state).len();
    let r = &mut state.results;
    match action {
        Action::Up => r.row = r.row.saturating_sub(1),
        Action::Down => r.row = (r.row + 1).min(rows.saturating_sub(1)),
        Action::PageUp => r.row = r.row.saturating_sub(10),
        Action::PageDown => r.row = (r.row + 10).min(rows.saturating_sub(1)),
        Action::SortNext => {
            r.sort = match r.sort {
                SortBy::Variant => SortBy::PassRate,
                SortBy::PassRate => SortBy::LatencyP50,
                SortBy::LatencyP50 => SortBy::Cost,
                SortBy::Cost => SortBy::Errors,
                SortBy::Errors => SortBy::Variant,
            };
        }
        Action::FilterFailed => {
            r.failed_only = !r.failed_only;
            r.row = 0;
        }
        Action::FilterDiffering => {
            r.differing_only = !r.differing_only;
            r.row = 0;
        }
        Action::FilterTag => {
            let tags = session_tags(state);
            let r = &mut state.results;
            r.tag = match &r.tag {
                None => tags.first().cloned(),
                Some(t) => tags
                    .iter()
                    .position(|x| x == t)
                    .and_then(|i| tags.get(i + 1))
                    .cloned(),
            };
            r.row = 0;
        }
        Action::PickRun => {
            return crate::tui::screens::picker::update::open(
                state,
                crate::tui::screens::picker::state::PickFor::Shown,
            );
        }
        Action::Select => {
            if let Some(case) = grid_rows(state).get(state.results.row) {
                state.compare.case = *case;
                return compare::update::enter(state);
            }
        }
        _ => {}
    }
    Vec::new()
}
