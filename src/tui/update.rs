//! `update(&mut State, Msg) -> Vec<Effect>`: the only place state changes.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_textarea::TextArea;

use super::action::Action;
use super::keymap::{Context, Keymap};
use super::msg::{Effect, Msg};
use super::state::{
    ActiveRun, CaseFilter, DiffKey, LatencyHistogram, Level, Overlay, Part, Screen, SortBy, State,
    VersionsView, ViewMode,
};
use crate::runner::RunEvent;
use crate::sanitize::{output_shown, sanitize};
use crate::session::{Example, TemplateSpec};
use crate::store::RunStatus;

/// Pause in typing before the preview is rendered again.
pub const PREVIEW_DEBOUNCE_MS: u64 = 250;

pub fn update(state: &mut State, keymap: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(state, keymap, key),
        Msg::Key(_) | Msg::Resize(..) => Vec::new(),
        Msg::Paste(text) => {
            if super::rate::update::on_paste(state, &text) {
                return Vec::new();
            }
            if let Some(editor) = &mut state.templates.editor {
                editor.insert_str(text);
                return edited(state);
            }
            Vec::new()
        }
        Msg::Tick(now) => on_tick(state, now),
        Msg::Action(action) => on_action(state, action),
        Msg::PreviewRendered {
            generation,
            result,
            at,
        } => {
            // A slower render of older text must not replace a newer one.
            if generation >= state.templates.preview_gen {
                state.templates.preview_gen = generation;
                state.templates.preview = result;
                state.templates.preview_error_at = at;
            }
            Vec::new()
        }
        Msg::Run(ev) => on_run_event(state, ev),
        Msg::RunLoaded {
            run,
            outputs,
            earlier,
        } => {
            state.data.outputs = outputs
                .into_iter()
                .filter(|o| o.repeat == 0)
                .map(|o| ((o.variant.clone(), o.case_id.clone()), o))
                .collect();
            state.data.loading = false;
            state.data.case_flags = case_flags(&state.data.outputs);
            state.data.latency = LatencyHistogram::of(state.data.outputs.values());
            state.data.earlier = earlier;
            state.data.run = Some(run);
            // Another run's retrievals never show beside this one's outputs.
            state.data.retrievals.clear();
            state.data.passage_texts.clear();
            let n = state.run_variants().len();
            state.compare.left = state.compare.left.min(n.saturating_sub(1));
            state.compare.right = state.compare.right.min(n.saturating_sub(1));
            refresh_diff(state)
        }
        Msg::EarlierLoaded { run_id, outputs } => {
            state.compare.right_run = Some(run_id);
            state.data.earlier_outputs = outputs
                .into_iter()
                .filter(|o| o.repeat == 0)
                .map(|o| ((o.variant.clone(), o.case_id.clone()), o))
                .collect();
            refresh_diff(state)
        }
        Msg::ReportReady(report) => {
            state.results.report = Some(report);
            Vec::new()
        }
        Msg::DiffReady { key, diff } => {
            if current_diff_key(state).as_ref() == Some(&key) {
                state.compare.diff = Some((key, diff));
            }
            Vec::new()
        }
        Msg::TemplateSaved { template, hash } => {
            state.templates.unsaved.retain(|t| t != &template);
            if !state.templates.unwritten.contains(&template) {
                state.templates.unwritten.push(template.clone());
            }
            state.toast(
                Level::Info,
                format!("saved {template} as version {}", short(&hash)),
            );
            Vec::new()
        }
        Msg::VersionsLoaded { template, list } => {
            let selected = list.len().saturating_sub(1);
            state.templates.versions = Some(VersionsView {
                template,
                list,
                selected,
            });
            Vec::new()
        }
        Msg::SessionWritten { path } => {
            state.templates.unwritten.clear();
            state.toast(Level::Info, format!("wrote {path}"));
            Vec::new()
        }
        Msg::NoRun => {
            state.data.loading = false;
            Vec::new()
        }
        Msg::RetrievalsLoaded {
            run_id,
            retrievals,
            texts,
        } => {
            if state.data.run.as_ref().is_some_and(|r| r.id == run_id) {
                state.data.retrievals = retrievals
                    .into_iter()
                    .map(|(variant, case, r)| ((variant, case), r))
                    .collect();
                state.data.passage_texts = texts;
            }
            Vec::new()
        }
        Msg::Error(text) => {
            // A failed read of the newest run ends its loading too.
            state.data.loading = false;
            state.toast(Level::Error, text);
            Vec::new()
        }
        Msg::Rate(msg) => super::rate::update::on_msg(state, msg),
    }
}

pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(8)]
}

fn on_tick(state: &mut State, now: u64) -> Vec<Effect> {
    state.now_ms = now;
    state.toasts.retain(|t| t.until_ms > now);
    match state.templates.preview_due_ms {
        Some(due) if due <= now => {
            state.templates.preview_due_ms = None;
            preview_effect(state).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

fn preview_effect(state: &State) -> Option<Effect> {
    let template = state.selected_template()?.to_owned();
    Some(Effect::RenderPreview {
        generation: state.templates.edit_gen,
        template,
        specs: state.templates.specs.clone(),
        case: state.templates.case,
    })
}

fn on_key(state: &mut State, keymap: &Keymap, key: KeyEvent) -> Vec<Effect> {
    if let Some(effects) = super::rate::update::on_key(state, key) {
        return effects;
    }
    if let Overlay::Palette { query, selected } = &mut state.overlay {
        match key.code {
            KeyCode::Esc => state.overlay = Overlay::None,
            KeyCode::Enter => {
                let chosen = palette_matches(query).get(*selected).copied();
                state.overlay = Overlay::None;
                if let Some(action) = chosen {
                    return on_action(state, action);
                }
            }
            KeyCode::Up => *selected = selected.saturating_sub(1),
            KeyCode::Down => *selected += 1,
            KeyCode::Backspace => {
                query.pop();
                *selected = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                query.push(c);
                *selected = 0;
            }
            _ => {}
        }
        return Vec::new();
    }
    if let Some(query) = &mut state.templates.find {
        match key.code {
            KeyCode::Esc => state.templates.find = None,
            KeyCode::Enter => {
                let query = std::mem::take(query);
                state.templates.find = None;
                find_next(state, query);
            }
            KeyCode::Backspace => {
                query.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => query.push(c),
            _ => {}
        }
        return Vec::new();
    }
    let ctx = state.context();
    if ctx == Context::Editor {
        if let Some(action) = keymap.lookup(ctx, &key) {
            return on_action(state, action);
        }
        if let Some(editor) = &mut state.templates.editor
            && editor.input(key)
        {
            return edited(state);
        }
        return Vec::new();
    }
    match keymap.lookup(ctx, &key) {
        Some(action) => on_action(state, action),
        None => Vec::new(),
    }
}

/// Palette entries matching the query (every word must appear in the name or description).
pub fn palette_matches(query: &str) -> Vec<Action> {
    let q = query.to_lowercase();
    Action::ALL
        .iter()
        .copied()
        .filter(|a| {
            let hay =
                format!("{} {}", action_name(*a), super::strings::describe(*a)).to_lowercase();
            q.split_whitespace().all(|w| hay.contains(w))
        })
        .collect()
}

pub fn action_name(a: Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    // Overlays first: they take the keys they know and close on the rest.
    match (&mut state.overlay, action) {
        (Overlay::Help { .. }, Action::Help | Action::Back | Action::Quit) => {
            state.overlay = Overlay::None;
            return Vec::new();
        }
        (Overlay::Help { scroll }, Action::Down) => {
            *scroll += 1;
            return Vec::new();
        }
        (Overlay::Help { scroll }, Action::Up) => {
            *scroll = scroll.saturating_sub(1);
            return Vec::new();
        }
        (Overlay::Help { .. }, _) => return Vec::new(),
        _ => {}
    }
    match action {
        Action::Quit => {
            if state.run.active.is_some() {
                state.quit = true;
                return vec![Effect::CancelRun];
            }
            state.quit = true;
            Vec::new()
        }
        Action::Help => {
            state.overlay = Overlay::Help { scroll: 0 };
            Vec::new()
        }
        Action::Palette => {
            state.overlay = Overlay::Palette {
                query: String::new(),
                selected: 0,
            };
            Vec::new()
        }
        Action::GotoTemplates => goto(state, Screen::Templates),
        Action::GotoRun => goto(state, Screen::Run),
        Action::GotoCompare => goto(state, Screen::Compare),
        Action::GotoResults => goto(state, Screen::Results),
        Action::GotoRate => super::rate::update::open_owner(state),
        Action::NextScreen | Action::PrevScreen => {
            let n = Screen::ALL.len();
            let i = state.screen.index();
            let next = if action == Action::NextScreen {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            goto(state, Screen::ALL[next])
        }
        _ => match state.screen {
            Screen::Templates => templates_action(state, action),
            Screen::Run => run_action(state, action),
            Screen::Compare => compare_action(state, action),
            Screen::Results => results_action(state, action),
        },
    }
}

fn goto(state: &mut State, screen: Screen) -> Vec<Effect> {
    state.screen = screen;
    if screen == Screen::Compare {
        return refresh_diff(state);
    }
    Vec::new()
}

// ---- Templates ----

fn part_text(spec: &TemplateSpec, part: Part) -> String {
    match part {
        Part::System => spec.system.clone().unwrap_or_default(),
        Part::User => spec.user.clone().unwrap_or_default(),
        Part::Examples => examples_to_text(spec.examples.as_deref().unwrap_or_default()),
    }
}

/// Few-shot examples as editable text: `### user` / `### assistant` headed blocks.
pub fn examples_to_text(examples: &[Example]) -> String {
    let mut out = String::new();
    for ex in examples {
        out.push_str("### user\n");
        out.push_str(&ex.user);
        out.push_str("\n### assistant\n");
        out.push_str(&ex.assistant);
        out.push('\n');
    }
    out
}

/// The inverse of `examples_to_text`; text before the first header is ignored.
pub fn text_to_examples(text: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut user: Option<String> = None;
    let mut current: Option<(bool, Vec<&str>)> = None;
    let mut flush = |cur: Option<(bool, Vec<&str>)>, user: &mut Option<String>| {
        if let Some((is_user, lines)) = cur {
            let body = lines.join("\n");
            if is_user {
                *user = Some(body);
            } else {
                out.push(Example {
                    user: user.take().unwrap_or_default(),
                    assistant: body,
                });
            }
        }
    };
    for line in text.lines() {
        match line.trim() {
            "### user" => flush(current.replace((true, Vec::new())), &mut user),
            "### assistant" => flush(current.replace((false, Vec::new())), &mut user),
            _ => {
                if let Some((_, lines)) = &mut current {
                    lines.push(line);
                }
            }
        }
    }
    flush(current, &mut user);
    out
}

fn apply_editor(state: &mut State) {
    let (Some(editor), Some(name)) = (&state.templates.editor, state.selected_template()) else {
        return;
    };
    let text = editor.lines().join("\n");
    let name = name.to_owned();
    let part = state.templates.part;
    let spec = state.templates.specs.entry(name.clone()).or_default();
    match part {
        Part::System => spec.system = Some(text),
        Part::User => spec.user = Some(text),
        Part::Examples => spec.examples = Some(text_to_examples(&text)),
    }
    if !state.templates.unsaved.contains(&name) {
        state.templates.unsaved.push(name);
    }
}

/// The editor's own commands: undo, redo, search, clipboard.
fn editor_action(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(editor) = &mut state.templates.editor else {
        return Vec::new();
    };
    let changed = match action {
        Action::Undo => editor.undo(),
        Action::Redo => editor.redo(),
        Action::Find => {
            state.templates.find = Some(String::new());
            false
        }
        Action::FindNext => {
            match state.templates.last_find.clone() {
                Some(query) => find_next(state, query),
                None => state.templates.find = Some(String::new()),
            }
            false
        }
        Action::Copy => {
            editor.copy();
            state.clipboard = Some(editor.yank_text()).filter(|t| !t.is_empty());
            false
        }
        Action::Cut => {
            let cut = editor.cut();
            state.clipboard = Some(editor.yank_text()).filter(|t| !t.is_empty());
            cut
        }
        Action::Paste => editor.paste(),
        _ => false,
    };
    if changed { edited(state) } else { Vec::new() }
}

/// Moves the editor's cursor to the next match of `query` (plain text, not a pattern),
/// wrapping around; says so when there is none.
fn find_next(state: &mut State, query: String) {
    let Some(editor) = &mut state.templates.editor else {
        return;
    };
    if query.is_empty() {
        return;
    }
    // Searching plain text: escape the query so `{{` and `.` mean themselves.
    let found =
        editor.set_search_pattern(regex::escape(&query)).is_ok() && editor.search_forward(false);
    if !found {
        state.toast(Level::Info, format!("no match for {query:?}"));
    }
    state.templates.last_find = Some(query);
}

fn edited(state: &mut State) -> Vec<Effect> {
    apply_editor(state);
    state.templates.edit_gen += 1;
    state.templates.preview_due_ms = Some(state.now_ms + PREVIEW_DEBOUNCE_MS);
    Vec::new()
}

fn templates_action(state: &mut State, action: Action) -> Vec<Effect> {
    let t = &mut state.templates;
    if let Some(view) = &mut t.versions {
        match action {
            Action::Up => view.selected = view.selected.saturating_sub(1),
            Action::Down => {
                view.selected = (view.selected + 1).min(view.list.len().saturating_sub(1));
            }
            Action::Back | Action::Versions => t.versions = None,
            Action::RestoreVersion | Action::Select => {
                let Some(rec) = view.list.get(view.selected) else {
                    return Vec::new();
                };
                let restored: Result<TemplateSpec, _> = serde_json::from_value(rec.content.clone());
                let name = view.template.clone();
                let hash = rec.hash.clone();
                t.versions = None;
                match restored {
                    Ok(spec) => {
                        t.specs.insert(name.clone(), spec);
                        if !t.unsaved.contains(&name) {
                            t.unsaved.push(name.clone());
                        }
                        t.edit_gen += 1;
                        t.preview_due_ms = Some(state.now_ms);
                        state.toast(
                            Level::Info,
                            format!("restored {name} to {}; ctrl-s saves it", short(&hash)),
                        );
                    }
                    Err(e) => state.toast(
                        Level::Error,
                        format!("cannot restore {}: {e}", short(&hash)),
                    ),
                }
            }
            _ => {}
        }
        return Vec::new();
    }
    if t.editor.is_some() {
        return match action {
            Action::Back => {
                apply_editor(state);
                state.templates.editor = None;
                Vec::new()
            }
            Action::Save => {
                apply_editor(state);
                save_effect(state)
            }
            _ => editor_action(state, action),
        };
    }
    let n_cases = state.session.cases.len();
    match action {
        Action::Up => {
            t.selected = t.selected.saturating_sub(1);
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::Down => {
            t.selected = (t.selected + 1).min(t.names.len().saturating_sub(1));
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::Left => t.part = Part::ALL[(part_index(t.part) + 2) % 3],
        Action::Right => t.part = Part::ALL[(part_index(t.part) + 1) % 3],
        Action::NextCase => {
            t.case = (t.case + 1) % n_cases.max(1);
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::PrevCase => {
            t.case = (t.case + n_cases.max(1) - 1) % n_cases.max(1);
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::Edit | Action::Select => {
            let Some(name) = state.selected_template() else {
                return Vec::new();
            };
            let spec = state.templates.specs.get(name).cloned().unwrap_or_default();
            let text = part_text(&spec, state.templates.part);
            let mut editor = TextArea::new(text.lines().map(str::to_owned).collect());
            editor.set_max_histories(200);
            state.templates.editor = Some(editor);
        }
        Action::Save => return save_effect(state),
        Action::Versions => {
            if let Some(name) = state.selected_template() {
                return vec![Effect::LoadVersions(name.to_owned())];
            }
        }
        Action::WriteSession => {
            if !state.templates.unsaved.is_empty() {
                state.toast(
                    Level::Error,
                    "save first (ctrl-s): unsaved edits are not written",
                );
                return Vec::new();
            }
            return vec![Effect::WriteSession {
                specs: state.templates.specs.clone(),
            }];
        }
        Action::StartRun => return run_action(state, Action::StartRun),
        _ => {}
    }
    Vec::new()
}

fn part_index(p: Part) -> usize {
    Part::ALL.iter().position(|x| *x == p).unwrap_or(0)
}

fn save_effect(state: &mut State) -> Vec<Effect> {
    let Some(name) = state.selected_template() else {
        return Vec::new();
    };
    vec![Effect::SaveTemplate {
        template: name.to_owned(),
        specs: state.templates.specs.clone(),
    }]
}

// ---- Run ----

fn run_action(state: &mut State, action: Action) -> Vec<Effect> {
    let n_variants = state.session.file.variants.len();
    let n_cases = state.session.cases.len().max(1);
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
                    .map_or(CaseFilter::FailedLastRun, |t| CaseFilter::Tag(t.clone())),
                CaseFilter::Tag(t) => {
                    let i = tags
                        .iter()
                        .position(|x| x == t)
                        .map_or(tags.len(), |i| i + 1);
                    tags.get(i)
                        .map_or(CaseFilter::FailedLastRun, |t| CaseFilter::Tag(t.clone()))
                }
                CaseFilter::FailedLastRun => CaseFilter::All,
            };
        }
        Action::NextCase => {
            r.case = (r.case + 1) % n_cases;
            r.live.clear();
        }
        Action::PrevCase => {
            r.case = (r.case + n_cases - 1) % n_cases;
            r.live.clear();
        }
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
            return vec![Effect::StartRun {
                variants,
                case_ids,
                specs: state.templates.specs.clone(),
            }];
        }
        Action::CancelRun if r.active.is_some() => {
            return vec![Effect::CancelRun];
        }
        _ => {}
    }
    Vec::new()
}

fn session_tags(state: &State) -> Vec<String> {
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
        CaseFilter::FailedLastRun => state
            .data
            .case_flags
            .get(c.id.as_str())
            .is_some_and(|(failed, _)| *failed),
    })
}

fn on_run_event(state: &mut State, ev: RunEvent) -> Vec<Effect> {
    match ev {
        RunEvent::Started {
            run_id,
            total,
            already_done,
        } => {
            state.run.active = Some(ActiveRun {
                run_id,
                total,
                done: already_done,
                errors: 0,
                cached: 0,
                started_ms: state.now_ms,
            });
            Vec::new()
        }
        RunEvent::Delta { key, text } => {
            let focused = state
                .session
                .cases
                .get(state.run.case)
                .map(|c| c.id.as_str());
            if key.repeat == 0 && focused == Some(key.case_id.as_str()) {
                // Sanitized as it arrives (it maps each character alone), so a frame draws
                // the streamed text without copying it.
                state
                    .run
                    .live
                    .entry(key.variant)
                    .or_default()
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
        RunEvent::Restart { key } => {
            if key.repeat == 0 {
                state.run.live.remove(&key.variant);
            }
            Vec::new()
        }
        RunEvent::CellDone {
            key, cached, error, ..
        } => {
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
        RunEvent::Finished { run_id, status } => {
            state.run.active = None;
            let text = match status {
                RunStatus::Complete => format!("run {run_id} complete"),
                _ => format!("run {run_id} interrupted; it can be resumed"),
            };
            state.toast(Level::Info, text);
            vec![Effect::LoadRun(run_id)]
        }
    }
}

// ---- Compare ----

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

fn current_diff_key(state: &State) -> Option<DiffKey> {
    let (left, right) = compare_texts(state)?;
    Some(DiffKey {
        left,
        right,
        mode: state.compare.mode.diff_mode(),
    })
}

fn refresh_diff(state: &mut State) -> Vec<Effect> {
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

fn compare_action(state: &mut State, action: Action) -> Vec<Effect> {
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
            if state.compare.right_run.is_some() {
                state.compare.right_run = None;
                state.data.earlier_outputs.clear();
            } else {
                let current = state.data.run.as_ref().map(|r| r.id.clone());
                match state
                    .data
                    .earlier
                    .iter()
                    .find(|id| Some(*id) != current.as_ref())
                {
                    Some(id) => {
                        state.compare.right = state.compare.left;
                        return vec![Effect::LoadEarlier(id.clone())];
                    }
                    None => state.toast(Level::Info, "no earlier run of this session"),
                }
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

// ---- Results ----

/// What the output filters need to know of one case's outputs.
#[derive(Default)]
struct Seen<'a> {
    failed: bool,
    first: Option<&'a str>,
    differ: bool,
}

/// (some output failed, the outputs differ) per case id, computed once when a run loads:
/// the outputs are visited once, by reference.
fn case_flags(
    outputs: &HashMap<(String, String), crate::store::OutputRecord>,
) -> HashMap<String, (bool, bool)> {
    let mut seen: HashMap<&str, Seen> = HashMap::new();
    for ((_, case_id), o) in outputs {
        let s = seen.entry(case_id.as_str()).or_default();
        s.failed |= !o.passed();
        match s.first {
            None => s.first = Some(&o.text),
            Some(first) => s.differ |= first != o.text,
        }
    }
    seen.into_iter()
        .map(|(id, s)| (id.to_owned(), (s.failed, s.differ)))
        .collect()
}

/// The grid's rows after filters: case indices. Called on every frame of Results and every
/// key there, with runs of 10k cases and more, so it reads only the per-case flags.
pub fn grid_rows(state: &State) -> Vec<usize> {
    let r = &state.results;
    let cases = &state.session.cases;
    let by_tag = |case: &crate::session::Case| r.tag.as_ref().is_none_or(|t| case.tags.contains(t));
    if !r.failed_only && !r.differing_only {
        return cases
            .iter()
            .enumerate()
            .filter(|(_, case)| by_tag(case))
            .map(|(i, _)| i)
            .collect();
    }
    cases
        .iter()
        .enumerate()
        .filter(|(_, case)| {
            let flags = state.data.case_flags.get(case.id.as_str());
            by_tag(case)
                && (!r.failed_only || flags.is_some_and(|f| f.0))
                && (!r.differing_only || flags.is_some_and(|f| f.1))
        })
        .map(|(i, _)| i)
        .collect()
}

fn results_action(state: &mut State, action: Action) -> Vec<Effect> {
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
        Action::Select => {
            if let Some(case) = grid_rows(state).get(state.results.row) {
                state.compare.case = *case;
                return goto(state, Screen::Compare);
            }
        }
        _ => {}
    }
    Vec::new()
}
