//! Drawing the rating screen and the owner's view: pure.
//!
//! The rating screen shows no variant, model or provider name: the sides are "Left" and
//! "Right", outputs are sanitised and masked when the queue is opened, and nothing about
//! an item (gold or not) differs on screen.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::state::{Arrange, Pending, Phase, RatingScreen};
use crate::tui::widgets::{View, spans_to_lines};

/// Side by side from this width in `Arrange::Auto`; stacked below it.
pub const SIDE_BY_SIDE_MIN_WIDTH: u16 = 100;

pub fn draw_screen(s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
    let [header, body, message, legend] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(s, view, frame, header);
    draw_legend(view, frame, legend);
    match &s.phase {
        Phase::Loading => {
            frame.render_widget(
                Paragraph::new("Opening your queue...").style(view.theme.muted),
                body,
            );
            return;
        }
        Phase::Failed(e) => {
            let text = Text::from(vec![
                Line::styled("The rating queue could not be opened:", view.theme.fail),
                Line::raw(crate::sanitize::sanitize(e).into_owned()),
                Line::raw(""),
                Line::styled("q leaves", view.theme.muted),
            ]);
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body);
            return;
        }
        Phase::Ready => {}
    }
    draw_message(s, view, frame, message);
    let Some(item) = s.item() else {
        let text = if s.items.is_empty() {
            "Nothing is assigned to you: every comparison already has its raters.".to_owned()
        } else {
            format!(
                "All {} comparisons are rated. Thank you!\n\nu undoes the last one · q leaves",
                s.items.len()
            )
        };
        frame.render_widget(
            Paragraph::new(text)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: false })
                .block(view.block(" Done ", true)),
            body,
        );
        return;
    };
    let inputs_h = if s.show_inputs {
        let inner = body.width.saturating_sub(2).max(1) as usize;
        let lines: usize = item
            .inputs
            .iter()
            .map(|(k, v)| {
                v.split('\n')
                    .map(|l| (k.len() + 2 + l.chars().count()).div_ceil(inner).max(1))
                    .sum::<usize>()
            })
            .sum();
        (lines.clamp(1, 5) + 2) as u16
    } else {
        1
    };
    let [inputs, panes] =
        Layout::vertical([Constraint::Length(inputs_h), Constraint::Min(4)]).areas(body);
    let case = &item.assignment.comparison.case_id;
    if s.show_inputs {
        let lines: Vec<Line> = item
            .inputs
            .iter()
            .map(|(k, v)| {
                Line::from(vec![
                    Span::styled(format!("{k}: "), view.theme.accent),
                    Span::raw(v.as_str()),
                ])
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(view.block(format!(" Case {case} · i hides "), false)),
            inputs,
        );
    } else {
        frame.render_widget(
            Paragraph::new(format!(" Case {case} · inputs hidden (i shows)"))
                .style(view.theme.muted),
            inputs,
        );
    }
    let side = match s.arrange {
        Arrange::SideBySide => true,
        Arrange::Stacked => false,
        Arrange::Auto => panes.width >= SIDE_BY_SIDE_MIN_WIDTH,
    };
    let [left, right] = if side {
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(panes)
    } else {
        Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(panes)
    };
    let (left_text, right_text) = match &s.diff {
        Some(d) => (
            Text::from(spans_to_lines(&d.left, view)),
            Text::from(spans_to_lines(&d.right, view)),
        ),
        None => (
            Text::raw(item.left_text.as_str()),
            Text::raw(item.right_text.as_str()),
        ),
    };
    let n = s.rubric.len();
    for (pane, text, title, slot0) in [
        (left, left_text, " Left · h ", 0),
        (right, right_text, " Right · l ", n),
    ] {
        let scores = rubric_line(s, slot0, view);
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .scroll((s.scroll, 0))
                .block(view.block(title, true).title_bottom(scores)),
            pane,
        );
    }
    if s.help {
        draw_help(view, frame, area);
    }
}

/// ` clarity 4 · accuracy _ · tone _ ` for one side, the next slot to fill highlighted.
fn rubric_line<'a>(s: &RatingScreen, first_slot: usize, view: &View) -> Line<'a> {
    if s.rubric.is_empty() {
        return Line::raw("");
    }
    let mut spans = vec![Span::raw(" ")];
    for (d, dim) in s.rubric.iter().enumerate() {
        let slot = first_slot + d;
        let value = s
            .draft
            .scores
            .get(slot)
            .map_or_else(|| "_".to_owned(), u8::to_string);
        let style = if slot == s.draft.scores.len() {
            view.theme.status_key
        } else {
            view.theme.muted
        };
        if d > 0 {
            spans.push(Span::styled(" · ", view.theme.muted));
        }
        spans.push(Span::styled(format!("{} {value}", dim.key), style));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

fn draw_header(s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
    let left = vec![
        Span::styled(" Rate ", view.theme.tab_active),
        Span::styled(
            format!(
                " {} · rater {} ",
                s.session,
                crate::sanitize::sanitize(&s.rater)
            ),
            view.theme.header,
        ),
    ];
    let mut right = Vec::new();
    if s.phase == Phase::Ready {
        right.push(Span::styled(
            format!("{}/{} rated ", s.done_count(), s.items.len()),
            view.theme.header,
        ));
        if s.left_out > 0 {
            // Comparisons with an output missing or failed are not asked: say how many.
            right.push(Span::styled(
                format!("({} left out) ", s.left_out),
                view.theme.muted,
            ));
        }
    }
    match s.pending {
        Some(Pending::Save(_)) => right.push(Span::styled("saving... ", view.theme.warn)),
        Some(Pending::Undo) => right.push(Span::styled("undoing... ", view.theme.warn)),
        None if s.saved_mark => right.push(Span::styled(
            if view.ascii { "+ saved " } else { "✓ saved " },
            view.theme.pass,
        )),
        None => {}
    }
    let used: usize = left.iter().chain(&right).map(Span::width).sum();
    let mut spans = left;
    spans.push(Span::raw(
        " ".repeat((area.width as usize).saturating_sub(used)),
    ));
    spans.extend(right);
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.header),
        area,
    );
}

fn draw_message(s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
    let line = if let Some(note) = &s.note_edit {
        Line::from(vec![
            Span::styled(" note: ", view.theme.accent),
            Span::raw(crate::sanitize::sanitize(note).into_owned()),
            Span::styled("▏ enter keeps · esc drops", view.theme.muted),
        ])
    } else if let Some((text, error)) = &s.message {
        Line::styled(
            format!(" {text}"),
            if *error {
                view.theme.fail
            } else {
                view.theme.accent
            },
        )
    } else if let Some(note) = &s.draft.note {
        Line::from(vec![
            Span::styled(" note: ", view.theme.accent),
            Span::styled(
                crate::sanitize::sanitize(note).into_owned(),
                view.theme.muted,
            ),
        ])
    } else if !s.rubric.is_empty() && s.current.is_some() {
        let dims: Vec<&str> = s.rubric.iter().map(|d| d.key.as_str()).collect();
        Line::styled(
            format!(
                " optional scores: digits for {} — left, then right",
                dims.join(", ")
            ),
            view.theme.muted,
        )
    } else {
        Line::raw("")
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The rating keys, as `update` reads them.
pub const KEYS: &[(&str, &str)] = &[
    ("h ←", "left is better"),
    ("l →", "right is better"),
    ("t =", "tie"),
    ("x", "both are bad"),
    ("1-9", "rubric score (left dimensions, then right)"),
    ("backspace", "take back the last score"),
    ("n", "write a note for this comparison"),
    ("u", "undo the last rating"),
    ("s", "skip (it comes back at the end)"),
    ("w", "word diff on or off"),
    ("i", "case inputs shown or hidden"),
    ("v", "side by side / stacked / automatic"),
    ("j k pgdn pgup", "scroll the outputs"),
    ("q", "leave (every saved rating stays)"),
];

fn draw_legend(view: &View, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (key, what) in [
        ("h", "left"),
        ("l", "right"),
        ("t", "tie"),
        ("x", "both bad"),
        ("n", "note"),
        ("u", "undo"),
        ("s", "skip"),
        ("?", "keys"),
        ("q", "quit"),
    ] {
        spans.push(Span::styled(format!(" {key} "), view.theme.status_key));
        spans.push(Span::styled(format!("{what} "), view.theme.status_bar));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.status_bar),
        area,
    );
}

fn draw_help(view: &View, frame: &mut Frame, area: Rect) {
    let h = (KEYS.len() as u16 + 2).min(area.height);
    let w = 62.min(area.width);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<15}"), view.theme.status_key),
                Span::raw(*what),
            ])
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(view.block(" Rating keys (any key closes) ", true)),
        rect,
    );
}
