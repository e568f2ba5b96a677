//! The Run screen's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, List, ListItem, ListState, Paragraph, Wrap};

use super::update::selected;
use crate::sanitize::expand_tabs;
use crate::tui::state::{CaseFilter, State};
use crate::tui::widgets::View;

/// Which version of its template a variant will run: an unsaved draft (its own template's
/// or one it inherits from; the run saves it as a version first) or a stored version.
fn template_version(state: &State, v: &crate::session::VariantSpec) -> Option<String> {
    let used =
        crate::tui::screens::templates::update::unsaved_used(state, std::slice::from_ref(&v.name));
    if !used.is_empty() {
        return Some("unsaved draft".into());
    }
    state
        .templates
        .info
        .get(&v.template)
        .and_then(|i| i.version.as_deref())
        .map(|h| format!("version {}", crate::tui::widgets::short(h)))
}

pub(crate) fn draw_run(state: &State, view: &View, frame: &mut Frame, area: Rect) {
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
            let mut lines = vec![
                Line::raw(format!("{mark} {}", v.name)),
                Line::styled(
                    format!("    {} · {}", v.template, v.model),
                    view.theme.muted,
                ),
            ];
            lines.extend(
                template_version(state, v)
                    .map(|t| Line::styled(format!("    {t}"), view.theme.muted)),
            );
            ListItem::new(lines)
        })
        .collect();
    // The list scrolls with the cursor; the border says how many variants are out of view
    // above and below, so none is hidden without a word.
    let heights: Vec<usize> = items.iter().map(ListItem::height).collect();
    let mut ls = ListState::default().with_selected(Some(r.cursor));
    let mut block = view.block(" Variants ", true);
    let inner = block.inner(vars_area);
    frame.render_stateful_widget(
        List::new(items).highlight_style(view.theme.selection),
        inner,
        &mut ls,
    );
    let above = ls.offset().min(heights.len());
    let mut room = usize::from(inner.height);
    let shown = heights[above..]
        .iter()
        .take_while(|h| {
            let fits = **h <= room;
            room = room.saturating_sub(**h);
            fits
        })
        .count();
    let below = heights.len() - above - shown;
    if above > 0 {
        block = block.title(
            Line::styled(format!(" +{above} more above "), view.theme.muted).right_aligned(),
        );
    }
    if below > 0 {
        block = block.title_bottom(
            Line::styled(format!(" +{below} more below "), view.theme.muted).right_aligned(),
        );
    }
    frame.render_widget(block, vars_area);
    let filter = match &r.filter {
        CaseFilter::All => "all cases".to_string(),
        CaseFilter::Tag(t) => format!("tag {t}"),
        CaseFilter::Errored => "errored".to_string(),
        CaseFilter::FailedCheck => "failed a check".to_string(),
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
    frame.render_widget(Paragraph::new(info).wrap(Wrap { trim: false }), info_text);
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
    // A model that does not answer (its cells wait), or the last run's summary.
    let notices: Vec<&String> = if r.active.is_some() {
        r.unreachable.values().collect()
    } else {
        r.summary.iter().collect()
    };
    // Wrapped, not cut, at most four rows.
    let notices_h = if notices.is_empty() { 0 } else { 4 };
    let notices = Paragraph::new(
        notices
            .iter()
            .map(|l| Line::styled(format!(" {l}"), view.theme.fail))
            .collect::<Vec<_>>(),
    )
    .wrap(Wrap { trim: false });
    let notices_h = notices_h.min(u16::try_from(notices.line_count(right.width)).unwrap_or(4));
    let [notices_area, panes_area, err_area] = Layout::vertical([
        Constraint::Length(notices_h),
        Constraint::Min(3),
        Constraint::Length(errors_h),
    ])
    .areas(right);
    if notices_h > 0 {
        frame.render_widget(notices, notices_area);
    }
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
            let id = case.map_or("", |c| c.id.as_str());
            // While a run goes, its own cells (never the previous run's outputs).
            let (text, status): (std::borrow::Cow<str>, &str) = if r.active.is_some() {
                match r.live.get(&((*name).to_owned(), id.to_owned())) {
                    Some(cell) if cell.error.is_some() => (
                        cell.error.as_deref().unwrap_or_default().to_owned().into(),
                        " error ",
                    ),
                    Some(cell) if cell.done => (expand_tabs(&cell.text), " done "),
                    Some(cell) => (expand_tabs(&cell.text), " streaming... "),
                    None => ("".into(), " waiting "),
                }
            } else {
                match case.and_then(|c| state.output(name, &c.id)) {
                    Some(o) => (crate::sanitize::output_shown(o).into(), ""),
                    None => ("".into(), ""),
                }
            };
            let block = view.block(format!(" {name} · {id} "), false);
            let inner = block.inner(*pane);
            // Follow the tail unless scrolled back (PgUp): the newest text stays in view.
            let paragraph = Paragraph::new(text).wrap(Wrap { trim: false });
            let lines = u16::try_from(paragraph.line_count(inner.width)).unwrap_or(u16::MAX);
            // A stored output reads from its start; PgDn scrolls it.
            let top = if r.active.is_some() {
                lines
                    .saturating_sub(inner.height)
                    .saturating_sub(r.scroll_back)
            } else {
                r.scroll_back.min(lines.saturating_sub(inner.height))
            };
            let mut block = block;
            if !status.is_empty() {
                block = block.title(Line::styled(status, view.theme.muted).right_aligned());
            }
            frame.render_widget(paragraph.scroll((top, 0)).block(block), *pane);
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
