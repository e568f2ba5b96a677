//! The owner's view's drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::Paragraph;

use super::state::OwnerView;
use crate::tui::widgets::View;

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
