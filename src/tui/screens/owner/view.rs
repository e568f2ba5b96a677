//! The owner's view's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::state::OwnerView;
use crate::tui::widgets::View;

/// How far `paragraph` (wrapped) can scroll in `area` (with its border) before blank rows.
fn max_scroll(paragraph: &Paragraph, area: Rect) -> u16 {
    let inner_w = area.width.saturating_sub(2);
    let inner_h = area.height.saturating_sub(2);
    u16::try_from(paragraph.line_count(inner_w))
        .unwrap_or(u16::MAX)
        .saturating_sub(inner_h)
}

/// The owner's view's scroll limit in a frame of `width` x `height` (the view lies below
/// the tabs line, its own status line under it).
pub fn owner_max_scroll(o: &OwnerView, width: u16, height: u16) -> u16 {
    let Some(lines) = &o.lines else {
        return 0;
    };
    let text: Vec<Line> = lines.iter().map(|l| Line::raw(l.as_str())).collect();
    let body = Rect::new(0, 0, width, height.saturating_sub(2));
    max_scroll(&Paragraph::new(text).wrap(Wrap { trim: false }), body)
}

pub fn draw_owner(o: &OwnerView, view: &View, frame: &mut Frame, area: Rect) {
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
    // Long lines wrap (a figure is never cut at the border); the scroll stops at the end.
    let paragraph = Paragraph::new(text).wrap(Wrap { trim: false });
    let max = max_scroll(&paragraph, body);
    frame.render_widget(
        paragraph
            .scroll((o.scroll.min(max), 0))
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
