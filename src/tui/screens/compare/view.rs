//! The Compare screen's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::update::compare_texts;
use crate::sanitize::sanitize;
use crate::store::OutputRecord;
use crate::tui::state::{State, ViewMode};
use crate::tui::widgets::{View, spans_to_lines};

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
