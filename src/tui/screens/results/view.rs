//! The Results screen's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Cell, Paragraph, Row, Table};

use super::update::grid_rows;
use crate::report::VariantReport;
use crate::tui::state::{LatencyHistogram, SortBy, State};
use crate::tui::widgets::View;

pub fn sorted_variants(state: &State) -> Vec<&VariantReport> {
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

pub(crate) fn draw_results(state: &State, view: &View, frame: &mut Frame, area: Rect) {
    if state.results.report.is_none() {
        frame.render_widget(
            Paragraph::new(if state.data.loading {
                "Reading the newest run..."
            } else {
                "No run yet: press r on the Run screen (2) to run the session."
            })
            .block(view.block(" Results ", false)),
            area,
        );
        return;
    }
    let variants = sorted_variants(state);
    let table_h = variants.len() as u16 + 3;
    // Compact charts (one row less of bars) on a small terminal, none on a tiny one.
    let charts_h = match area.height {
        30.. => 8,
        20.. => 6,
        _ => 0,
    };
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
    let training = state
        .results
        .report
        .as_ref()
        .map_or(&[][..], |r| r.training.as_slice());
    // Each run's line wraps inside the box rather than losing its hashes at the edge; the
    // box is as tall as the wrapped lines.
    let lineage = (!training.is_empty()).then(|| {
        let lines: Vec<Line> = lineage_lines(training)
            .into_iter()
            .map(Line::from)
            .collect();
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true })
    });
    let tune_h = lineage.as_ref().map_or(0, |p| {
        u16::try_from(p.line_count(area.width.saturating_sub(2)))
            .unwrap_or(u16::MAX)
            .saturating_add(2)
    });
    // The grid is what the screen is for: it keeps room for a few cases. What does not fit
    // besides it goes, the fine-tuned box first, then retrieval, then the charts; the grid's
    // title says what a taller terminal would show (and `loupe report` has it all).
    let mut free = area.height.saturating_sub(table_h + MIN_GRID_H);
    let mut keep = |h: u16| {
        if h <= free {
            free -= h;
            h
        } else {
            0
        }
    };
    let charts_h = keep(charts_h);
    let rag_shown = keep(rag_h);
    let tune_shown = keep(tune_h);
    let hidden: Vec<&str> = [
        (rag_h > 0 && rag_shown == 0).then_some("retrieval"),
        (tune_h > 0 && tune_shown == 0).then_some("fine-tuned lineage"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (rag_h, tune_h) = (rag_shown, tune_shown);
    let [table_area, rag_area, tune_area, charts_area, grid_area] = Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Length(rag_h),
        Constraint::Length(tune_h),
        Constraint::Length(charts_h),
        Constraint::Min(3),
    ])
    .areas(area);
    if rag_h > 0 {
        draw_retrieval(view, frame, rag_area, retrieval);
    }
    if tune_h > 0
        && let Some(p) = lineage
    {
        frame.render_widget(
            p.block(view.block(" Fine-tuned (training run · data manifest sha256) ", false)),
            tune_area,
        );
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
    draw_grid(state, view, frame, grid_area, &hidden);
}

pub(crate) fn draw_charts(
    state: &State,
    view: &View,
    frame: &mut Frame,
    area: Rect,
    variants: &[&VariantReport],
) {
    let [pass_area, hist_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    // The number goes under each bar with its name: an empty (0%) bar has no inside to
    // hold it, and every bar must say its value.
    let labels: Vec<String> = variants
        .iter()
        .map(|v| {
            let pct = (v.pass_all.rate.unwrap_or(0.0) * 100.0).round() as u64;
            // The number first: a narrow bar cuts the name, never the value.
            format!("{pct}% {}", v.variant)
        })
        .collect();
    let bars: Vec<Bar> = variants
        .iter()
        .zip(&labels)
        .map(|(v, label)| {
            let pct = (v.pass_all.rate.unwrap_or(0.0) * 100.0).round() as u64;
            Bar::default()
                .value(pct)
                .label(Line::raw(label.clone()))
                .text_value(String::new())
        })
        .collect();
    // Bars as wide as the longest label when the panel has room, so labels are not cut.
    let gap = 2u16;
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
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
    // One unit for the whole axis, named in the title: seconds once the slowest bucket
    // reaches one, else milliseconds.
    let seconds = hist.max >= 1_000;
    let bars: Vec<Bar> = hist
        .counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Bar::default()
                .value(*n)
                .label(Line::raw(axis_label(hist.upper(i), seconds)))
        })
        .collect();
    let title = if seconds {
        " Latency, s (upper bound) "
    } else {
        " Latency, ms (upper bound) "
    };
    frame.render_widget(
        BarChart::default()
            .block(view.block(title, false))
            .data(BarGroup::default().bars(&bars))
            // Every bucket in view: bars narrow to fit (labels are at most three wide).
            .bar_width(
                ((hist_area.width.saturating_sub(2) + 1) / LatencyHistogram::BUCKETS as u16)
                    .saturating_sub(1)
                    .clamp(3, 4),
            )
            .bar_gap(1)
            .bar_style(view.theme.accent),
        hist_area,
    );
}

/// `hidden`: the boxes left out for want of rows, named in the title.
pub(crate) fn draw_grid(
    state: &State,
    view: &View,
    frame: &mut Frame,
    area: Rect,
    hidden: &[&str],
) {
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
    let repeats = state.repeats();
    let mut title = format!(
        " Cases × variants ({} shown{})",
        rows_idx.len(),
        if filters.is_empty() {
            String::new()
        } else {
            format!(", {}", filters.join(", "))
        }
    );
    // What a cell counts: its checks, or with repeats the repeats that passed them all.
    // Whole phrases, dropped when the frame has no room for them.
    let extras = [
        (repeats > 1).then(|| format!(" · repeats passed/{repeats}")),
        (!hidden.is_empty()).then(|| format!(" · taller shows {}", hidden.join(", "))),
        Some(" · enter compares".to_owned()),
    ];
    for extra in extras.into_iter().flatten() {
        if title.chars().count() + extra.chars().count() + 3 <= usize::from(area.width) {
            title.push_str(&extra);
        }
    }
    title.push(' ');
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
                cells.push(grid_cell(view, state.outputs(v, &case.id), repeats));
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

/// One cell of the grid. One repeat: a mark and the checks it passed (`✓ 3/3`, `err`).
/// Several: a mark that is a pass only if every repeat passed, and how many did (`✗ 2/3`),
/// with `err` when some repeat got no answer.
fn grid_cell<'a>(view: &View, outputs: &[crate::store::OutputRecord], repeats: u32) -> Cell<'a> {
    match outputs {
        [] => Cell::from(Span::styled("·", view.theme.muted)),
        [o] if repeats < 2 && o.error.is_some() => Cell::from(Span::styled("err", view.theme.fail)),
        [o] if repeats < 2 => {
            let passed = o.checks.iter().filter(|c| c.pass).count();
            Cell::from(Line::from(vec![
                view.mark(o.passed()),
                Span::raw(format!(" {passed}/{}", o.checks.len())),
            ]))
        }
        many => {
            let errors = many.iter().filter(|o| o.error.is_some()).count();
            if errors == many.len() {
                return Cell::from(Span::styled("err", view.theme.fail));
            }
            let passed = many.iter().filter(|o| o.passed()).count();
            let mut spans = vec![
                view.mark(passed == many.len()),
                Span::raw(format!(" {passed}/{}", many.len())),
            ];
            if errors > 0 {
                spans.push(Span::styled(" err", view.theme.fail));
            }
            Cell::from(Line::from(spans))
        }
    }
}

/// Where each fine-tuned variant's model came from: one line per variant, shortest facts
/// first (training run, data manifest, rows, base, model), so a narrow terminal keeps them.
/// Rows a Results grid keeps at least (borders and header included) before the boxes above it.
const MIN_GRID_H: u16 = 7;

/// One line per fine-tuned variant: its run, data, base, model and served copy, last loss.
fn lineage_lines(rows: &[crate::tune::Lineage]) -> Vec<String> {
    let short = |s: &str| s.chars().take(8).collect::<String>();
    rows.iter()
        .map(|l| {
            let text = match &l.record {
                None => format!(
                    "{}: no training run {:?} in this store",
                    l.variant, l.training_run
                ),
                Some(r) => {
                    format!(
                        "{}: {} {} · data {} ({} rows, {}) · base {} · model {} · loss {}",
                        l.variant,
                        r.name,
                        crate::tune::shown_status(r),
                        short(&r.data.manifest_sha256),
                        r.data.rows_out,
                        r.data.source,
                        short(&r.base.sha256),
                        r.output
                            .as_ref()
                            .map_or_else(|| "-".into(), |o| short(&o.sha256)),
                        r.epochs
                            .last()
                            .map_or_else(|| "-".into(), |e| format!("{:.3}", e.train_loss)),
                    ) + &r.served.as_ref().map_or_else(String::new, |o| {
                        format!(" · served Q8_0 {}", short(&o.sha256))
                    })
                }
            };
            crate::sanitize::sanitize(&text).into_owned()
        })
        .collect()
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

/// A latency bucket's bound in the axis's one unit, in at most four characters: `850`
/// (ms), `0.8`, `12.5` is `13` (s).
pub fn axis_label(ms: u64, seconds: bool) -> String {
    if !seconds {
        return ms.to_string();
    }
    if ms < 9_950 {
        format!("{:.1}", ms as f64 / 1_000.0)
    } else {
        ((ms + 500) / 1_000).to_string()
    }
}
