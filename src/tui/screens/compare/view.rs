//! The Compare screen's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::update::{compare_outputs, compare_texts};
use crate::sanitize::sanitize;
use crate::store::OutputRecord;
use crate::tui::state::{State, ViewMode};
use crate::tui::widgets::{View, spans_to_lines};

/// The case's inputs on one line, sanitized: `name: value · name: value`.
fn case_inputs(case: &crate::session::Case) -> String {
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
    sanitize(&inputs.join(" · ")).into_owned()
}

/// Rows the case head takes at the top of the Compare body `area` (its inputs wrapped, at
/// most a third of the body, and the borders), and how many lines the wrapped inputs have.
pub fn head_height(state: &State, area: Rect) -> (u16, u16) {
    let Some(case) = state.session.cases.get(state.compare.case) else {
        return (3, 1);
    };
    let lines = Paragraph::new(case_inputs(case))
        .wrap(Wrap { trim: false })
        .line_count(area.width.saturating_sub(2));
    let lines = u16::try_from(lines).unwrap_or(u16::MAX);
    (lines.clamp(1, (area.height / 3).max(1)) + 2, lines)
}

pub(crate) fn draw_compare(state: &State, view: &View, frame: &mut Frame, area: Rect) {
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
    let (head_h, input_lines) = head_height(state, area);
    let [head, body] =
        Layout::vertical([Constraint::Length(head_h), Constraint::Min(3)]).areas(area);
    let mode = match c.mode {
        ViewMode::Word => "word diff",
        ViewMode::Line => "line diff",
        ViewMode::Unified => "unified",
    };
    // Long inputs wrap at word boundaries; what the head has no room for is counted.
    let mut block = view.block(
        format!(
            " Case {}/{} {} · {mode} ",
            c.case + 1,
            state.session.cases.len(),
            case.id
        ),
        false,
    );
    let hidden = input_lines.saturating_sub(head_h.saturating_sub(2));
    if hidden > 0 {
        block = block.title_bottom(Line::styled(
            format!(" +{hidden} more lines "),
            view.theme.muted,
        ));
    }
    frame.render_widget(
        Paragraph::new(case_inputs(case))
            .wrap(Wrap { trim: false })
            .block(block),
        head,
    );
    if state.data.run.is_none() {
        frame.render_widget(
            Paragraph::new(if state.data.loading {
                "Reading the newest run..."
            } else {
                "No run yet: press r on the Run screen (2) to run the session, then come back."
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
    // Beside the output diff: how the two variants' passages differ (`g` shows them).
    let records =
        [&left_name, &right_name].map(|n| state.data.retrievals.get(&(n.clone(), case.id.clone())));
    let body = match PassageSets::of(&records) {
        Some(sets) if c.right_run.is_none() && body.height > 8 => {
            let [line, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(body);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(" passages ", view.theme.header),
                    Span::raw(sanitize(&format!(
                        "only {left_name}: {} · only {right_name}: {} · both: {} (g inspects)",
                        sets.only_left, sets.only_right, sets.both
                    ))),
                ])),
                line,
            );
            rest
        }
        _ => body,
    };
    let [left_out, right_out] = compare_outputs(state);
    let right_name = match &c.right_run {
        Some(run) => format!("{right_name} @ {run}"),
        None => right_name,
    };
    // The text panes say which repeat each side shows, when its run has more than one.
    let left_label = format!("{left_name}{}", repeat_label(state, left_out, false));
    let right_label = format!(
        "{right_name}{}",
        repeat_label(state, right_out, c.right_run.is_some())
    );
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
    // Expanded (`c`), the checks take all but a few rows of text.
    let metrics_h = if c.checks_expanded {
        body.height.saturating_sub(6).max(5)
    } else {
        5
    };
    if c.mode == ViewMode::Unified || body.width < 70 {
        let [text_area, m_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(metrics_h)]).areas(body);
        frame.render_widget(
            Paragraph::new(spans_to_lines(&diff.unified, view))
                .wrap(Wrap { trim: false })
                .scroll((c.scroll, 0))
                .block(view.block(format!(" {left_label} → {right_label} "), true)),
            text_area,
        );
        let [ml, mr] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(m_area);
        draw_metrics(view, frame, ml, &left_name, left_out);
        draw_metrics(view, frame, mr, &right_name, right_out);
        return;
    }
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    for (area, (name, label), lines, out) in [
        (l, (&left_name, &left_label), &diff.left, left_out),
        (r, (&right_name, &right_label), &diff.right, right_out),
    ] {
        let [text_area, m_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(metrics_h)]).areas(area);
        frame.render_widget(
            Paragraph::new(spans_to_lines(lines, view))
                .wrap(Wrap { trim: false })
                .scroll((c.scroll, 0))
                .block(view.block(format!(" {label} "), true)),
            text_area,
        );
        draw_metrics(view, frame, m_area, name, out);
    }
}

/// ` · repeat 2/3` for a side's output when its run has several repeats, else nothing. The
/// earlier run of a regression view counts its own repeats.
fn repeat_label(state: &State, out: Option<&OutputRecord>, earlier: bool) -> String {
    let Some(o) = out else {
        return String::new();
    };
    let of = if earlier {
        state
            .data
            .earlier_outputs
            .get(&(o.variant.clone(), o.case_id.clone()))
            .and_then(|list| list.last())
            .map_or(1, |last| last.repeat + 1)
    } else {
        state.repeats()
    };
    if of > 1 {
        format!(" · repeat {}/{of}", o.repeat + 1)
    } else {
        String::new()
    }
}

pub(crate) fn draw_metrics(
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
        // Failures first, each with why; then the passed ones, by name only.
        for check in o.checks.iter().filter(|c| !c.pass) {
            lines.push(Line::from(vec![
                view.mark(false),
                Span::raw(format!(" {}: ", check.name)),
                Span::styled(sanitize(&check.reason).into_owned(), view.theme.fail),
            ]));
        }
        let mut spans = Vec::new();
        for check in o.checks.iter().filter(|c| c.pass) {
            spans.push(view.mark(true));
            spans.push(Span::raw(format!(" {}  ", check.name)));
        }
        if !spans.is_empty() {
            lines.push(Line::from(spans));
        }
    }
    let title = match out {
        Some(o) if !o.checks.is_empty() => {
            let failed = o.checks.iter().filter(|c| !c.pass).count();
            format!(" {name}: {failed} of {} checks failed ", o.checks.len())
        }
        _ => format!(" {name}: checks "),
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(view.block(title, false)),
        area,
    );
}

/// How the kept passages of two variants' retrievals for one case differ, as id lists
/// ("-" for none). `None` when neither variant retrieved.
struct PassageSets {
    only_left: String,
    only_right: String,
    both: String,
}

impl PassageSets {
    fn of(records: &[Option<&crate::store::RetrievalRecord>]) -> Option<Self> {
        if records.iter().all(Option::is_none) {
            return None;
        }
        let kept = |i: usize| -> Vec<&str> {
            records
                .get(i)
                .copied()
                .flatten()
                .map(|r| r.kept.iter().map(|p| p.id.as_str()).collect())
                .unwrap_or_default()
        };
        let (a, b) = (kept(0), kept(1));
        let list = |v: Vec<&str>| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(", ")
            }
        };
        Some(Self {
            only_left: list(a.iter().filter(|i| !b.contains(i)).copied().collect()),
            only_right: list(b.iter().filter(|i| !a.contains(i)).copied().collect()),
            both: list(a.iter().filter(|i| b.contains(i)).copied().collect()),
        })
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
    if let Some(sets) = PassageSets::of(&records) {
        lines.push(Line::styled("Kept passages compared", view.theme.header));
        lines.push(Line::raw(format!("only {}: {}", names[0], sets.only_left)));
        lines.push(Line::raw(format!("only {}: {}", names[1], sets.only_right)));
        lines.push(Line::raw(format!("both: {}", sets.both)));
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
        let shown =
            crate::tui::state::repeat_of(state.outputs(name, case_id), state.compare.repeat);
        let cited: Vec<String> = shown
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

/// How far the diff can scroll in `area` (the frame's body) before it would show only
/// blank rows: the wrapped height of the longest side less the rows it is shown in. Uses
/// the layout `draw_compare` uses.
pub fn max_scroll(state: &State, area: Rect) -> u16 {
    let c = &state.compare;
    let Some((_, diff)) = &c.diff else {
        return 0;
    };
    if c.inspect {
        return u16::MAX;
    }
    let body_h = area.height.saturating_sub(head_height(state, area).0);
    let text_h = body_h.saturating_sub(5 + 2);
    let plain = |lines: &[Vec<crate::diff::Span>]| -> Vec<Line<'static>> {
        lines
            .iter()
            .map(|spans| Line::raw(spans.iter().map(|s| s.text.as_str()).collect::<String>()))
            .collect()
    };
    let height = |lines: &[Vec<crate::diff::Span>], width: u16| {
        let p = Paragraph::new(plain(lines)).wrap(Wrap { trim: false });
        u16::try_from(p.line_count(width.saturating_sub(2))).unwrap_or(u16::MAX)
    };
    let content = if c.mode == ViewMode::Unified || area.width < 70 {
        height(&diff.unified, area.width)
    } else {
        let half = area.width / 2;
        height(&diff.left, half).max(height(&diff.right, area.width - half))
    };
    content.saturating_sub(text_h)
}
