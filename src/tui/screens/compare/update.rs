//! The Compare screen's `update`: its actions and the messages it reacts to.

use crate::sanitize::output_shown;
use crate::tui::action::Action;
use crate::tui::msg::Effect;
use crate::tui::screens::picker::state::PickFor;
use crate::tui::screens::picker::update::open;
use crate::tui::state::{DiffKey, Level, Screen, State, ViewMode};

/// The two texts the compare screen shows for its case: (left, right).
pub fn compare_texts(state: &State) -> Option<(String, String)> {
    let case = state.session.cases.get(state.compare.case)?;
    let variants = state.run_variants();
    let left = variants.get(state.compare.left)?;
    let right = variants.get(state.compare.right)?;
    let l = state.output(left, &case.id)?;
    let r = if state.compare.right_run.is_some() {
        state
            .data
            .earlier_outputs
            .get(&(right.clone(), case.id.clone()))?
    } else {
        state.output(right, &case.id)?
    };
    Some((output_shown(l), output_shown(r)))
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

pub(crate) fn compare_action(state: &mut State, action: Action) -> Vec<Effect> {
    let n_cases = state.session.cases.len().max(1);
    let n_variants = state.run_variants().len().max(1);
    let c = &mut state.compare;
    match action {
        Action::NextCase | Action::Right => c.case = (c.case + 1) % n_cases,
        Action::PrevCase | Action::Left => c.case = (c.case + n_cases - 1) % n_cases,
        Action::Down => c.scroll = c.scroll.saturating_add(1),
        Action::Up => c.scroll = c.scroll.saturating_sub(1),
        Action::PageDown => c.scroll = c.scroll.saturating_add(10),
        Action::PageUp => c.scroll = c.scroll.saturating_sub(10),
        Action::PickRun => return open(state, PickFor::Shown),
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
            let start = c.case;
            for step in 1..=n_cases {
                state.compare.case = (start + step) % n_cases;
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
    refresh_diff(state)
}
