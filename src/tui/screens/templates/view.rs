//! The Templates screen's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, List, ListItem, ListState, Paragraph, Wrap};

use crate::providers::Role;
use crate::sanitize::sanitize;
use crate::tui::state::{Section, State};
use crate::tui::widgets::{View, centered, fit_list, fit_title, fit_words, short};

pub(crate) fn draw_templates(state: &State, view: &View, frame: &mut Frame, area: Rect) {
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
            // Whole variant names, then "+N more": the list is narrow.
            let room = usize::from(list_area.width.saturating_sub(4));
            ListItem::new(vec![
                Line::raw(format!("{n}{flag}")),
                Line::styled(
                    format!("  {}", fit_list(&used_by, ", ", room)),
                    view.theme.muted,
                ),
            ])
        })
        .collect();
    let mut ls = ListState::default().with_selected(Some(t.selected));
    // The marks beside names, explained where they are, as long as one is shown.
    let mut block = view.block(" Templates ", t.editor.is_none());
    if !t.unsaved.is_empty() || !t.unwritten.is_empty() {
        let legend = [
            " * unsaved · + not in file ",
            " *unsaved +not in file ",
            " *unsaved +to write ",
        ]
        .into_iter()
        .find(|l| l.chars().count() + 2 <= usize::from(list_area.width))
        .unwrap_or(" * + ");
        block = block.title_bottom(Line::styled(legend, view.theme.muted));
    }
    frame.render_stateful_widget(
        List::new(items)
            .block(block)
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
    // The case id goes in the title when it fits whole, else on the panel's first line.
    let count = format!("Case {}/{}", t.case + 1, state.session.cases.len());
    let id = case.map_or("", |c| c.id.as_str());
    let title = fit_title(&[&count, id], vars_area.width);
    if !id.is_empty() && title.trim() == count {
        vars.insert(0, Line::styled(sanitize(id).into_owned(), view.theme.title));
    }
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
        let info = t.info.get(&v.template);
        let items: Vec<ListItem> = v
            .list
            .iter()
            .map(|r| {
                let mut marks = Vec::new();
                if info.and_then(|i| i.version.as_ref()) == Some(&r.hash) {
                    marks.push("shown");
                }
                if info.and_then(|i| i.file.as_ref()) == Some(&r.hash) {
                    marks.push("session file");
                }
                let marks = if marks.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", marks.join(", "))
                };
                ListItem::new(format!(
                    "{}  {}{marks}",
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
pub(crate) fn version_text(content: &serde_json::Value) -> String {
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

pub(crate) fn part_name(p: Section) -> &'static str {
    match p {
        Section::System => "System",
        Section::Examples => "Examples",
        Section::User => "User",
    }
}

pub(crate) fn draw_template_part(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    let t = &state.templates;
    let mut title = vec![Span::raw(" ")];
    for p in Section::ALL {
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
    // The search prompt goes on the bottom border, where it has the pane's whole width.
    let find_prompt = t.find.as_ref().map(|query| {
        let count = match t.find_count {
            Some((_, 0)) if !query.is_empty() => " no match".to_owned(),
            Some((at, n)) => format!(" {at}/{n}"),
            None => String::new(),
        };
        Line::styled(
            format!(" find: {}\u{2581}{count} ", sanitize(query)),
            view.theme.tab_active,
        )
    });
    if let (None, Some(_), Some((at, n))) = (&t.find, &t.last_find, t.find_count)
        && t.editor.is_some()
        && n > 0
    {
        title.push(Span::styled(format!(" match {at}/{n} "), view.theme.muted));
    }
    let used: usize = title.iter().map(Span::width).sum();
    let mut block = view.block(Line::from(title), t.editor.is_some());
    if let Some(name) = state.selected_template() {
        let room = (area.width as usize).saturating_sub(used + 4);
        if let Some(label) = version_label(state, name, room) {
            block = block.title(Line::styled(label, view.theme.muted).right_aligned());
        }
    }
    // The preview's error, when it is about this template and part, shown on the text it
    // is about: its line and what is wrong.
    if let Some(prompt) = find_prompt {
        block = block.title_bottom(prompt);
    } else if let (Some(name), Some(at)) = (state.selected_template(), &t.preview_error_at)
        && at.template == name
        && in_part(at.part, t.part)
    {
        // Whole words on the border; the preview below has the whole message.
        let text = format!("✗ line {}: {}", at.line, sanitize(&at.detail));
        let text = fit_words(&text, usize::from(area.width).saturating_sub(4));
        block = block.title_bottom(Line::from(Span::styled(
            format!(" {text} "),
            view.theme.fail,
        )));
    }
    if let Some(editor) = &t.editor {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(editor, inner);
        // The terminal's own cursor at the edit point (screen readers and input methods
        // follow it), from where the editor scrolled to while drawing.
        let at = editor.screen_cursor();
        let (top, left) = editor.scroll_offset();
        let row = u16::try_from(at.row)
            .unwrap_or(u16::MAX)
            .saturating_sub(top);
        let col = u16::try_from(at.col)
            .unwrap_or(u16::MAX)
            .saturating_sub(left);
        if t.find.is_none() && row < inner.height && col < inner.width {
            frame.set_cursor_position((inner.x + col, inner.y + row));
        }
        return;
    }
    let text = state
        .selected_template()
        .and_then(|n| t.specs.get(n))
        .map(|spec| match t.part {
            Section::System => spec
                .system
                .clone()
                .unwrap_or_else(|| "(inherited or none)".into()),
            Section::User => spec.user.clone().unwrap_or_else(|| "(inherited)".into()),
            Section::Examples => match &spec.examples {
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

/// Which version the shown text is, whether it is an unsaved draft, and whether the
/// session file holds another version (`W` writes this one): the longest form that fits
/// `room` columns, `None` when even the shortest does not.
pub(crate) fn version_label(state: &State, name: &str, room: usize) -> Option<String> {
    let t = &state.templates;
    let info = t.info.get(name)?;
    let version = info.version.as_deref().map(short);
    let unsaved = t.unsaved.iter().any(|n| n == name);
    let forms: Vec<String> = match (unsaved, version) {
        (true, Some(v)) => vec![
            format!(" unsaved draft of {v} "),
            format!(" draft of {v} "),
            " draft ".into(),
        ],
        (true, None) => vec![" unsaved draft ".into(), " draft ".into()],
        (false, Some(v)) if info.file_differs() => vec![
            format!(" {v} · session file differs, W writes it "),
            format!(" {v} · file differs, W writes it "),
            format!(" {v} · file differs "),
            format!(" {v} ≠ file "),
            format!(" {v} "),
        ],
        (false, Some(v)) => vec![format!(" {v} (session file) "), format!(" {v} ")],
        (false, None) => return None,
    };
    forms.into_iter().find(|f| f.chars().count() <= room)
}

/// Whether a template error's part is shown under the editor's `part` tab (the few-shot
/// examples are one text there).
pub(crate) fn in_part(error: crate::template::Part, part: Section) -> bool {
    use crate::template::Part as T;
    match part {
        Section::System => error == T::System,
        Section::User => error == T::User,
        Section::Examples => matches!(error, T::ExampleUser(_) | T::ExampleAssistant(_)),
    }
}

pub(crate) fn draw_preview(state: &State, view: &View, frame: &mut Frame, area: Rect) {
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
