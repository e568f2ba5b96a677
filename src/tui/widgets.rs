//! What every screen's drawing shares: the view configuration, and small helpers for text
//! and layout. Screens share these, not each other's internals.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use crate::diff::{Span as DiffSpan, SpanKind};
use crate::tui::keymap::Keymap;
use crate::tui::state::State;
use crate::tui::theme::{Theme, border_set};

/// What drawing needs besides the state: configuration that never changes while running.
pub struct View<'a> {
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub ascii: bool,
}

impl View<'_> {
    pub(crate) fn block<'b>(&self, title: impl Into<Line<'b>>, focused: bool) -> Block<'b> {
        Block::default()
            .borders(Borders::ALL)
            .border_set(border_set(self.ascii))
            .border_style(if focused {
                self.theme.border_focused
            } else {
                self.theme.border
            })
            .title(title)
            .title_style(self.theme.title)
    }

    pub fn mark(&self, pass: bool) -> Span<'static> {
        match (pass, self.ascii) {
            (true, false) => Span::styled("✓", self.theme.pass),
            (false, false) => Span::styled("✗", self.theme.fail),
            (true, true) => Span::styled("+", self.theme.pass),
            (false, true) => Span::styled("x", self.theme.fail),
        }
    }
}

/// Diff spans as lines, inserted and deleted words in the theme's diff styles.
pub fn spans_to_lines<'a>(lines: &'a [Vec<DiffSpan>], view: &View) -> Vec<Line<'a>> {
    lines
        .iter()
        .map(|spans| {
            Line::from(
                spans
                    .iter()
                    .map(|s| {
                        let style = match s.kind {
                            SpanKind::Equal => Style::default(),
                            SpanKind::Insert => view.theme.diff_insert,
                            SpanKind::Delete => view.theme.diff_delete,
                        };
                        Span::styled(s.text.as_str(), style)
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// A duration in at most four characters, for a histogram bar's label: `850`, `2.5s`, `13s`.
pub fn short_ms(ms: u64) -> String {
    if ms < 1_000 {
        ms.to_string()
    } else if ms < 9_950 {
        format!("{:.1}s", ms as f64 / 1_000.0)
    } else if ms < 9_999_500 {
        let s = (ms + 500) / 1_000;
        if s < 1_000 {
            format!("{s}s")
        } else {
            format!("{}m", (s + 30) / 60)
        }
    } else {
        format!("{}h", (ms + 1_800_000) / 3_600_000)
    }
}

/// `items` joined by `sep` in at most `width` columns: as many whole items as fit, then
/// `+N more` for the rest. An item is dropped whole, never cut.
pub fn fit_list(items: &[&str], sep: &str, width: usize) -> String {
    let cols = |s: &str| Line::raw(s).width();
    let n = items.len();
    let mut shortest = String::new();
    for k in (0..=n).rev() {
        let mut out = items[..k].join(sep);
        if k < n {
            if k > 0 {
                out.push_str(sep);
            }
            out.push_str(&format!("+{} more", n - k));
        }
        if cols(&out) <= width {
            return out;
        }
        shortest = out;
    }
    shortest
}

/// `text` in at most `width` columns, cut after a whole word with `…` when it is longer.
pub fn fit_words(text: &str, width: usize) -> String {
    if Line::raw(text).width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() {
            word.to_owned()
        } else {
            format!("{out} {word}")
        };
        if Line::raw(next.as_str()).width() + 1 > width {
            break;
        }
        out = next;
    }
    out.push('…');
    out
}

/// `parts` joined by spaces as a block title in `width` columns (the block's own width):
/// the first part always, the others while they fit whole.
pub fn fit_title(parts: &[&str], width: u16) -> String {
    let room = usize::from(width).saturating_sub(2);
    let mut title = String::new();
    for (i, part) in parts.iter().enumerate() {
        let next = format!("{title} {part}");
        if i > 0 && Line::raw(next.as_str()).width() + 1 > room {
            break;
        }
        title = next;
    }
    title.push(' ');
    title
}

/// What the tab bar says while no run is shown.
pub fn no_run(state: &State) -> &'static str {
    if state.data.loading {
        "reading the newest run..."
    } else {
        "no run yet"
    }
}

pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::{fit_list, fit_title, fit_words, short_ms};

    #[test]
    fn lists_and_titles_drop_whole_entries() {
        let used = ["zero-shot", "fine-tuned"];
        assert_eq!(fit_list(&used, ", ", 30), "zero-shot, fine-tuned");
        assert_eq!(fit_list(&used, ", ", 18), "zero-shot, +1 more");
        assert_eq!(fit_list(&used, ", ", 10), "+2 more");
        assert_eq!(fit_list(&[], ", ", 10), "");
        assert_eq!(
            fit_title(&["Case 7/24", "kernel-upgrade"], 40),
            " Case 7/24 kernel-upgrade "
        );
        assert_eq!(
            fit_title(&["Case 7/24", "kernel-upgrade"], 22),
            " Case 7/24 "
        );
        let error = "undefined variable `nope`";
        assert_eq!(fit_words(error, 40), error);
        assert_eq!(fit_words(error, 20), "undefined variable…");
    }

    #[test]
    fn durations_fit_a_four_cell_bar_label() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1.0s"),
            (2_536, "2.5s"),
            (9_949, "9.9s"),
            (9_950, "10s"),
            (10_146, "10s"),
            (999_499, "999s"),
            (999_500, "17m"),
            (9_999_499, "167m"),
            (36_000_000, "10h"),
        ];
        for (ms, want) in cases {
            assert_eq!(short_ms(ms), want, "{ms} ms");
            assert!(short_ms(ms).chars().count() <= 4);
        }
    }
}
