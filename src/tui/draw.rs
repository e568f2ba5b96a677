//! `draw(&State, &View, &mut Frame)`: pure, cheap, and the only place that knows layout.

use ratatui::Frame;
use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Cell, Clear, Gauge, List, ListItem, ListState,
    Paragraph, Row, Table, Wrap,
};

use super::keymap::{Context, Keymap};
use super::state::{CaseFilter, Level, Overlay, Part, Screen, SortBy, State, ViewMode};
use super::strings;
use super::theme::{Theme, border_set};
use super::update::{action_name, compare_texts, grid_rows, palette_matches, selected, short};
use crate::diff::{Span as DiffSpan, SpanKind};
use crate::providers::Role;
use crate::report::VariantReport;
use crate::sanitize::sanitize;
use crate::store::OutputRecord;

/// What drawing needs besides the state: configuration that never changes while running.
pub struct View<'a> {
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub ascii: bool,
}

impl View<'_> {
    pub(crate) fn block<'b>(&self, title: impl Into<Line<'b>>, focused: bool) -> Block<'b> {
        Block::default()
            .borders(Borders::ALL)
            .border_set(border_set(self.ascii))
            .border_style(if focused {
                self.theme.border_focused
            } else {
                self.theme.border
            })
            .title(title)
            .title_style(self.theme.title)
    }

    fn mark(&self, pass: bool) -> Span<'static> {
        match (pass, self.ascii) {
            (true, false) => Span::styled("✓", self.theme.pass),
            (false, false) => Span::styled("✗", self.theme.fail),
            (true, true) => Span::styled("+", self.theme.pass),
            (false, true) => Span::styled("x", self.theme.fail),
        }
    }
}

pub fn draw(state: &State, view: &View, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(Block::default().style(view.theme.text), area);
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(state, view, frame, tabs);
    match state.screen {
        Screen::Templates => draw_templates(state, view, frame, body),
        Screen::Run => draw_run(state, view, frame, body),
        Screen::Compare => draw_compare(state, view, frame, body),
        Screen::Results => draw_results(state, view, frame, body),
    }
    draw_status(state, view, frame, status);
    super::rate::draw::draw(state, view, frame, area);
    draw_toasts(state, view, frame, body);
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => draw_help(state, view, frame, area, *scroll),
        Overlay::Palette { query, selected } => draw_palette(view, frame, area, query, *selected),
    }
    resolve_wide_overlaps(frame.buffer_mut());
}

/// A double-width character hides the cell after it. ratatui 0.30's word wrapper can put
/// one in the last column of a wrapped paragraph, so that it covers the border (ratatui
/// issue 2679), and a toast or overlay can begin just after one. ratatui never sends a
/// hidden cell, so the terminal shows the wide character over the border and, once it is
/// overwritten, a blank where the border should be. Blanking the wide character keeps
/// whatever was drawn over its second half.
fn resolve_wide_overlaps(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let mut x = area.left();
        while x < area.right() {
            let sym = buf[(x, y)].symbol();
            // One byte is ASCII: one column (controls never get this far; see sanitize).
            let width = if sym.len() == 1 { 1 } else { sym.cell_width() };
            if width > 1 {
                let end = x.saturating_add(width);
                let covered = end > area.right()
                    || (x + 1..end).any(|h| !matches!(buf[(h, y)].symbol(), " " | ""));
                if !covered {
                    x = end;
                    continue;
                }
                buf[(x, y)].set_symbol(" ");
            }
            x += 1;
        }
    }
}

fn draw_tabs(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    let owner = state.rate.owner.is_some();
    for (i, s) in Screen::ALL.iter().enumerate() {
        let style = if *s == state.screen && !owner {
            view.theme.tab_active
        } else {
            view.theme.tab_inactive
        };
        spans.push(Span::styled(
            format!(" {} {} ", i + 1, strings::screen_name(*s)),
            style,
        ));
    }
    // The owner's view of the ratings (the rating screen itself draws no tabs: it is blind).
    spans.push(Span::styled(
        " 5 Ratings ",
        if owner {
            view.theme.tab_active
        } else {
            view.theme.tab_inactive
        },
    ));
    let right = match &state.data.run {
        Some(run) => format!("{} · run {} ", state.session.file.name, run.id),
        None => format!("{} · {} ", state.session.file.name, no_run(state)),
    };
    let used: usize = spans.iter().map(Span::width).sum();
    // Narrow terminals keep what matters most: which run is shown.
    let right = if used + right.chars().count() > area.width as usize {
        match &state.data.run {
            Some(run) => format!("run {} ", run.id),
            None => format!("{} ", no_run(state)),
        }
    } else {
        right
    };
    let pad = (area.width as usize).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(right, view.theme.muted));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.header),
        area,
    );
}

fn draw_status(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (key, what) in strings::hints(view.keymap, state.context()) {
        spans.push(Span::styled(format!(" {key} "), view.theme.status_key));
        spans.push(Span::styled(format!("{what} "), view.theme.status_bar));
    }
    if let Some(a) = &state.run.active {
        spans.push(Span::styled(
            format!(" running {}/{} ", a.done, a.total),
            view.theme.accent,
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.status_bar),
        area,
    );
}

fn draw_toasts(state: &State, view: &View, frame: &mut Frame, body: Rect) {
    for (i, toast) in state.toasts.iter().rev().enumerate() {
        let text = sanitize(&toast.text);
        let width = (text.chars().count() as u16 + 4).min(body.width);
        let y = body.bottom().saturating_sub(1 + (i as u16));
        if y < body.y {
            break;
        }
        let rect = Rect::new(body.right().saturating_sub(width), y, width, 1);
        let style = if toast.level == Level::Error {
            view.theme.toast_error
        } else {
            view.theme.toast_info
        };
        frame.render_widget(Clear, rect);
        frame.render_widget(Paragraph::new(format!(" {text} ")).style(style), rect);
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_help(state: &State, view: &View, frame: &mut Frame, area: Rect, scroll: u16) {
    let rect = centered(area, 70, area.height.saturating_sub(4));
    let ctx = state.screen_context();
    let mut lines = Vec::new();
    for (title, c) in [
        (strings::context_name(ctx), ctx),
        ("Everywhere", Context::Global),
    ] {
        lines.push(Line::styled(title.to_string(), view.theme.title));
        for (key, action) in view.keymap.bindings(c) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<12}"), view.theme.status_key),
                Span::raw(strings::describe(action)),
            ]));
        }
        lines.push(Line::raw(""));
    }
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(view.block(" Help — keys for this screen (esc closes) ", true))
            .scroll((scroll, 0)),
        rect,
    );
}

fn draw_palette(view: &View, frame: &mut Frame, area: Rect, query: &str, selected: usize) {
    let rect = centered(area, 60, 14);
    frame.render_widget(Clear, rect);
    let block = view.block(" Command ", true);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(format!(": {}", sanitize(query))), input);
    let matches = palette_matches(query);
    let items: Vec<ListItem> = matches
        .iter()
        .map(|a| {
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:<18}", action_name(*a)), view.theme.accent),
                Span::raw(strings::describe(*a)),
            ]))
        })
        .collect();
    let mut ls =
        ListState::default().with_selected(Some(selected.min(matches.len().saturating_sub(1))));
    frame.render_stateful_widget(
        List::new(items).highlight_style(view.theme.selection),
        list,
        &mut ls,
    );
}

// ---- Templates ----

fn draw_templates(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let t = &state.templates;
    let wide = area.width >= 110;
    let [left, rest] = Layout::horizontal([
        Constraint::Length(if wide { 28 } else { 22 }),
        Constraint::Min(20),
    ])
    .areas(area);
    let [list_area, vars_area] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);

    let items: Vec<ListItem> = t
        .names
        .iter()
        .map(|n| {
            let flag = if t.unsaved.contains(n) {
                " *"
            } else if t.unwritten.contains(n) {
                " +"
            } else {
                ""
            };
            let used_by: Vec<&str> = state
                .session
                .file
                .variants
                .iter()
                .filter(|v| &v.template == n)
                .map(|v| v.name.as_str())
                .collect();
            ListItem::new(vec![
                Line::raw(format!("{n}{flag}")),
                Line::styled(format!("  {}", used_by.join(", ")), view.theme.muted),
            ])
        })
        .collect();
    let mut ls = ListState::default().with_selected(Some(t.selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(view.block(" Templates ", t.editor.is_none()))
            .highlight_style(view.theme.selection),
        list_area,
        &mut ls,
    );

    let case = state.session.cases.get(t.case);
    let mut vars = Vec::new();
    if let Some(case) = case {
        for (k, v) in &case.vars {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vars.push(Line::from(vec![
                Span::styled(format!("{k}: "), view.theme.accent),
                Span::raw(sanitize(&value).into_owned()),
            ]));
        }
        if !case.tags.is_empty() {
            vars.push(Line::styled(
                format!("tags: {}", case.tags.join(", ")),
                view.theme.muted,
            ));
        }
    }
    let title = format!(
        " Case {}/{} {} ",
        t.case + 1,
        state.session.cases.len(),
        case.map_or("", |c| c.id.as_str())
    );
    frame.render_widget(
        Paragraph::new(vars)
            .wrap(Wrap { trim: false })
            .block(view.block(title, false)),
        vars_area,
    );

    let (editor_area, preview_area) = if wide {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(rest);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest);
        (a, b)
    };
    draw_template_part(state, view, frame, editor_area);
    draw_preview(state, view, frame, preview_area);

    if let Some(v) = &t.versions {
        let rect = centered(area, 72, 20);
        frame.render_widget(Clear, rect);
        let list_h = (v.list.len() as u16 + 2).clamp(3, rect.height / 2);
        let [rect, shown] =
            Layout::vertical([Constraint::Length(list_h), Constraint::Min(3)]).areas(rect);
        let content = v.list.get(v.selected).map(|r| version_text(&r.content));
        frame.render_widget(
            Paragraph::new(sanitize(content.as_deref().unwrap_or("")).into_owned())
                .wrap(Wrap { trim: false })
                .block(view.block(" This version ", false)),
            shown,
        );
        let items: Vec<ListItem> = v
            .list
            .iter()
            .map(|r| {
                ListItem::new(format!(
                    "{}  {}",
                    short(&r.hash),
                    crate::store::format_time(r.created_ms)
                ))
            })
            .collect();
        let mut ls = ListState::default().with_selected(Some(v.selected));
        frame.render_stateful_widget(
            List::new(items)
                .block(view.block(
                    format!(" Versions of {} (enter restores) ", v.template),
                    true,
                ))
                .highlight_style(view.theme.selection),
            rect,
            &mut ls,
        );
    }
}

/// A stored version's canonical form as a person reads it: each part under its name.
fn version_text(content: &serde_json::Value) -> String {
    let mut out = String::new();
    for key in ["system", "examples", "user", "output_schema"] {
        let Some(value) = content.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) if a.is_empty() => continue,
            other => other.to_string(),
        };
        out.push_str(&format!("── {key}\n{}\n", text.trim_end()));
    }
    out
}

fn part_name(p: Part) -> &'static str {
    match p {
        Part::System => "System",
        Part::Examples => "Examples",
        Part::User => "User",
    }
}

fn draw_template_part(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let t = &state.templates;
    let mut title = vec![Span::raw(" ")];
    for p in Part::ALL {
        let style = if p == t.part {
            view.theme.tab_active
        } else {
            view.theme.tab_inactive
        };
        title.push(Span::styled(format!(" {} ", part_name(p)), style));
    }
    title.push(Span::raw(if t.editor.is_some() {
        " editing "
    } else {
        " "
    }));
    if let Some(query) = &t.find {
        title.push(Span::styled(
            format!(" find: {}\u{2581} ", sanitize(query)),
            view.theme.tab_active,
        ));
    }
    let mut block = view.block(Line::from(title), t.editor.is_some());
    // The preview's error, when it is about this template and part, shown on the text it
    // is about: its line and what is wrong.
    if let (Some(name), Some(at)) = (state.selected_template(), &t.preview_error_at)
        && at.template == name
        && in_part(at.part, t.part)
    {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" ✗ line {}: {} ", at.line, sanitize(&at.detail)),
            view.theme.fail,
        )));
    }
    if let Some(editor) = &t.editor {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(editor, inner);
        return;
    }
    let text = state
        .selected_template()
        .and_then(|n| t.specs.get(n))
        .map(|spec| match t.part {
            Part::System => spec
                .system
                .clone()
                .unwrap_or_else(|| "(inherited or none)".into()),
            Part::User => spec.user.clone().unwrap_or_else(|| "(inherited)".into()),
            Part::Examples => match &spec.examples {
                Some(ex) => super::update::examples_to_text(ex),
                None => "(inherited or none)".into(),
            },
        })
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        area,
    );
}

/// Whether a template error's part is shown under the editor's `part` tab (the few-shot
/// examples are one text there).
fn in_part(error: crate::template::Part, part: Part) -> bool {
    use crate::template::Part as T;
    match part {
        Part::System => error == T::System,
        Part::User => error == T::User,
        Part::Examples => matches!(error, T::ExampleUser(_) | T::ExampleAssistant(_)),
    }
}

fn draw_preview(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let t = &state.templates;
    let stale = t.preview_gen < t.edit_gen;
    let title = if stale {
        " Preview (rendering...) "
    } else {
        " Preview: the exact messages "
    };
    let block = view.block(title, false);
    let text = match &t.preview {
        Ok(messages) => {
            let mut lines = Vec::new();
            for m in messages {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                let rule = if view.ascii { "--" } else { "──" };
                lines.push(Line::styled(format!("{rule} {role}"), view.theme.accent));
                for l in sanitize(&m.content).lines() {
                    lines.push(Line::raw(l.to_owned()));
                }
            }
            Text::from(lines)
        }
        Err(e) if e.is_empty() => Text::raw(""),
        Err(e) => Text::styled(sanitize(e).into_owned(), view.theme.fail),
    };
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        area,
    );
}

// ---- Run ----

fn draw_run(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let r = &state.run;
    let [left, right] = Layout::horizontal([
        Constraint::Length(30.min(area.width / 3)),
        Constraint::Min(20),
    ])
    .areas(area);
    let [vars_area, info_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(7)]).areas(left);
    let items: Vec<ListItem> = state
        .session
        .file
        .variants
        .iter()
        .zip(&r.chosen)
        .map(|(v, on)| {
            let mark = if *on { "[x]" } else { "[ ]" };
            ListItem::new(vec![
                Line::raw(format!("{mark} {}", v.name)),
                Line::styled(
                    format!("    {} · {}", v.template, v.model),
                    view.theme.muted,
                ),
            ])
        })
        .collect();
    let mut ls = ListState::default().with_selected(Some(r.cursor));
    frame.render_stateful_widget(
        List::new(items)
            .block(view.block(" Variants ", true))
            .highlight_style(view.theme.selection),
        vars_area,
        &mut ls,
    );
    let filter = match &r.filter {
        CaseFilter::All => "all cases".to_string(),
        CaseFilter::Tag(t) => format!("tag {t}"),
        CaseFilter::FailedLastRun => "failed last run".to_string(),
    };
    let mut info = vec![Line::from(vec![
        Span::styled("cases: ", view.theme.accent),
        Span::raw(format!("{filter} ({})", selected(state).count())),
    ])];
    if let Some(a) = &r.active {
        let secs = (state.now_ms.saturating_sub(a.started_ms)) as f64 / 1000.0;
        let rate = if secs > 0.0 {
            a.done as f64 / secs
        } else {
            0.0
        };
        info.push(Line::raw(format!(
            "{}/{} done · {rate:.1}/s",
            a.done, a.total
        )));
        info.push(Line::styled(
            format!("{} errors · {} cached", a.errors, a.cached),
            if a.errors > 0 {
                view.theme.fail
            } else {
                view.theme.muted
            },
        ));
    } else {
        info.push(Line::styled("idle", view.theme.muted));
    }
    let [info_text, gauge] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)])
        .areas(view.block(" Run ", false).inner(info_area));
    frame.render_widget(view.block(" Run ", false), info_area);
    frame.render_widget(Paragraph::new(info), info_text);
    if let Some(a) = &r.active {
        let ratio = if a.total == 0 {
            0.0
        } else {
            a.done as f64 / a.total as f64
        };
        frame.render_widget(
            Gauge::default()
                .ratio(ratio.clamp(0.0, 1.0))
                .gauge_style(view.theme.accent),
            gauge,
        );
    }

    // Output panes for the focused case: live text while streaming, stored output otherwise.
    let case = state.session.cases.get(r.case);
    let names: Vec<&str> = state
        .session
        .file
        .variants
        .iter()
        .zip(&r.chosen)
        .filter(|(_, on)| **on)
        .map(|(v, _)| v.name.as_str())
        .collect();
    let errors_h = if r.cell_errors.is_empty() { 0 } else { 4 };
    let [panes_area, err_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(errors_h)]).areas(right);
    if names.is_empty() {
        frame.render_widget(
            Paragraph::new("choose variants with space").block(view.block(" Outputs ", false)),
            panes_area,
        );
    } else {
        let stacked = panes_area.width < 100;
        let constraints = vec![Constraint::Ratio(1, names.len() as u32); names.len()];
        let areas = if stacked {
            Layout::vertical(constraints).split(panes_area)
        } else {
            Layout::horizontal(constraints).split(panes_area)
        };
        for (name, pane) in names.iter().zip(areas.iter()) {
            let stored = case.and_then(|c| state.output(name, &c.id));
            let text: std::borrow::Cow<str> = match (r.live.get(*name), stored) {
                (Some(live), _) => live.as_str().into(),
                (None, Some(o)) => crate::sanitize::output_shown(o).into(),
                (None, None) => "".into(),
            };
            let title = format!(" {name} · {} ", case.map_or("", |c| c.id.as_str()));
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(view.block(title, false)),
                *pane,
            );
        }
    }
    if errors_h > 0 {
        let lines: Vec<Line> = r
            .cell_errors
            .iter()
            .rev()
            .take(3)
            .map(|e| Line::styled(e.clone(), view.theme.fail))
            .collect();
        frame.render_widget(
            Paragraph::new(lines).block(view.block(" Errors ", false)),
            err_area,
        );
    }
}

// ---- Compare ----

/// Diff spans as lines, inserted and deleted words in the theme's diff styles.
pub(crate) fn spans_to_lines<'a>(lines: &'a [Vec<DiffSpan>], view: &View) -> Vec<Line<'a>> {
    lines
        .iter()
        .map(|spans| {
            Line::from(
                spans
                    .iter()
                    .map(|s| {
                        let style = match s.kind {
                            SpanKind::Equal => Style::default(),
                            SpanKind::Insert => view.theme.diff_insert,
                            SpanKind::Delete => view.theme.diff_delete,
                        };
                        Span::styled(s.text.as_str(), style)
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn draw_compare(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let c = &state.compare;
    let variants = state.run_variants();
    let Some(case) = state.session.cases.get(c.case) else {
        frame.render_widget(
            Paragraph::new("no cases").block(view.block(" Compare ", false)),
            area,
        );
        return;
    };
    let left_name = variants.get(c.left).cloned().unwrap_or_default();
    let right_name = variants.get(c.right).cloned().unwrap_or_default();
    let [head, body] = Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
    let inputs: Vec<String> = case
        .vars
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}: {}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect();
    let mode = match c.mode {
        ViewMode::Word => "word diff",
        ViewMode::Line => "line diff",
        ViewMode::Unified => "unified",
    };
    frame.render_widget(
        Paragraph::new(sanitize(&inputs.join(" · ")).into_owned()).block(view.block(
            format!(
                " Case {}/{} {} · {mode} ",
                c.case + 1,
                state.session.cases.len(),
                case.id
            ),
            false,
        )),
        head,
    );
    if state.data.run.is_none() {
        frame.render_widget(
            Paragraph::new(if state.data.loading {
                "Reading the newest run..."
            } else {
                "No run yet: press R to run the session, then come back."
            })
            .block(view.block(" Compare ", false)),
            body,
        );
        return;
    }
    if c.inspect {
        draw_inspector(
            state,
            view,
            frame,
            body,
            [&left_name, &right_name],
            &case.id,
        );
        return;
    }
    let right_label = match &c.right_run {
        Some(run) => format!("{right_name} @ {run}"),
        None => right_name.clone(),
    };
    let left_out = state.output(&left_name, &case.id);
    let right_out = match &c.right_run {
        Some(_) => state
            .data
            .earlier_outputs
            .get(&(right_name.clone(), case.id.clone())),
        None => state.output(&right_name, &case.id),
    };
    let Some(diff) = c.diff.as_ref().map(|(_, d)| d) else {
        let msg = if compare_texts(state).is_some() {
            "computing diff..."
        } else {
            "no outputs for this case in both variants"
        };
        frame.render_widget(
            Paragraph::new(msg).block(view.block(" Compare ", false)),
            body,
        );
        return;
    };
    let metrics_h = 5;
    if c.mode == ViewMode::Unified || body.width < 70 {
        let [text_area, m_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(metrics_h)]).areas(body);
        frame.render_widget(
            Paragraph::new(spans_to_lines(&diff.unified, view))
                .wrap(Wrap { trim: false })
                .scroll((c.scroll, 0))
                .block(view.block(format!(" {left_name} → {right_label} "), true)),
            text_area,
        );
        let [ml, mr] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(m_area);
        draw_metrics(view, frame, ml, &left_name, left_out);
        draw_metrics(view, frame, mr, &right_label, right_out);
        return;
    }
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    for (area, name, lines, out) in [
        (l, &left_name, &diff.left, left_out),
        (r, &right_label, &diff.right, right_out),
    ] {
        let [text_area, m_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(metrics_h)]).areas(area);
        frame.render_widget(
            Paragraph::new(spans_to_lines(lines, view))
                .wrap(Wrap { trim: false })
                .scroll((c.scroll, 0))
                .block(view.block(format!(" {name} "), true)),
            text_area,
        );
        draw_metrics(view, frame, m_area, name, out);
    }
}

/// The retrieval inspector: for the two variants on screen, what the focused case's
/// retrieval did (query, rewritten query, every retrieved passage with its score, which
/// were kept, which the output cited, each passage in full) and how the two kept sets
/// differ.
fn draw_inspector(
    state: &State,
    view: &View,
    frame: &mut Frame,
    area: Rect,
    names: [&String; 2],
    case_id: &str,
) {
    let records: Vec<Option<&crate::store::RetrievalRecord>> = names
        .iter()
        .map(|n| {
            state
                .data
                .retrievals
                .get(&((*n).clone(), case_id.to_owned()))
        })
        .collect();
    let mut lines: Vec<Line> = Vec::new();
    let kept = |r: Option<&crate::store::RetrievalRecord>| -> Vec<String> {
        r.map(|r| r.kept.iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default()
    };
    let (a, b) = (kept(records[0]), kept(records[1]));
    if records.iter().any(Option::is_some) {
        let only = |x: &[String], y: &[String]| -> String {
            let v: Vec<&str> = x
                .iter()
                .filter(|i| !y.contains(i))
                .map(String::as_str)
                .collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(", ")
            }
        };
        let both: Vec<&str> = a
            .iter()
            .filter(|i| b.contains(i))
            .map(String::as_str)
            .collect();
        lines.push(Line::styled("Kept passages compared", view.theme.header));
        lines.push(Line::raw(format!("only {}: {}", names[0], only(&a, &b))));
        lines.push(Line::raw(format!("only {}: {}", names[1], only(&b, &a))));
        lines.push(Line::raw(format!(
            "both: {}",
            if both.is_empty() {
                "-".to_owned()
            } else {
                both.join(", ")
            }
        )));
        lines.push(Line::raw(""));
    }
    for (name, rec) in names.iter().zip(&records) {
        lines.push(Line::styled((*name).clone(), view.theme.header));
        let Some(r) = rec else {
            lines.push(Line::raw(
                "  no retrieval: the variant has no `rag:` config",
            ));
            lines.push(Line::raw(""));
            continue;
        };
        if let Some(e) = &r.error {
            lines.push(Line::styled(
                format!("  retrieval failed: {e}"),
                view.theme.fail,
            ));
        }
        lines.push(Line::raw(format!(
            "  config {} · query: {}",
            r.config, r.query
        )));
        if let Some(q) = &r.rewritten {
            lines.push(Line::raw(format!("  rewritten: {q}")));
        }
        let cited: Vec<String> = state
            .output(name, case_id)
            .map(|o| {
                let pattern = r
                    .citation_pattern
                    .as_deref()
                    .unwrap_or(crate::spec::DEFAULT_CITATION_PATTERN);
                regex::Regex::new(pattern)
                    .map(|re| crate::eval::checks::cited_ids(&re, &o.text))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        for (i, p) in r.retrieved.iter().enumerate() {
            let is_kept = r.kept.iter().any(|k| k.id == p.id);
            let is_cited = cited.contains(&p.id);
            let rel = r.relevant.contains(&p.source);
            let marks = format!(
                "{}{}{}",
                if is_kept { " kept" } else { "" },
                if is_cited { " cited" } else { "" },
                if rel { " relevant" } else { "" }
            );
            let style = if is_kept {
                view.theme.pass
            } else {
                Style::default()
            };
            lines.push(Line::styled(
                format!("  {:>2}. {:.4}  {}{marks}", i + 1, p.score, p.id),
                style,
            ));
            if let Some(text) = state.data.passage_texts.get(&p.id) {
                for l in text.lines() {
                    lines.push(Line::raw(format!("      {l}")));
                }
            }
        }
        for id in cited
            .iter()
            .filter(|id| !r.kept.iter().any(|k| &k.id == *id))
        {
            lines.push(Line::styled(
                format!("  cited but not given: {id}"),
                view.theme.fail,
            ));
        }
        lines.push(Line::raw(""));
    }
    // Passages are corpus text and outputs model text: neither may drive the terminal.
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            let style = l.style;
            Line::styled(sanitize(&l.to_string()).into_owned(), style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((state.compare.scroll, 0))
            .block(view.block(" Retrieval (g: back to the diff) ", true)),
        area,
    );
}

fn draw_metrics(
    view: &View,
    frame: &mut Frame,
    area: Rect,
    name: &str,
    out: Option<&OutputRecord>,
) {
    let mut lines = Vec::new();
    if let Some(o) = out {
        lines.push(Line::styled(
            format!(
                "{} ms · ttft {} · {}→{} tok{} · {}",
                o.latency_ms,
                o.ttft_ms.map_or_else(|| "-".into(), |t| format!("{t} ms")),
                o.usage.input_tokens,
                o.usage.output_tokens,
                if o.usage.estimated { "~" } else { "" },
                o.cost_usd
                    .map_or_else(|| "no price".into(), |c| format!("${c:.6}")),
            ),
            view.theme.muted,
        ));
        let mut spans = Vec::new();
        for check in &o.checks {
            spans.push(view.mark(check.pass));
            spans.push(Span::raw(format!(" {}  ", check.name)));
        }
        lines.push(Line::from(spans));
        if let Some(fail) = o.checks.iter().find(|c| !c.pass) {
            lines.push(Line::styled(
                sanitize(&fail.reason).into_owned(),
                view.theme.fail,
            ));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(view.block(format!(" {name}: checks "), false)),
        area,
    );
}

// ---- Results ----

fn sorted_variants(state: &State) -> Vec<&VariantReport> {
    let Some(report) = &state.results.report else {
        return Vec::new();
    };
    let mut rows: Vec<&VariantReport> = report.variants.iter().collect();
    let key = |v: &VariantReport| -> f64 {
        match state.results.sort {
            SortBy::Variant => 0.0,
            SortBy::PassRate => -v.pass_all.rate.unwrap_or(0.0),
            SortBy::LatencyP50 => v.latency_p50_ms.unwrap_or(f64::MAX),
            SortBy::Cost => v.cost_usd.unwrap_or(0.0),
            SortBy::Errors => v.errors as f64,
        }
    };
    rows.sort_by(|a, b| key(a).total_cmp(&key(b)));
    rows
}

/// A duration in at most four characters, for a histogram bar's label: `850`, `2.5s`, `13s`.
pub fn short_ms(ms: u64) -> String {
    if ms < 1_000 {
        ms.to_string()
    } else if ms < 9_950 {
        format!("{:.1}s", ms as f64 / 1_000.0)
    } else if ms < 9_999_500 {
        let s = (ms + 500) / 1_000;
        if s < 1_000 {
            format!("{s}s")
        } else {
            format!("{}m", (s + 30) / 60)
        }
    } else {
        format!("{}h", (ms + 1_800_000) / 3_600_000)
    }
}

/// What the tab bar says while no run is shown.
fn no_run(state: &State) -> &'static str {
    if state.data.loading {
        "reading the newest run..."
    } else {
        "no run yet"
    }
}

fn draw_results(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    if state.results.report.is_none() {
        frame.render_widget(
            Paragraph::new(if state.data.loading {
                "Reading the newest run..."
            } else {
                "No run yet: press R to run the session."
            })
            .block(view.block(" Results ", false)),
            area,
        );
        return;
    }
    let variants = sorted_variants(state);
    let table_h = variants.len() as u16 + 3;
    let charts_h = if area.height >= 30 { 8 } else { 0 };
    let retrieval = state
        .results
        .report
        .as_ref()
        .map_or(&[][..], |r| r.retrieval.as_slice());
    let rag_h = if retrieval.is_empty() {
        0
    } else {
        retrieval.len() as u16 + 3
    };
    let [table_area, rag_area, charts_area, grid_area] = Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Length(rag_h),
        Constraint::Length(charts_h),
        Constraint::Min(3),
    ])
    .areas(area);
    if rag_h > 0 {
        draw_retrieval(view, frame, rag_area, retrieval);
    }
    let sort_name = match state.results.sort {
        SortBy::Variant => "variant",
        SortBy::PassRate => "pass rate",
        SortBy::LatencyP50 => "latency",
        SortBy::Cost => "cost",
        SortBy::Errors => "errors",
    };
    let header = Row::new([
        "variant",
        "pass all [95% CI]",
        "p50 ms",
        "p95 ms",
        "tok in/out",
        "cost $",
        "err",
    ])
    .style(view.theme.header);
    let rows: Vec<Row> = variants
        .iter()
        .map(|v| {
            let pass = match (v.pass_all.rate, v.pass_all.interval) {
                (Some(p), Some(i)) => format!(
                    "{:>3.0}% [{:.0}-{:.0}]",
                    p * 100.0,
                    i.low * 100.0,
                    i.high * 100.0
                ),
                _ => "-".into(),
            };
            Row::new(vec![
                Cell::from(v.variant.clone()),
                Cell::from(pass),
                Cell::from(
                    v.latency_p50_ms
                        .map_or_else(|| "-".into(), |x| format!("{x:.0}")),
                ),
                Cell::from(
                    v.latency_p95_ms
                        .map_or_else(|| "-".into(), |x| format!("{x:.0}")),
                ),
                Cell::from(format!("{}/{}", v.tokens_in, v.tokens_out)),
                Cell::from(v.cost_usd.map_or_else(|| "-".into(), |c| format!("{c:.5}"))),
                Cell::from(v.errors.to_string()).style(if v.errors > 0 {
                    view.theme.fail
                } else {
                    Style::default()
                }),
            ])
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(12),
                Constraint::Length(17),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(4),
            ],
        )
        .header(header)
        .block(view.block(format!(" Variants (sorted by {sort_name}) "), false)),
        table_area,
    );
    if charts_h > 0 {
        draw_charts(state, view, frame, charts_area, &variants);
    }
    draw_grid(state, view, frame, grid_area);
}

/// How each RAG variant retrieved and cited (means over cases with `relevant:` documents).
fn draw_retrieval(
    view: &View,
    frame: &mut Frame,
    area: Rect,
    rows: &[crate::report::RetrievalReport],
) {
    let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.2}"));
    let header = Row::new([
        "variant", "config", "cases", "hit@k", "recall@k", "MRR", "nDCG@k", "cite P", "cite R",
    ])
    .style(view.theme.header);
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            Row::new(vec![
                Cell::from(r.variant.clone()),
                Cell::from(r.config.clone()),
                Cell::from(format!("{}/{}", r.judged_cases, r.cases)),
                Cell::from(f(r.hit_at_k)),
                Cell::from(f(r.recall_at_k)),
                Cell::from(f(r.mrr)),
                Cell::from(f(r.ndcg_at_k)),
                Cell::from(f(r.citation_precision)),
                Cell::from(f(r.citation_recall)),
            ])
        })
        .collect();
    let k = rows.iter().map(|r| r.k).max().unwrap_or(0);
    frame.render_widget(
        Table::new(
            body,
            [
                Constraint::Min(12),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(7),
            ],
        )
        .header(header)
        .block(view.block(format!(" Retrieval (k = {k}, relevant documents) "), false)),
        area,
    );
}

fn draw_charts(
    state: &State,
    view: &View,
    frame: &mut Frame,
    area: Rect,
    variants: &[&VariantReport],
) {
    let [pass_area, hist_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let bars: Vec<Bar> = variants
        .iter()
        .map(|v| {
            let pct = (v.pass_all.rate.unwrap_or(0.0) * 100.0).round() as u64;
            Bar::default()
                .value(pct)
                .label(Line::raw(v.variant.clone()))
                .text_value(format!("{pct}%"))
        })
        .collect();
    // Bars as wide as the longest name when the panel has room, so names are not cut.
    let gap = 2u16;
    let longest = variants
        .iter()
        .map(|v| v.variant.chars().count())
        .max()
        .unwrap_or(0);
    let room = (pass_area.width.saturating_sub(2) + gap) / (variants.len().max(1) as u16);
    let bar_width = u16::try_from(longest)
        .unwrap_or(u16::MAX)
        .clamp(6, room.saturating_sub(gap).max(6));
    frame.render_widget(
        BarChart::default()
            .block(view.block(" Pass rate ", false))
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_width)
            .bar_gap(gap)
            .max(100)
            .bar_style(view.theme.pass),
        pass_area,
    );
    // Latency histogram over every output of the run, computed when the run loaded.
    let hist = &state.data.latency;
    let bars: Vec<Bar> = hist
        .counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Bar::default()
                .value(*n)
                .label(Line::raw(short_ms(hist.upper(i))))
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .block(view.block(" Latency (upper bound) ", false))
            .data(BarGroup::default().bars(&bars))
            .bar_width(4)
            .bar_gap(1)
            .bar_style(view.theme.accent),
        hist_area,
    );
}

fn draw_grid(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let variants = state.run_variants();
    let rows_idx = grid_rows(state);
    let mut filters = Vec::new();
    if state.results.failed_only {
        filters.push("failed".to_string());
    }
    if state.results.differing_only {
        filters.push("differing".to_string());
    }
    if let Some(t) = &state.results.tag {
        filters.push(format!("tag {t}"));
    }
    let title = format!(
        " Cases × variants ({} shown{}) · enter compares ",
        rows_idx.len(),
        if filters.is_empty() {
            String::new()
        } else {
            format!(", {}", filters.join(", "))
        }
    );
    let header = Row::new(std::iter::once("case".to_string()).chain(variants.iter().cloned()))
        .style(view.theme.header);
    // Only the visible window is built: a run may have thousands of cases.
    let visible = area.height.saturating_sub(3) as usize;
    let start = state.results.row.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = rows_idx
        .iter()
        .skip(start)
        .take(visible)
        .map(|&i| {
            let case = &state.session.cases[i];
            let mut cells = vec![Cell::from(case.id.clone())];
            for v in &variants {
                cells.push(match state.output(v, &case.id) {
                    Some(o) if o.error.is_some() => {
                        Cell::from(Span::styled("err", view.theme.fail))
                    }
                    Some(o) => {
                        let passed = o.checks.iter().filter(|c| c.pass).count();
                        Cell::from(Line::from(vec![
                            view.mark(o.passed()),
                            Span::raw(format!(" {passed}/{}", o.checks.len())),
                        ]))
                    }
                    None => Cell::from(Span::styled("·", view.theme.muted)),
                });
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Min(14)];
    widths.extend(std::iter::repeat_n(Constraint::Length(12), variants.len()));
    let mut ts = ratatui::widgets::TableState::default()
        .with_selected(Some(state.results.row - start.min(state.results.row)));
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .row_highlight_style(view.theme.selection.add_modifier(Modifier::BOLD))
            .block(view.block(title, true)),
        area,
        &mut ts,
    );
}

#[cfg(test)]
mod tests {
    use super::short_ms;

    #[test]
    fn durations_fit_a_four_cell_bar_label() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1.0s"),
            (2_536, "2.5s"),
            (9_949, "9.9s"),
            (9_950, "10s"),
            (10_146, "10s"),
            (999_499, "999s"),
            (999_500, "17m"),
            (9_999_499, "167m"),
            (36_000_000, "10h"),
        ];
        for (ms, want) in cases {
            assert_eq!(short_ms(ms), want, "{ms} ms");
            assert!(short_ms(ms).chars().count() <= 4);
        }
    }
}
