//! `update(&mut State, Msg) -> Vec<Effect>`: the only place state changes.

use super::action::Action;
use super::input::{Key, KeyCode, Modifiers, textarea_input};
use super::keymap::{Context, Keymap};
use super::layers::{Layer, stack};
use super::msg::{Effect, Msg};
use super::screens;
use super::screens::compare::update::{compare_action, current_diff_key, refresh_diff};
use super::screens::rate::RateMsg;
use super::screens::results::update::{case_flags, results_action};
use super::screens::run::update::{on_run_event, run_action};
pub use super::screens::templates::update::PREVIEW_DEBOUNCE_MS;
use super::screens::templates::update::{edited, find_here, templates_action};
use super::state::{LatencyHistogram, Level, Overlay, Screen, State, VersionsView, by_cell};
use super::widgets::short;

pub fn update(state: &mut State, keymap: &Keymap, msg: Msg) -> Vec<Effect> {
    // Scroll positions stay inside their content: after a key, a resize, a new diff.
    let clamp = matches!(msg, Msg::Key(_) | Msg::Resize(..) | Msg::DiffReady { .. });
    let effects = update_inner(state, keymap, msg);
    if clamp {
        clamp_scrolls(state, keymap);
    }
    effects
}

/// The frame's body (below the tabs, above the status line) for the state's terminal size.
pub fn body_area(state: &State) -> ratatui::layout::Rect {
    let (w, h) = state.size;
    ratatui::layout::Rect::new(0, 1.min(h), w, h.saturating_sub(2))
}

fn clamp_scrolls(state: &mut State, keymap: &Keymap) {
    let (w, h) = state.size;
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    let ctx = state.screen_context();
    if let Overlay::Help { scroll } = &mut state.overlay {
        let lines = super::draw::help_line_count(keymap, ctx);
        let max = lines.saturating_sub(super::draw::help_rect(area).height.saturating_sub(2));
        *scroll = (*scroll).min(max);
    }
    let max = super::screens::compare::view::max_scroll(state, body_area(state));
    state.compare.scroll = state.compare.scroll.min(max);
    if let Some(o) = &mut state.owner {
        let max = super::screens::owner::view::owner_max_scroll(o, w, h);
        o.scroll = o.scroll.min(max);
    }
}

fn update_inner(state: &mut State, keymap: &Keymap, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, keymap, key),
        Msg::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Msg::Paste(text) => {
            if screens::rate::update::on_paste(state, &text)
                || screens::owner::update::on_paste(state, &text)
            {
                return Vec::new();
            }
            if let Some(editor) = &mut state.templates.editor {
                // Many terminals send a pasted line break as CR: CR, LF and CRLF all break
                // the line.
                editor.insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
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
        Msg::CellOutput(out) => {
            screens::run::update::on_cell_output(state, &out);
            Vec::new()
        }
        Msg::RunLoaded {
            run,
            outputs,
            earlier,
        } => {
            // Every repeat: the grid, the filters, the histogram and Compare count them all,
            // as the variant table does.
            state.data.case_flags = case_flags(&outputs);
            state.data.latency = LatencyHistogram::of(&outputs);
            state.data.outputs = by_cell(outputs);
            state.data.loading = false;
            state.data.earlier = earlier;
            state.compare.repeat = state.compare.repeat.min(run.repeats.saturating_sub(1));
            state.data.run = Some(run);
            // Another run's retrievals never show beside this one's outputs.
            state.data.retrievals.clear();
            state.data.passage_texts.clear();
            let n = state.run_variants().len();
            state.compare.left = state.compare.left.min(n.saturating_sub(1));
            state.compare.right = state.compare.right.min(n.saturating_sub(1));
            // Two variants side by side, not one twice (a one-variant run shown before
            // pulls both sides to the first).
            if state.compare.right == state.compare.left && n > 1 {
                state.compare.right = (state.compare.left + 1) % n;
            }
            refresh_diff(state)
        }
        Msg::EarlierLoaded { run_id, outputs } => {
            state.compare.right_run = Some(run_id);
            state.data.earlier_outputs = by_cell(outputs);
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
        Msg::TemplateSaved {
            template,
            hash,
            for_run,
        } => {
            state.templates.unsaved.retain(|t| t != &template);
            let info = state.templates.info.entry(template.clone()).or_default();
            info.version = Some(hash.clone());
            info.draft_ms = None;
            if (info.file.is_none() || info.file_differs())
                && !state.templates.unwritten.contains(&template)
            {
                state.templates.unwritten.push(template.clone());
            }
            let text = if for_run {
                format!(
                    "ran the unsaved {template}: saved it as version {}",
                    short(&hash)
                )
            } else {
                format!("saved {template} as version {}", short(&hash))
            };
            state.toast(Level::Info, text);
            Vec::new()
        }
        Msg::RunsListed(runs) => screens::picker::update::on_listed(state, runs),
        Msg::TemplatesOpened(openings) => screens::templates::update::opened(state, openings),
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
            // The file now holds what the workbench shows (nothing unsaved can be written).
            for info in state.templates.info.values_mut() {
                info.file.clone_from(&info.version);
            }
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
        Msg::Rate(RateMsg::OwnerLoaded(report)) => {
            screens::owner::update::on_report(state, Ok(&report))
        }
        Msg::Rate(RateMsg::OwnerFailed(e)) => screens::owner::update::on_report(state, Err(e)),
        Msg::Rate(RateMsg::RatingsChanged) => {
            let mut effects = screens::owner::update::on_ratings_changed(state);
            effects.extend(screens::rate::update::on_ratings_changed(state));
            effects
        }
        Msg::Rate(msg) => screens::rate::update::on_msg(state, keymap, msg),
    }
}

fn on_tick(state: &mut State, now: u64) -> Vec<Effect> {
    state.now_ms = now;
    state.toasts.retain(|t| t.until_ms > now);
    match state.templates.preview_due_ms {
        Some(due) if due <= now => {
            state.templates.preview_due_ms = None;
            let mut effects: Vec<Effect> = preview_effect(state).into_iter().collect();
            // A pause in typing also keeps the edit as a draft, so even a killed process
            // or a dropped connection loses at most the last moment's keys.
            effects.extend(screens::templates::update::draft_effect(state));
            effects
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

fn on_key(state: &mut State, keymap: &Keymap, key: Key) -> Vec<Effect> {
    // The top layer that takes the key has it; below the layers, the screen's keymap.
    for layer in stack(state).into_iter().rev() {
        if let Some(effects) = layer_key(state, keymap, layer, key) {
            return effects;
        }
    }
    match keymap.lookup(state.context(), &key) {
        Some(action) => on_action(state, action),
        None => Vec::new(),
    }
}

/// What `layer` does with `key`; `None` when it lets the key through to what lies below.
fn layer_key(state: &mut State, keymap: &Keymap, layer: Layer, key: Key) -> Option<Vec<Effect>> {
    match layer {
        Layer::Rating => screens::rate::update::on_key(state, keymap, key),
        Layer::Owner => screens::owner::update::on_key(state, key),
        Layer::Picker => screens::picker::update::on_key(state, key),
        Layer::Toasts => None,
        Layer::Help => Some(
            keymap
                .lookup(Context::Help, &key)
                .map(|action| on_action(state, action))
                .unwrap_or_default(),
        ),
        Layer::Palette => Some(palette_key(state, key)),
        Layer::Find => Some(find_key(state, key)),
        Layer::Editor => Some(editor_key(state, keymap, key)),
    }
}

fn palette_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Overlay::Palette { query, selected } = &mut state.overlay else {
        return Vec::new();
    };
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
        KeyCode::Char(c) if !key.mods.contains(Modifiers::CTRL) => {
            query.push(c);
            *selected = 0;
        }
        _ => {}
    }
    Vec::new()
}

fn find_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(query) = &mut state.templates.find else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            // Back where the search started.
            state.templates.find = None;
            find_here(state, "");
        }
        KeyCode::Enter => {
            // The cursor is already on the match (the search is incremental); the query
            // stays for find-next.
            let query = std::mem::take(query);
            state.templates.find = None;
            if state.templates.find_count.is_some_and(|(_, n)| n == 0) {
                state.toast(Level::Info, format!("no match for {query:?}"));
            }
            if !query.is_empty() {
                state.templates.last_find = Some(query);
            }
        }
        KeyCode::Backspace => {
            query.pop();
            let query = query.clone();
            find_here(state, &query);
        }
        KeyCode::Char(c) if !key.mods.contains(Modifiers::CTRL) => {
            query.push(c);
            let query = query.clone();
            find_here(state, &query);
        }
        _ => {}
    }
    Vec::new()
}

fn editor_key(state: &mut State, keymap: &Keymap, key: Key) -> Vec<Effect> {
    if let Some(action) = keymap.lookup(Context::Editor, &key) {
        return on_action(state, action);
    }
    if let Some(editor) = &mut state.templates.editor
        && editor.input(textarea_input(key))
    {
        return edited(state);
    }
    Vec::new()
}

/// Palette entries matching the query (every word must appear in the name or description).
pub fn palette_matches(query: &str) -> Vec<Action> {
    let q = query.to_lowercase();
    Action::ALL
        .iter()
        .copied()
        .filter(|a| !a.is_rating())
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
            if let Some(effects) = screens::templates::update::quit_with_drafts(state) {
                return effects;
            }
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
        Action::GotoRate => screens::owner::update::open_owner(state),
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
    if screen == Screen::Compare {
        return super::screens::compare::update::enter(state);
    }
    state.screen = screen;
    Vec::new()
}
