//! The run picker's `update`: opening it, its keys, and the list read from the store.

use super::state::{PickFor, RunPicker, RunSummary};
use crate::tui::input::{Key, KeyCode};
use crate::tui::msg::Effect;
use crate::tui::state::State;

/// Opens the picker for `purpose`; the store's list of runs follows.
pub fn open(state: &mut State, purpose: PickFor) -> Vec<Effect> {
    state.picker = Some(RunPicker {
        purpose,
        runs: None,
        selected: 0,
        show_empty: false,
        shown: state.data.run.as_ref().map(|r| r.id.clone()),
        enter_pending: false,
    });
    vec![Effect::ListRuns]
}

/// The session's runs arrived: the picker starts on the run shown (to show another) or on
/// the newest non-empty run older than it (to compare against).
pub fn on_listed(state: &mut State, runs: Vec<RunSummary>) -> Vec<Effect> {
    let Some(p) = &mut state.picker else {
        return Vec::new();
    };
    let shown_ms = p
        .shown
        .as_ref()
        .and_then(|id| runs.iter().find(|r| &r.id == id))
        .map(|r| r.created_ms);
    p.runs = Some(runs);
    let visible = p.visible();
    p.selected = match (p.purpose, shown_ms) {
        (PickFor::Shown, _) => visible
            .iter()
            .position(|r| Some(&r.id) == p.shown.as_ref())
            .unwrap_or(0),
        (PickFor::Earlier, Some(ms)) => visible.iter().position(|r| r.created_ms < ms).unwrap_or(0),
        (PickFor::Earlier, None) => 0,
    };
    if p.enter_pending {
        p.enter_pending = false;
        if !p.visible().is_empty() {
            return choose(state);
        }
    }
    Vec::new()
}

/// The picker's keys; it takes every key while it is open.
pub fn on_key(state: &mut State, key: Key) -> Option<Vec<Effect>> {
    let p = state.picker.as_mut()?;
    let n = p.visible().len();
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => state.picker = None,
        KeyCode::Up | KeyCode::Char('k') => p.selected = p.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => {
            p.selected = (p.selected + 1).min(n.saturating_sub(1));
        }
        KeyCode::Home => p.selected = 0,
        KeyCode::End => p.selected = n.saturating_sub(1),
        KeyCode::Char('a') => {
            let id = p.visible().get(p.selected).map(|r| r.id.clone());
            p.show_empty = !p.show_empty;
            let visible = p.visible();
            p.selected = id
                .and_then(|id| visible.iter().position(|r| r.id == id))
                .unwrap_or(0);
        }
        KeyCode::Enter if p.runs.is_none() => p.enter_pending = true,
        KeyCode::Enter => return Some(choose(state)),
        _ => {}
    }
    Some(Vec::new())
}

fn choose(state: &mut State) -> Vec<Effect> {
    let Some(p) = state.picker.take() else {
        return Vec::new();
    };
    let Some(run) = p.visible().get(p.selected).map(|r| r.id.clone()) else {
        return Vec::new();
    };
    match p.purpose {
        PickFor::Shown => {
            // Another run shown: its own variants, no earlier run beside it.
            state.compare.right_run = None;
            state.data.earlier_outputs.clear();
            state.data.loading = true;
            vec![Effect::LoadRun(run)]
        }
        PickFor::Earlier => {
            state.compare.right = state.compare.left;
            vec![Effect::LoadEarlier(run)]
        }
    }
}
