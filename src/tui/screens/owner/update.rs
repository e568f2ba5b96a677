//! The owner's view's `update`.

use super::state::{OwnerView, owner_lines};
use crate::rating::owner::OwnerReport;
use crate::tui::input::{Key, KeyCode, Modifiers};
use crate::tui::msg::Effect;
use crate::tui::screens::rate::RateEffect;
use crate::tui::screens::rate::update::start;
use crate::tui::state::State;

fn fx(e: RateEffect) -> Vec<Effect> {
    vec![Effect::Rate(e)]
}

/// Opens the owner's view (from the workbench).
pub fn open_owner(state: &mut State) -> Vec<Effect> {
    state.owner = Some(OwnerView {
        lines: None,
        error: None,
        scroll: 0,
        rater_prompt: None,
    });
    fx(RateEffect::LoadOwner)
}

/// The owner's report arrived, or failed to: what the view shows.
pub fn on_report(state: &mut State, report: Result<&OwnerReport, String>) -> Vec<Effect> {
    if let Some(o) = &mut state.owner {
        match report {
            Ok(report) => {
                o.lines = Some(
                    owner_lines(report)
                        .into_iter()
                        .map(|l| crate::sanitize::sanitize(&l).into_owned())
                        .collect(),
                );
                o.error = None;
            }
            Err(e) => o.error = Some(e),
        }
    }
    Vec::new()
}

/// A rating landed or was undone somewhere in this process: an open view recomputes, so the
/// owner watches progress and agreement arrive without pressing `r`.
pub fn on_ratings_changed(state: &State) -> Vec<Effect> {
    if state.owner.is_some() {
        fx(RateEffect::LoadOwner)
    } else {
        Vec::new()
    }
}

/// Pasted text goes into the rater name being typed. `true` when it was taken.
pub fn on_paste(state: &mut State, text: &str) -> bool {
    if let Some(name) = state.owner.as_mut().and_then(|o| o.rater_prompt.as_mut()) {
        name.push_str(text.lines().next().unwrap_or_default());
        return true;
    }
    false
}

pub fn on_key(state: &mut State, key: Key) -> Option<Vec<Effect>> {
    let o = state.owner.as_mut()?;
    if let Some(name) = &mut o.rater_prompt {
        match key.code {
            KeyCode::Enter => {
                let name = name.trim().to_owned();
                o.rater_prompt = None;
                if name.is_empty() {
                    return Some(Vec::new());
                }
                // The run the workbench shows is the one to rate (the newest may lack a
                // variant of the rating pairs).
                let run = state.data.run.as_ref().map(|r| r.id.clone());
                return Some(start(state, &name, run, false));
            }
            KeyCode::Esc => o.rater_prompt = None,
            KeyCode::Backspace => {
                name.pop();
            }
            KeyCode::Char(c)
                if !key.mods.contains(Modifiers::CTRL) && name.chars().count() < 64 =>
            {
                name.push(c);
            }
            _ => {}
        }
        return Some(Vec::new());
    }
    match key.code {
        KeyCode::Esc => state.owner = None,
        KeyCode::Char('r') => return Some(fx(RateEffect::LoadOwner)),
        KeyCode::Char('R') => o.rater_prompt = Some(String::new()),
        KeyCode::Char('j') | KeyCode::Down => o.scroll = o.scroll.saturating_add(1),
        KeyCode::Char('k') | KeyCode::Up => o.scroll = o.scroll.saturating_sub(1),
        KeyCode::PageDown => o.scroll = o.scroll.saturating_add(10),
        KeyCode::PageUp => o.scroll = o.scroll.saturating_sub(10),
        KeyCode::Home => o.scroll = 0,
        // Clamped to the end by `update` once the key is handled.
        KeyCode::End => o.scroll = u16::MAX,
        _ => {
            // Anything else is the workbench's: the view closes and the key goes on.
            state.owner = None;
            return None;
        }
    }
    Some(Vec::new())
}
