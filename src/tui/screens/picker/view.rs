//! The run picker's drawing: a table of runs over the screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Clear, List, ListItem, ListState, Paragraph};

use super::state::{PickFor, RunPicker, RunSummary};
use crate::store::RunStatus;
use crate::tui::widgets::{View, centered};

fn status(r: &RunSummary) -> &'static str {
    match r.status {
        RunStatus::Complete => "complete",
        RunStatus::Running => "running",
        RunStatus::Interrupted => "interrupted",
    }
}

/// One run as two lines: when, how it ended and how far it got; then its id and variants
/// (an 80-column terminal keeps all of the first and the id).
fn row(r: &RunSummary, shown: bool) -> [String; 2] {
    [
        format!(
            "{} {}  {}  {}/{} cells  {} err",
            if shown { "•" } else { " " },
            crate::store::format_time(r.created_ms),
            status(r),
            r.done,
            r.cells,
            r.errors,
        ),
        format!("  {}  {}", r.id, r.variants.join(", ")),
    ]
}

pub fn draw_picker(p: &RunPicker, view: &View, frame: &mut Frame, area: Rect) {
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(110),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, rect);
    let title = match p.purpose {
        PickFor::Shown => " Runs of this session: enter shows one ",
        PickFor::Earlier => " Compare with which other run? enter chooses ",
    };
    let block = view.block(title, true);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [list, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let Some(_) = &p.runs else {
        let text = if p.enter_pending {
            "reading the runs... (enter chooses as soon as they are read)"
        } else {
            "reading the runs..."
        };
        frame.render_widget(Paragraph::new(text), list);
        return;
    };
    let visible = p.visible();
    let items: Vec<ListItem> = visible
        .iter()
        .map(|r| {
            let style = if r.is_empty() || r.errors > 0 {
                view.theme.fail
            } else {
                view.theme.text
            };
            let [first, second] = row(r, p.shown.as_ref() == Some(&r.id));
            ListItem::new(vec![
                Line::styled(first, style),
                Line::styled(second, view.theme.muted),
            ])
        })
        .collect();
    if items.is_empty() {
        frame.render_widget(Paragraph::new("no other run with outputs yet"), list);
    } else {
        let mut ls = ListState::default().with_selected(Some(p.selected));
        frame.render_stateful_widget(
            List::new(items).highlight_style(view.theme.selection),
            list,
            &mut ls,
        );
    }
    let hidden = p.hidden_empty();
    let empty = if hidden > 0 {
        format!("a shows {hidden} empty")
    } else if p.show_empty {
        "a hides empty runs".to_owned()
    } else {
        String::new()
    };
    let foot_text = format!(
        "• shown · {empty}{}esc closes",
        if empty.is_empty() { "" } else { " · " }
    );
    frame.render_widget(Line::styled(foot_text, view.theme.muted), foot);
}
