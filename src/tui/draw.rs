//! `draw(&State, &View, &mut Frame)`: pure, cheap, and the only place that knows layout.

use ratatui::Frame;
use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph};

use super::keymap::Context;
use super::layers::{Layer, stack};
use super::screens::compare::view::draw_compare;
use super::screens::owner::view::draw_owner;
use super::screens::rate::view::draw_screen as draw_rating;
use super::screens::results::view::draw_results;
use super::screens::run::view::draw_run;
use super::screens::templates::view::draw_templates;
use super::state::{Level, Overlay, Screen, State};
use super::strings;
use super::update::palette_matches;
pub use super::widgets::View;
use super::widgets::{centered, no_run};
use crate::sanitize::sanitize;

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
    for layer in stack(state) {
        paint(state, view, frame, layer, area, body);
    }
    resolve_wide_overlaps(frame.buffer_mut());
}

/// Paints one layer of the stack over what is below it.
fn paint(state: &State, view: &View, frame: &mut Frame, layer: Layer, area: Rect, body: Rect) {
    match layer {
        // Both are drawn inside the template's pane by the Templates screen.
        Layer::Editor | Layer::Find => {}
        Layer::Owner => {
            if let Some(o) = &state.owner {
                // Everything below the tabs line.
                let below = Rect {
                    y: area.y + 1.min(area.height),
                    height: area.height.saturating_sub(1),
                    ..area
                };
                frame.render_widget(Clear, below);
                frame.render_widget(Block::default().style(view.theme.text), below);
                draw_owner(o, view, frame, below);
            }
        }
        Layer::Rating => {
            if let Some(s) = &state.rating {
                frame.render_widget(Clear, area);
                frame.render_widget(Block::default().style(view.theme.text), area);
                draw_rating(s, view, frame, area);
            }
        }
        Layer::Picker => {
            if let Some(p) = &state.picker {
                super::screens::picker::view::draw_picker(p, view, frame, body);
            }
        }
        Layer::Toasts => draw_toasts(state, view, frame, body),
        Layer::Help => {
            if let Overlay::Help { scroll } = state.overlay {
                draw_help(state, view, frame, area, scroll);
            }
        }
        Layer::Palette => {
            if let Overlay::Palette { query, selected } = &state.overlay {
                draw_palette(
                    view,
                    frame,
                    area,
                    (query, *selected),
                    state.screen_context(),
                );
            }
        }
    }
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
    let owner = state.owner.is_some();
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
    // The run's progress first (it matters most while it lasts), then as many whole hints
    // as fit: a hint is dropped, never cut mid-word.
    let running = state
        .run
        .active
        .as_ref()
        .map(|a| format!(" running {}/{} ", a.done, a.total));
    let mut room =
        usize::from(area.width).saturating_sub(running.as_ref().map_or(0, |r| r.chars().count()));
    let mut spans = Vec::new();
    for (key, what) in strings::status_hints(view.keymap, state) {
        let key = format!(" {key} ");
        let what = format!("{what} ");
        let width = key.chars().count() + what.chars().count();
        if width > room {
            break;
        }
        room -= width;
        spans.push(Span::styled(key, view.theme.status_key));
        spans.push(Span::styled(what, view.theme.status_bar));
    }
    if let Some(running) = running {
        spans.push(Span::styled(running, view.theme.accent));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.status_bar),
        area,
    );
}

fn draw_toasts(state: &State, view: &View, frame: &mut Frame, body: Rect) {
    for (i, toast) in state.toasts.iter().rev().enumerate() {
        let text = sanitize(&toast.text);
        // Inside the screen's frame: off its bottom border and its right one.
        let inner = Rect {
            x: body.x + 1,
            y: body.y + 1,
            width: body.width.saturating_sub(2),
            height: body.height.saturating_sub(2),
        };
        let width = (Line::raw(text.as_ref()).width() as u16 + 2).min(inner.width);
        let y = inner.bottom().saturating_sub(1 + (i as u16));
        if y < inner.y || inner.height == 0 {
            break;
        }
        let rect = Rect::new(inner.right().saturating_sub(width), y, width, 1);
        let style = if toast.level == Level::Error {
            view.theme.toast_error
        } else {
            view.theme.toast_info
        };
        frame.render_widget(Clear, rect);
        frame.render_widget(Paragraph::new(format!(" {text} ")).style(style), rect);
    }
}

/// Where the help overlay sits in a frame of `area`.
pub fn help_rect(area: Rect) -> Rect {
    centered(area, 70, area.height.saturating_sub(4))
}

/// Lines of the help overlay for the screen context `ctx`: a title, the bindings and a
/// blank line for it and for the keys that work everywhere.
pub fn help_line_count(keymap: &super::keymap::Keymap, ctx: Context) -> u16 {
    let n = keymap.bindings(ctx).len() + keymap.bindings(Context::Global).len() + 4;
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn draw_help(state: &State, view: &View, frame: &mut Frame, area: Rect, scroll: u16) {
    let rect = help_rect(area);
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

fn draw_palette(
    view: &View,
    frame: &mut Frame,
    area: Rect,
    (query, selected): (&str, usize),
    context: Context,
) {
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
            // The key that does it here (or anywhere), so the palette also teaches keys.
            let key = [context, Context::Global]
                .into_iter()
                .find_map(|c| view.keymap.keys_for(c, *a).into_iter().next())
                .unwrap_or_default();
            ListItem::new(Line::from(vec![
                Span::styled(format!("{key:<8}"), view.theme.status_key),
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
