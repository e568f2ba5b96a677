//! The Run screen's `update`: its actions and the messages it reacts to.

use crate::runner::RunEvent;
use crate::sanitize::sanitize;
use crate::store::RunStatus;
use crate::tui::action::Action;
use crate::tui::msg::Effect;
use crate::tui::state::{ActiveRun, CaseFilter, Level, Screen, State};

pub(crate) fn run_action(state: &mut State, action: Action) -> Vec<Effect> {
    let n_variants = state.session.file.variants.len();
    let r = &mut state.run;
    match action {
        Action::Up => r.cursor = r.cursor.saturating_sub(1),
        Action::Down => r.cursor = (r.cursor + 1).min(n_variants.saturating_sub(1)),
        Action::ToggleVariant | Action::Select => {
            if let Some(c) = r.chosen.get_mut(r.cursor) {
                *c = !*c;
            }
        }
        Action::CycleCases => {
            let tags = session_tags(state);
            let r = &mut state.run;
            r.filter = match &r.filter {
                CaseFilter::All => tags
                    .first()
                    .map_or(CaseFilter::Errored, |t| CaseFilter::Tag(t.clone())),
                CaseFilter::Tag(t) => {
                    let i = tags
                        .iter()
                        .position(|x| x == t)
                        .map_or(tags.len(), |i| i + 1);
                    tags.get(i)
                        .map_or(CaseFilter::Errored, |t| CaseFilter::Tag(t.clone()))
                }
                CaseFilter::Errored => CaseFilter::FailedCheck,
                CaseFilter::FailedCheck => CaseFilter::All,
            };
        }
        Action::NextCase => step_case(state, 1),
        Action::PrevCase => step_case(state, -1),
        // While streaming, PgUp leaves the tail (PgDn back to it); a stored output scrolls
        // down from its start.
        Action::PageUp if r.active.is_some() => r.scroll_back = r.scroll_back.saturating_add(5),
        Action::PageDown if r.active.is_some() => {
            r.scroll_back = r.scroll_back.saturating_sub(5);
        }
        Action::PageUp => r.scroll_back = r.scroll_back.saturating_sub(5),
        Action::PageDown => r.scroll_back = r.scroll_back.saturating_add(5),
        Action::StartRun => {
            if r.active.is_some() {
                state.toast(Level::Error, "a run is already going; x cancels it");
                return Vec::new();
            }
            let variants: Vec<String> = state
                .session
                .file
                .variants
                .iter()
                .zip(&state.run.chosen)
                .filter(|(_, on)| **on)
                .map(|(v, _)| v.name.clone())
                .collect();
            let case_ids = selected_cases(state);
            if variants.is_empty() || case_ids.is_empty() {
                state.toast(
                    Level::Error,
                    "nothing to run: choose a variant (space) and cases (c)",
                );
                return Vec::new();
            }
            state.screen = Screen::Run;
            state.run.live.clear();
            state.run.cell_errors.clear();
            state.run.summary.clear();
            // The panes show a case of the run, not one it leaves out.
            let focused = state.session.cases.get(state.run.case).map(|c| &c.id);
            if !focused.is_some_and(|id| case_ids.contains(id))
                && let Some(i) = state.session.cases.iter().position(|c| c.id == case_ids[0])
            {
                state.run.case = i;
            }
            let save_first = crate::tui::screens::templates::update::unsaved_used(state, &variants);
            return vec![Effect::StartRun {
                variants,
                case_ids,
                specs: state.templates.specs.clone(),
                save_first,
            }];
        }
        Action::ResumeRun => return resume(state),
        Action::CancelRun if r.active.is_some() => {
            return vec![Effect::CancelRun];
        }
        _ => {}
    }
    Vec::new()
}

pub(crate) fn session_tags(state: &State) -> Vec<String> {
    let mut tags: Vec<String> = state
        .session
        .cases
        .iter()
        .flat_map(|c| c.tags.iter().cloned())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// Case ids the run filter selects.
pub fn selected_cases(state: &State) -> Vec<String> {
    selected(state).map(|c| c.id.clone()).collect()
}

/// The cases the Run screen's filter selects; drawn (counted) on every frame, so the failed
/// filter reads the per-case flags computed when the run loaded.
pub fn selected(state: &State) -> impl Iterator<Item = &crate::session::Case> {
    let filter = &state.run.filter;
    state.session.cases.iter().filter(move |c| match filter {
        CaseFilter::All => true,
        CaseFilter::Tag(t) => c.tags.contains(t),
        CaseFilter::Errored => state
            .data
            .case_flags
            .get(c.id.as_str())
            .is_some_and(|f| f.errored),
        CaseFilter::FailedCheck => state
            .data
            .case_flags
            .get(c.id.as_str())
            .is_some_and(|f| f.failed_check),
    })
}

pub(crate) fn on_run_event(state: &mut State, ev: RunEvent) -> Vec<Effect> {
    match ev {
        RunEvent::Started {
            run_id,
            total,
            already_done,
        } => {
            // A resumed run covers the cases of the run shown.
            let case_ids = match &state.data.run {
                Some(run) if run.id == run_id => run.case_ids.clone(),
                _ => selected_cases(state),
            };
            state.run.scroll_back = 0;
            state.run.active = Some(ActiveRun {
                run_id,
                case_ids,
                total,
                done: already_done,
                errors: 0,
                cached: 0,
                started_ms: state.now_ms,
            });
            Vec::new()
        }
        RunEvent::Delta { key, text } => {
            if key.repeat == 0 {
                // Every cell's text is kept, focused or not, so moving to a case shows all
                // of its text so far. Sanitized as it arrives (it maps each character
                // alone), so a frame draws the streamed text without copying it.
                state
                    .run
                    .live
                    .entry((key.variant, key.case_id))
                    .or_default()
                    .text
                    .push_str(&sanitize(&text));
            }
            Vec::new()
        }
        RunEvent::Judging { judge, comparisons } => {
            state.toast(
                Level::Info,
                format!("judge {judge}: {comparisons} comparisons, both orders"),
            );
            Vec::new()
        }
        // The workbench shows the judge's start as a toast; its result is in Results.
        RunEvent::Judged { .. } => Vec::new(),
        RunEvent::Restart { key } => {
            if key.repeat == 0 {
                state.run.live.remove(&(key.variant, key.case_id));
            }
            Vec::new()
        }
        RunEvent::CellDone {
            key, cached, error, ..
        } => {
            if key.repeat == 0 {
                let cell = state
                    .run
                    .live
                    .entry((key.variant.clone(), key.case_id.clone()))
                    .or_default();
                cell.done = true;
                cell.error = error.as_deref().map(|e| sanitize(e).into_owned());
            }
            if let Some(a) = &mut state.run.active {
                a.done += 1;
                a.cached += usize::from(cached);
                if let Some(e) = &error {
                    a.errors += 1;
                    state.run.cell_errors.push(format!(
                        "{} / {}: {}",
                        key.variant,
                        key.case_id,
                        sanitize(e)
                    ));
                }
            }
            Vec::new()
        }
        RunEvent::Unreachable {
            model,
            retry_in_ms,
            error,
            ..
        } => {
            let line = format!(
                "{}: {error}; its cells wait",
                crate::runner::unreachable_line(&model, retry_in_ms)
            );
            let line = sanitize(&line).into_owned();
            state.run.unreachable.insert(model, line);
            Vec::new()
        }
        RunEvent::Reachable { model, .. } => {
            state.run.unreachable.remove(&model);
            Vec::new()
        }
        RunEvent::Summary(summary) => {
            state.run.summary = summary
                .lines()
                .iter()
                .map(|l| sanitize(l).into_owned())
                .collect();
            Vec::new()
        }
        RunEvent::Finished { run_id, status } => {
            state.run.active = None;
            state.run.scroll_back = 0;
            state.run.unreachable.clear();
            let mut text = match status {
                RunStatus::Complete => format!("run {run_id} complete"),
                _ => format!("run {run_id} interrupted; u on the Run screen resumes it"),
            };
            // What failed and why stays on the Run screen; the toast says it first.
            for line in &state.run.summary {
                text.push_str(" · ");
                text.push_str(line);
            }
            let level = if state.run.summary.is_empty() {
                Level::Info
            } else {
                Level::Error
            };
            state.toast(level, text);
            vec![Effect::LoadRun(run_id)]
        }
    }
}

/// Resumes the shown run when it was interrupted: only its missing cells are asked for.
fn resume(state: &mut State) -> Vec<Effect> {
    if state.run.active.is_some() {
        state.toast(Level::Error, "a run is already going; x cancels it");
        return Vec::new();
    }
    let Some(run) = &state.data.run else {
        state.toast(Level::Info, "no run to resume");
        return Vec::new();
    };
    if run.status != RunStatus::Interrupted {
        let id = run.id.clone();
        state.toast(
            Level::Info,
            format!("run {id} was not interrupted: nothing to resume (R on Results picks another)"),
        );
        return Vec::new();
    }
    let run_id = run.id.clone();
    state.screen = Screen::Run;
    state.run.live.clear();
    state.run.cell_errors.clear();
    state.run.summary.clear();
    vec![Effect::ResumeRun {
        run_id,
        specs: state.templates.specs.clone(),
    }]
}

/// The cases `n`/`p` step through: the run's while one goes, else the filter's selection.
pub fn stepping_cases(state: &State) -> Vec<usize> {
    let ids: Vec<String> = match &state.run.active {
        Some(a) => a.case_ids.clone(),
        None => selected_cases(state),
    };
    state
        .session
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| ids.contains(&c.id))
        .map(|(i, _)| i)
        .collect()
}

fn step_case(state: &mut State, by: isize) {
    let cases = stepping_cases(state);
    if cases.is_empty() {
        return;
    }
    let n = cases.len() as isize;
    let next = match cases.iter().position(|i| *i == state.run.case) {
        Some(at) => (at as isize + by).rem_euclid(n),
        None if by > 0 => 0,
        None => n - 1,
    };
    state.run.case = cases[next as usize];
    state.run.scroll_back = 0;
}

/// A finished cell's stored output arrived: the pane shows its whole text at once (a
/// cached answer never streams; a repaired one replaces what streamed).
pub(crate) fn on_cell_output(state: &mut State, out: &crate::store::OutputRecord) {
    if out.repeat != 0
        || state
            .run
            .active
            .as_ref()
            .is_none_or(|a| a.run_id != out.run_id)
    {
        return;
    }
    let cell = state
        .run
        .live
        .entry((out.variant.clone(), out.case_id.clone()))
        .or_default();
    cell.text = crate::sanitize::output_shown(out);
    cell.done = true;
}
