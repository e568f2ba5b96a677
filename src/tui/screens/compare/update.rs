//! The Compare screen's `update`: its actions and the messages it reacts to.

use crate::sanitize::output_shown;
use crate::store::OutputRecord;
use crate::tui::action::Action;
use crate::tui::msg::Effect;
use crate::tui::screens::picker::state::PickFor;
use crate::tui::screens::picker::update::open;
use crate::tui::state::{DiffKey, Level, Screen, State, ViewMode, repeat_of};

/// The outputs the compare screen shows for its case and repeat: (left, right). The right
/// side comes from the earlier run in a regression view.
pub fn compare_outputs(state: &State) -> [Option<&OutputRecord>; 2] {
    let Some(case) = state.session.cases.get(state.compare.case) else {
        return [None, None];
    };
    let variants = state.run_variants();
    let repeat = state.compare.repeat;
    let left = variants
        .get(state.compare.left)
        .and_then(|v| repeat_of(state.outputs(v, &case.id), repeat));
    let right = variants.get(state.compare.right).and_then(|v| {
        if state.compare.right_run.is_some() {
            state
                .data
                .earlier_outputs
                .get(&(v.clone(), case.id.clone()))
                .and_then(|list| repeat_of(list, repeat))
        } else {
            repeat_of(state.outputs(v, &case.id), repeat)
        }
    });
    [left, right]
}

/// The two texts the compare screen shows for its case and repeat: (left, right).
pub fn compare_texts(state: &State) -> Option<(String, String)> {
    match compare_outputs(state) {
        [Some(l), Some(r)] => Some((output_shown(l), output_shown(r))),
        _ => None,
    }
}

pub(crate) fn current_diff_key(state: &State) -> Option<DiffKey> {
    let (left, right) = compare_texts(state)?;
    Some(DiffKey {
        left,
        right,
        mode: state.compare.mode.diff_mode(),
    })
}

pub(crate) fn refresh_diff(state: &mut State) -> Vec<Effect> {
    let Some(key) = current_diff_key(state) else {
        state.compare.diff = None;
        return Vec::new();
    };
    if state.compare.diff.as_ref().is_some_and(|(k, _)| *k == key) {
        return Vec::new();
    }
    state.compare.diff = None;
    vec![Effect::ComputeDiff {
        left: key.left.clone(),
        right: key.right.clone(),
        mode: key.mode,
        key,
    }]
}

/// The session's case indices the shown run covers (every case when no run is shown).
pub fn run_cases(state: &State) -> Vec<usize> {
    let ids: Option<std::collections::HashSet<&str>> = state
        .data
        .run
        .as_ref()
        .filter(|r| !r.case_ids.is_empty())
        .map(|r| r.case_ids.iter().map(String::as_str).collect());
    state
        .session
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| ids.as_ref().is_none_or(|ids| ids.contains(c.id.as_str())))
        .map(|(i, _)| i)
        .collect()
}

/// The case `by` steps from the current one among the run's cases, wrapping.
fn step(state: &State, by: isize) -> usize {
    let cases = run_cases(state);
    if cases.is_empty() {
        return state.compare.case;
    }
    let n = cases.len() as isize;
    let next = match cases.iter().position(|i| *i == state.compare.case) {
        Some(at) => (at as isize + by).rem_euclid(n),
        None if by > 0 => 0,
        None => n - 1,
    };
    cases[next as usize]
}

pub(crate) fn compare_action(state: &mut State, action: Action) -> Vec<Effect> {
    let (next, prev) = (step(state, 1), step(state, -1));
    let n_variants = state.run_variants().len().max(1);
    let repeats = state.repeats();
    if matches!(action, Action::NextRepeat | Action::PrevRepeat) && repeats < 2 {
        state.toast(Level::Info, "this run has one repeat per case");
        return Vec::new();
    }
    let c = &mut state.compare;
    match action {
        Action::NextCase | Action::Right => c.case = next,
        Action::PrevCase | Action::Left => c.case = prev,
        Action::Down => c.scroll = c.scroll.saturating_add(1),
        Action::Up => c.scroll = c.scroll.saturating_sub(1),
        Action::PageDown => c.scroll = c.scroll.saturating_add(10),
        Action::PageUp => c.scroll = c.scroll.saturating_sub(10),
        Action::PickRun => return open(state, PickFor::Shown),
        Action::NextRepeat => c.repeat = (c.repeat + 1) % repeats,
        Action::PrevRepeat => c.repeat = (c.repeat + repeats - 1) % repeats,
        Action::ExpandChecks => c.checks_expanded = !c.checks_expanded,
        Action::InspectRetrieval => {
            c.inspect = !c.inspect;
            c.scroll = 0;
        }
        Action::CycleDiffMode => {
            c.mode = match c.mode {
                ViewMode::Word => ViewMode::Line,
                ViewMode::Line => ViewMode::Unified,
                ViewMode::Unified => ViewMode::Word,
            };
        }
        Action::CycleVariant => {
            c.right = (c.right + 1) % n_variants;
            if c.right == c.left && c.right_run.is_none() {
                c.right = (c.right + 1) % n_variants;
            }
        }
        Action::Select => {
            // Swap sides.
            std::mem::swap(&mut c.left, &mut c.right);
        }
        Action::NextDiffering => {
            let cases = run_cases(state);
            let at = cases
                .iter()
                .position(|i| *i == state.compare.case)
                .unwrap_or(0);
            for k in 1..=cases.len() {
                state.compare.case = cases[(at + k) % cases.len()];
                if compare_texts(state).is_some_and(|(l, r)| l != r) {
                    break;
                }
            }
        }
        Action::CompareEarlier => {
            // A second E goes back to comparing variants of the shown run.
            if state.compare.right_run.is_some() {
                state.compare.right_run = None;
                state.data.earlier_outputs.clear();
            } else if state.data.run.is_none() {
                state.toast(Level::Info, "no run of this session yet");
                return Vec::new();
            } else {
                return open(state, PickFor::Earlier);
            }
        }
        _ => return Vec::new(),
    }
    state.compare.scroll = if matches!(
        action,
        Action::Up | Action::Down | Action::PageUp | Action::PageDown
    ) {
        state.compare.scroll
    } else {
        0
    };
    refresh_diff(state)
}

/// Shows the Compare screen, its diff brought up to date.
pub fn enter(state: &mut State) -> Vec<Effect> {
    state.screen = Screen::Compare;
    // On a case the run covers (a run of one tag has no outputs for the others).
    let cases = run_cases(state);
    if !cases.is_empty() && !cases.contains(&state.compare.case) {
        state.compare.case = cases[0];
    }
    refresh_diff(state)
}
