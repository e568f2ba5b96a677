//! Drawing the rating screen and the owner's view: pure.
//!
//! The rating screen shows no variant, model or provider name: the sides are "Left" and
//! "Right", outputs are sanitised and masked when the queue is opened, and nothing about
//! an item (gold or not) differs on screen.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::state::{Arrange, OwnerView, Pending, Phase, RatingScreen};
use crate::rating::owner::OwnerReport;
use crate::tui::draw::{View, spans_to_lines};
use crate::tui::state::State;

/// Side by side from this width in `Arrange::Auto`; stacked below it.
pub const SIDE_BY_SIDE_MIN_WIDTH: u16 = 100;

/// Draws over the workbench when rating is open: the rating screen takes the whole
/// frame, the owner's view everything below the tabs line.
pub fn draw(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    if let Some(s) = &state.rate.screen {
        frame.render_widget(Clear, area);
        frame.render_widget(Block::default().style(view.theme.text), area);
        draw_screen(s, view, frame, area);
    } else if let Some(o) = &state.rate.owner {
        let body = Rect {
            y: area.y + 1.min(area.height),
            height: area.height.saturating_sub(1),
            ..area
        };
        frame.render_widget(Clear, body);
        frame.render_widget(Block::default().style(view.theme.text), body);
        draw_owner(o, view, frame, body);
    }
}

fn draw_screen(s: &RatingScreen, view: &View, frame: &mut Frame, area: Rect) {
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

// ---- owner's view ----

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The owner's view as text lines (also what a test reads).
pub fn owner_lines(r: &OwnerReport) -> Vec<String> {
    let mut out = Vec::new();
    let st = &r.stats;
    let raters = r.raters.len();
    out.push(format!(
        "{} ratings ({} gold) by {raters} rater{} on session {}",
        r.ratings,
        r.gold_ratings,
        if raters == 1 { "" } else { "s" },
        r.session
    ));
    out.push(String::new());
    out.push("Progress per rater".into());
    out.push(format!(
        "  {:<16} {:>9} {:>8} {:>6} {:>22} {:>9}",
        "rater", "done", "reserved", "gold", "gold accuracy", "median s"
    ));
    for p in &r.raters {
        let acc = match p.gold_accuracy.estimate {
            Some(e) => format!(
                "{} [{}, {}]",
                pct(e),
                pct(p.gold_accuracy.low),
                pct(p.gold_accuracy.high)
            ),
            None => "n/a".into(),
        };
        out.push(format!(
            "  {:<16} {:>9} {:>8} {:>6} {:>22} {:>9}",
            p.rater,
            format!("{}/{}", p.done, p.assigned),
            p.reserved,
            format!("{}/{}", p.gold_correct, p.gold_done),
            acc,
            p.median_seconds
                .map_or_else(|| "n/a".into(), |s| format!("{s:.1}"))
        ));
    }
    out.push(String::new());
    let ag = &st.agreement;
    out.push(format!(
        "Agreement on verdicts: {} units · Fleiss κ {} (n {}) · Krippendorff α {}",
        ag.units,
        num(ag.fleiss.kappa),
        ag.fleiss.items,
        num(ag.krippendorff_alpha_nominal)
    ));
    for c in &ag.cohen {
        out.push(format!(
            "  Cohen κ {} / {}: {} on {} shared",
            c.rater_1,
            c.rater_2,
            num(c.kappa),
            c.shared_units
        ));
    }
    for d in &r.rubric_kappa {
        let ordinal = ag.rubric.iter().find(|x| x.dimension == d.dimension);
        out.push(format!(
            "  {:<12} Fleiss κ {} (n {}) · Krippendorff α (ordinal) {} (n {})",
            d.dimension,
            num(d.fleiss.kappa),
            d.fleiss.items,
            num(ordinal.and_then(|x| x.krippendorff_alpha_ordinal)),
            ordinal.map_or(0, |x| x.units)
        ));
    }
    out.push(String::new());
    out.push(format!(
        "Win rates (of the first; ties and both-bad aside) from {} ratings{}",
        r.ratings - r.gold_ratings,
        if r.gold_ratings > 0 {
            format!(
                "; {} gold ratings left out (they measure raters, not variants)",
                r.gold_ratings
            )
        } else {
            String::new()
        }
    ));
    for p in &st.pairs {
        out.push(format!(
            "  {} vs {}: {}-{} ({} tie, {} both bad) · {} [{}, {}] · p {:.4} · Holm {:.4}{}",
            p.first,
            p.second,
            p.first_wins,
            p.second_wins,
            p.ties,
            p.both_bad,
            p.win_rate.estimate.map_or_else(|| "n/a".into(), pct),
            pct(p.win_rate.low),
            pct(p.win_rate.high),
            p.sign_test_p,
            p.holm_p,
            if p.significant { " · significant" } else { "" }
        ));
    }
    if let Some(rank) = &st.ranking {
        out.push(String::new());
        out.push("Ranking (Bradley-Terry with ties)".into());
        for v in &rank.variants {
            out.push(format!(
                "  {}. {:<20} log-strength {:+.3} [{:+.3}, {:+.3}]",
                v.rank, v.name, v.log_strength, v.interval.low, v.interval.high
            ));
        }
    }
    let pb = &st.position_bias;
    out.push(String::new());
    out.push(format!(
        "Position bias: the left side won {} of {} ({} [{}, {}]; 50% is none) · p {:.4}",
        pb.a_wins,
        pb.decisive,
        pb.rate.estimate.map_or_else(|| "n/a".into(), pct),
        pct(pb.rate.low),
        pct(pb.rate.high),
        pb.sign_test_p
    ));
    match r.leading_pair() {
        Some(p) => out.push(format!(
            "Leading pair {} vs {}: {}",
            p.first,
            p.second,
            match p.more_judgements_needed {
                Some(0) => "already significant (unadjusted)".to_owned(),
                Some(n) => format!(
                    "about {n} more judgements with a winner to reach p < {}",
                    st.alpha
                ),
                None => "no estimate (even, or beyond reach)".to_owned(),
            }
        )),
        None => out.push("No pair has a leader yet.".into()),
    }
    if !st.notes.is_empty() {
        out.push(String::new());
        for n in &st.notes {
            out.push(format!("note: {n}"));
        }
    }
    out
}

fn draw_owner(o: &OwnerView, view: &View, frame: &mut Frame, area: Rect) {
    let [body, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let text: Text = match (&o.lines, &o.error) {
        (_, Some(e)) => Text::styled(crate::sanitize::sanitize(e).into_owned(), view.theme.fail),
        (Some(lines), None) => Text::from(
            lines
                .iter()
                .map(|l| {
                    let heading = !l.starts_with(' ') && !l.is_empty();
                    if heading {
                        Line::styled(l.as_str(), view.theme.accent)
                    } else {
                        Line::raw(l.as_str())
                    }
                })
                .collect::<Vec<_>>(),
        ),
        (None, None) => Text::styled("Reading the ratings...", view.theme.muted),
    };
    frame.render_widget(
        Paragraph::new(text)
            .scroll((o.scroll, 0))
            .block(view.block(" Ratings · owner's view ", true)),
        body,
    );
    let mut spans = Vec::new();
    if let Some(name) = &o.rater_prompt {
        spans.push(Span::styled(" rate as: ", view.theme.accent));
        spans.push(Span::raw(crate::sanitize::sanitize(name).into_owned()));
        spans.push(Span::styled(
            "▏ enter starts · esc cancels",
            view.theme.muted,
        ));
    } else {
        for (key, what) in [
            ("r", "refresh"),
            ("R", "rate as..."),
            ("j/k", "scroll"),
            ("esc", "back"),
        ] {
            spans.push(Span::styled(format!(" {key} "), view.theme.status_key));
            spans.push(Span::styled(format!("{what} "), view.theme.status_bar));
        }
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(view.theme.status_bar),
        status,
    );
}
