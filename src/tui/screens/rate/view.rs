//! Drawing the rating screen and the owner's view: pure.
//!
//! The rating screen shows no variant, model or provider name: the sides are "Left" and
//! "Right", outputs are sanitised and masked when the queue is opened, and nothing about
//! an item (gold or not) differs on screen.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::state::{Arrange, Pending, Phase, RatingScreen, Side};
use crate::tui::action::Action;
use crate::tui::keymap::Context;
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
    draw_legend(s, view, frame, legend);
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
                Line::styled(
                    format!("{} leaves", key_of(view, Action::Quit)),
                    view.theme.muted,
                ),
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
                "All {} comparisons are rated. Thank you!\n\n{} undoes the last one · {} leaves",
                s.items.len(),
                key_of(view, Action::UndoRating),
                key_of(view, Action::Quit)
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
                .block(view.block(
                    format!(
                        " Case {case} · {} hides ",
                        key_of(view, Action::ToggleInputs)
                    ),
                    false,
                )),
            inputs,
        );
    } else {
        frame.render_widget(
            Paragraph::new(format!(
                " Case {case} · inputs hidden ({} shows)",
                key_of(view, Action::ToggleInputs)
            ))
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
    for (pane, text, side, slot0) in [
        (left, left_text, Side::Left, 0),
        (right, right_text, Side::Right, n),
    ] {
        let (name, verdict) = match side {
            Side::Left => ("Left", Action::RateLeft),
            Side::Right => ("Right", Action::RateRight),
        };
        let title = format!(" {name} · {} ", key_of(view, verdict));
        let mut block = view
            .block(title, true)
            .title_bottom(rubric_line(s, slot0, view));
        let chosen = &s.draft.labels[side.index()];
        if !chosen.is_empty() {
            block = block.title_top(
                Line::styled(format!(" {} ", chosen.join(", ")), view.theme.warn)
                    .alignment(Alignment::Right),
            );
        }
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .scroll((s.scroll, 0))
                .block(block),
            pane,
        );
    }
    if let Some(side) = s.picking {
        draw_labels(s, side, view, frame, area);
    }
    if s.help {
        draw_help(s, view, frame, area);
    }
}

/// The first key the keymap gives `action` on the rating screen ("-" when unbound).
fn key_of(view: &View, action: Action) -> String {
    let keys = view.keymap.keys_for(Context::Rate, action);
    // A letter reads better in a legend than punctuation (`t` over `=`).
    keys.iter()
        .find(|k| k.chars().all(char::is_alphabetic))
        .or_else(|| keys.first())
        .cloned()
        .unwrap_or_else(|| "-".to_owned())
}

/// The label picker: each label with its key, checked when given to the side.
fn draw_labels(s: &RatingScreen, side: Side, view: &View, frame: &mut Frame, area: Rect) {
    let chosen = &s.draft.labels[side.index()];
    let mut lines: Vec<Line> = s
        .labels
        .iter()
        .zip(crate::rating::labels::KEYS.chars())
        .map(|(label, key)| {
            let on = chosen.contains(label);
            let mark = match (on, view.ascii) {
                (true, true) => "[x]",
                (true, false) => "[✓]",
                (false, _) => "[ ]",
            };
            Line::from(vec![
                Span::styled(format!(" {key} "), view.theme.status_key),
                Span::styled(
                    format!(" {mark} {label}"),
                    if on {
                        view.theme.warn
                    } else {
                        view.theme.muted
                    },
                ),
            ])
        })
        .collect();
    lines.push(Line::styled(
        " a label's key toggles it · esc or enter closes",
        view.theme.muted,
    ));
    let h = (lines.len() as u16 + 2).min(area.height);
    let w = 50.min(area.width);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let name = match side {
        Side::Left => "left",
        Side::Right => "right",
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(view.block(format!(" Labels of the {name} output "), true)),
        rect,
    );
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

/// The rating screen's actions with what they do, in help order; digits (rubric scores)
/// are fixed and listed apart.
pub const ACTIONS: &[(Action, &str)] = &[
    (Action::RateLeft, "left is better"),
    (Action::RateRight, "right is better"),
    (Action::RateTie, "tie"),
    (Action::RateBothBad, "both are bad"),
    (Action::TakeBackScore, "take back the last score"),
    (Action::LabelsLeft, "failure labels of the left output"),
    (Action::LabelsRight, "failure labels of the right output"),
    (Action::WriteNote, "write a note for this comparison"),
    (Action::UndoRating, "undo the last rating"),
    (Action::SkipComparison, "skip (it comes back at the end)"),
    (Action::ToggleWordDiff, "word diff on or off"),
    (Action::ToggleInputs, "case inputs shown or hidden"),
    (Action::CycleLayout, "side by side / stacked / automatic"),
    (Action::Down, "scroll the outputs down"),
    (Action::Up, "scroll the outputs up"),
    (Action::Quit, "leave (every saved rating stays)"),
];

fn draw_legend(s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    let picking = s.picking.is_some();
    let shown: &[(Action, &str)] = if picking {
        &[(Action::Back, "close labels")]
    } else {
        &[
            (Action::RateLeft, "left"),
            (Action::RateRight, "right"),
            (Action::RateTie, "tie"),
            (Action::RateBothBad, "both bad"),
            (Action::LabelsLeft, "labels"),
            (Action::WriteNote, "note"),
            (Action::UndoRating, "undo"),
            (Action::Help, "keys"),
            (Action::Quit, "quit"),
        ]
    };
    for (action, what) in shown {
        let mut key = key_of(view, *action);
        if *action == Action::LabelsLeft {
            key = format!("{key}{}", key_of(view, Action::LabelsRight));
        }
        spans.push(Span::styled(format!(" {key} "), view.theme.status_key));
        spans.push(Span::styled(format!("{what} "), view.theme.status_bar));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.status_bar),
        area,
    );
}

fn draw_help(_s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
    let mut rows: Vec<(String, &str)> = ACTIONS
        .iter()
        .map(|(action, what)| {
            let keys = view.keymap.keys_for(Context::Rate, *action);
            let keys = if keys.is_empty() {
                "-".to_owned()
            } else {
                keys.join(" ")
            };
            (keys, *what)
        })
        .collect();
    rows.insert(
        4,
        (
            "1-9 0".to_owned(),
            "rubric score (left dimensions, then right)",
        ),
    );
    let h = (rows.len() as u16 + 2).min(area.height);
    let w = 64.min(area.width);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let lines: Vec<Line> = rows
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
