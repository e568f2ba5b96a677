//! The Templates screen's `update`: its actions and the messages it reacts to.

use ratatui_textarea::TextArea;

use crate::session::{Example, TemplateSpec};
use crate::tui::action::Action;
use crate::tui::msg::Effect;
use crate::tui::screens::run::update::run_action;
use crate::tui::state::{Level, Section, State};
use crate::tui::widgets::short;

/// Pause in typing before the preview is rendered again.
pub const PREVIEW_DEBOUNCE_MS: u64 = 250;

pub(crate) fn part_text(spec: &TemplateSpec, part: Section) -> String {
    match part {
        Section::System => spec.system.clone().unwrap_or_default(),
        Section::User => spec.user.clone().unwrap_or_default(),
        Section::Examples => examples_to_text(spec.examples.as_deref().unwrap_or_default()),
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

pub(crate) fn apply_editor(state: &mut State) {
    let (Some(editor), Some(name)) = (&state.templates.editor, state.selected_template()) else {
        return;
    };
    let text = editor.lines().join("\n");
    let name = name.to_owned();
    let part = state.templates.part;
    let spec = state.templates.specs.entry(name.clone()).or_default();
    // Closing the editor (or saving) without a change leaves the template as it was: a
    // saved template stays saved, and unmarked.
    if part_text(spec, part).trim_end_matches('\n') == text.trim_end_matches('\n') {
        return;
    }
    match part {
        Section::System => spec.system = Some(text),
        Section::User => spec.user = Some(text),
        Section::Examples => spec.examples = Some(text_to_examples(&text)),
    }
    if !state.templates.unsaved.contains(&name) {
        state.templates.unsaved.push(name);
    }
}

/// The editor's own commands: undo, redo, search, clipboard.
pub(crate) fn editor_action(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(editor) = &mut state.templates.editor else {
        return Vec::new();
    };
    let mut copied = None;
    let changed = match action {
        Action::Undo => undo_word(editor),
        Action::Redo => editor.redo(),
        Action::Find => {
            let c = editor.cursor();
            state.templates.find_origin = (c.0, c.1);
            state.templates.find = Some(String::new());
            state.templates.find_count = None;
            false
        }
        Action::FindNext => {
            if let Some(query) = state.templates.last_find.clone() {
                find_next(state, query);
            } else {
                let c = editor.cursor();
                state.templates.find_origin = (c.0, c.1);
                state.templates.find = Some(String::new());
            }
            false
        }
        Action::Copy => {
            editor.copy();
            copied = Some(editor.yank_text());
            false
        }
        Action::Cut => {
            let cut = editor.cut();
            copied = Some(editor.yank_text());
            cut
        }
        Action::Paste => editor.paste(),
        _ => false,
    };
    let mut effects = if changed { edited(state) } else { Vec::new() };
    // What was copied also goes to the terminal's clipboard, an output like any other.
    effects.extend(copied.filter(|t| !t.is_empty()).map(Effect::Copy));
    effects
}

/// The one character typing `before` had that `after` lacks (a joined line is a newline);
/// `None` when the difference is anything else (a paste, a cut, a replaced selection).
fn one_char_removed(before: &[String], after: &[String]) -> Option<char> {
    if before.len() == after.len() + 1 {
        return Some('\n');
    }
    if before.len() != after.len() {
        return None;
    }
    let mut differ = before.iter().zip(after).filter(|(b, a)| b != a);
    let (b, a) = differ.next()?;
    if differ.next().is_some() || b.chars().count() != a.chars().count() + 1 {
        return None;
    }
    let at = b.chars().zip(a.chars()).take_while(|(x, y)| x == y).count();
    b.chars().nth(at)
}

/// Undoes a word at a time: the characters of the last word typed and the space before it
/// (12 ctrl-z for " Be concise." were too many); any other edit is one step.
fn undo_word(editor: &mut TextArea<'static>) -> bool {
    let mut changed = false;
    let mut in_word = false;
    loop {
        let before = editor.lines().to_vec();
        if !editor.undo() {
            break;
        }
        changed = true;
        match one_char_removed(&before, editor.lines()) {
            Some(c) if !c.is_whitespace() => in_word = true,
            // The space before the word ends the step (spaces typed after it do not).
            Some(_) if in_word => break,
            Some(_) => {}
            None => break,
        }
    }
    changed
}

/// Where `query` occurs in `lines` (plain text), as (row, char column), in order.
fn matches_of(lines: &[String], query: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if query.is_empty() {
        return out;
    }
    for (row, line) in lines.iter().enumerate() {
        for (byte, _) in line.match_indices(query) {
            out.push((row, line[..byte].chars().count()));
        }
    }
    out
}

/// Counts the matches of `query` and which one the cursor is on, for "3/7".
fn count_matches(state: &mut State, query: &str) {
    let Some(editor) = &state.templates.editor else {
        return;
    };
    let all = matches_of(editor.lines(), query);
    let cursor = editor.cursor();
    let cursor = (cursor.0, cursor.1);
    let at = all.iter().take_while(|m| **m <= cursor).count();
    state.templates.find_count = Some((at.max(usize::from(!all.is_empty())), all.len()));
}

/// Incremental find: moves the cursor to the first match of `query` at or after it, as the
/// query is typed.
pub(crate) fn find_here(state: &mut State, query: &str) {
    let Some(editor) = &mut state.templates.editor else {
        return;
    };
    let (row, col) = state.templates.find_origin;
    let jump = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    editor.move_cursor(ratatui_textarea::CursorMove::Jump(jump(row), jump(col)));
    if query.is_empty() {
        state.templates.find_count = None;
        return;
    }
    // Searching plain text: escape the query so `{{` and `.` mean themselves.
    if editor.set_search_pattern(regex::escape(query)).is_ok() {
        editor.search_forward(true);
    }
    count_matches(state, query);
}

/// Moves the editor's cursor to the next match of `query` (plain text, not a pattern),
/// wrapping around and saying so; says so when there is none.
pub(crate) fn find_next(state: &mut State, query: String) {
    let Some(editor) = &mut state.templates.editor else {
        return;
    };
    if query.is_empty() {
        return;
    }
    let before = editor.cursor();
    let found =
        editor.set_search_pattern(regex::escape(&query)).is_ok() && editor.search_forward(false);
    let after = editor.cursor();
    let (before, after) = ((before.0, before.1), (after.0, after.1));
    if !found {
        state.toast(Level::Info, format!("no match for {query:?}"));
    } else if after <= before {
        state.toast(
            Level::Info,
            format!("no more matches of {query:?} below: wrapped to the first"),
        );
    }
    count_matches(state, &query);
    state.templates.last_find = Some(query);
}

pub(crate) fn edited(state: &mut State) -> Vec<Effect> {
    apply_editor(state);
    state.templates.edit_gen += 1;
    state.templates.preview_due_ms = Some(state.now_ms + PREVIEW_DEBOUNCE_MS);
    Vec::new()
}

pub(crate) fn templates_action(state: &mut State, action: Action) -> Vec<Effect> {
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
            // The edits so far stay in the template; the editor moves to the other section.
            Action::NextSection | Action::PrevSection => {
                apply_editor(state);
                let t = &mut state.templates;
                let step = if action == Action::NextSection { 1 } else { 2 };
                t.part = Section::ALL[(part_index(t.part) + step) % 3];
                open_editor(state);
                Vec::new()
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
        Action::Left | Action::PrevSection => {
            t.part = Section::ALL[(part_index(t.part) + 2) % 3];
        }
        Action::Right | Action::NextSection => {
            t.part = Section::ALL[(part_index(t.part) + 1) % 3];
        }
        Action::NextCase => {
            t.case = (t.case + 1) % n_cases.max(1);
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::PrevCase => {
            t.case = (t.case + n_cases.max(1) - 1) % n_cases.max(1);
            t.preview_due_ms = Some(state.now_ms);
        }
        Action::Edit | Action::Select => open_editor(state),
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

/// Opens the editor on the selected template's current section.
fn open_editor(state: &mut State) {
    let Some(name) = state.selected_template() else {
        return;
    };
    let spec = state.templates.specs.get(name).cloned().unwrap_or_default();
    let text = part_text(&spec, state.templates.part);
    let mut editor = TextArea::new(text.lines().map(str::to_owned).collect());
    editor.set_max_histories(200);
    state.templates.editor = Some(editor);
}

pub(crate) fn part_index(p: Section) -> usize {
    Section::ALL.iter().position(|x| *x == p).unwrap_or(0)
}

pub(crate) fn save_effect(state: &mut State) -> Vec<Effect> {
    let Some(name) = state.selected_template() else {
        return Vec::new();
    };
    vec![Effect::SaveTemplate {
        template: name.to_owned(),
        specs: state.templates.specs.clone(),
    }]
}

/// Takes in which version each template opens on: the newest saved one when the session
/// file holds an older one, and the user's draft over it when they left one.
pub(crate) fn opened(
    state: &mut State,
    openings: Vec<crate::tui::msg::TemplateOpening>,
) -> Vec<Effect> {
    let mut restored = Vec::new();
    for o in openings {
        // Edits made before the store answered are newer than anything it holds.
        if state.templates.unsaved.contains(&o.template) {
            continue;
        }
        let info = state.templates.info.entry(o.template.clone()).or_default();
        info.file.clone_from(&o.file);
        info.version.clone_from(&o.file);
        if let Some((hash, spec)) = o.head {
            info.version = Some(hash);
            state.templates.specs.insert(o.template.clone(), spec);
            if !state.templates.unwritten.contains(&o.template) {
                state.templates.unwritten.push(o.template.clone());
            }
        }
        if let Some(draft) = o.draft {
            info.draft_ms = Some(draft.saved_ms);
            state.templates.specs.insert(o.template.clone(), draft.spec);
            state.templates.unsaved.push(o.template.clone());
            restored.push(format!(
                "{} ({})",
                o.template,
                crate::store::format_time(draft.saved_ms)
            ));
        }
    }
    state.templates.edit_gen += 1;
    state.templates.preview_due_ms = Some(state.now_ms);
    if !restored.is_empty() {
        state.toast(
            Level::Info,
            format!(
                "your unsaved draft of {} is back: ctrl-s saves it, v lists versions",
                restored.join(", ")
            ),
        );
    }
    Vec::new()
}

/// Keeps the selected template's unsaved text as the user's draft.
pub(crate) fn draft_effect(state: &State) -> Option<Effect> {
    let name = state.selected_template()?;
    if !state.templates.unsaved.iter().any(|t| t == name) {
        return None;
    }
    Some(Effect::SaveDraft {
        template: name.to_owned(),
        spec: state.templates.specs.get(name)?.clone(),
    })
}

/// Every unsaved template's text, as drafts to keep.
pub fn all_drafts(state: &State) -> Vec<Effect> {
    state
        .templates
        .unsaved
        .iter()
        .filter_map(|name| {
            Some(Effect::SaveDraft {
                template: name.clone(),
                spec: state.templates.specs.get(name)?.clone(),
            })
        })
        .collect()
}

/// The first quit with unsaved edits keeps them as drafts and says so; the next one quits.
pub(crate) fn quit_with_drafts(state: &mut State) -> Option<Vec<Effect>> {
    if state.templates.unsaved.is_empty() || state.templates.quit_warned {
        return None;
    }
    state.templates.quit_warned = true;
    apply_editor(state);
    let names = state.templates.unsaved.join(", ");
    state.toast(
        Level::Info,
        format!("unsaved {names} kept as your draft (ctrl-s saves a version); q again quits"),
    );
    Some(all_drafts(state))
}

/// The templates a variant of `variants` renders with that are unsaved: the variant's own
/// template and those it inherits from.
pub(crate) fn unsaved_used(state: &State, variants: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in &state.session.file.variants {
        if !variants.contains(&v.name) {
            continue;
        }
        let mut name = Some(v.template.clone());
        let mut hops = 0;
        while let Some(n) = name {
            if state.templates.unsaved.contains(&n) && !out.contains(&n) {
                out.push(n.clone());
            }
            name = state
                .templates
                .specs
                .get(&n)
                .and_then(|s| s.inherits.clone());
            // A cycle is the session checker's to report, not a reason to spin.
            hops += 1;
            if hops > 32 {
                break;
            }
        }
    }
    out
}
