//! Model output is untrusted: nothing in it may drive the terminal.
//!
//! Every C0 control other than newline and tab becomes its visible Unicode control picture
//! (ESC shows as `␛`, so `ESC[2J` reads `␛[2J` and clears nothing; an OSC 52 clipboard
//! write loses its ESC and BEL and is plain text). C1 controls (which some terminals also
//! obey as CSI/OSC introducers) show as their 7-bit equivalent after `␛` (U+009B, CSI,
//! reads `␛[`), visible like the rest. Bidirectional overrides and isolates are dropped so
//! right-to-left text cannot reorder the rest of the screen line. On screen, tabs expand to
//! tab stops ([`expand_tabs`]): a terminal UI draws a tab as nothing at all.

use std::borrow::Cow;

/// What a screen shows for an output: its text, or `error: ...` for a failed request (whose
/// message can carry a server's response body), either one safe to draw.
pub fn output_shown(o: &crate::store::OutputRecord) -> String {
    match &o.error {
        Some(e) => format!("error: {}", expand_tabs(&sanitize(e))),
        None => expand_tabs(&sanitize(&o.text)).into_owned(),
    }
}

/// Columns between tab stops.
pub const TAB_STOP: usize = 8;

/// Tabs become spaces up to the next tab stop, counted in display columns from each line's
/// start; borrows when there is no tab.
pub fn expand_tabs(text: &str) -> Cow<'_, str> {
    if !text.contains('\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut col = 0usize;
    for c in text.chars() {
        match c {
            '\t' => {
                let n = TAB_STOP - col % TAB_STOP;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' => {
                out.push(c);
                col = 0;
            }
            c => {
                out.push(c);
                let mut buf = [0u8; 4];
                col += usize::from(ratatui::buffer::CellWidth::cell_width(
                    &*c.encode_utf8(&mut buf),
                ));
            }
        }
    }
    Cow::Owned(out)
}

/// Returns `text` safe to draw; borrows when there was nothing to change (the common case).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_change) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(control_picture(c)),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' => {
                // The 7-bit form of a C1 control is ESC and the character 0x40 lower.
                out.push('\u{241b}');
                out.push(char::from_u32(c as u32 - 0x40).unwrap_or('?'));
            }
            c if is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_change(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

fn control_picture(c: char) -> char {
    // U+2400..U+241F are the pictures of U+0000..U+001F, in order.
    char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

#[cfg(test)]
mod tests {
    use super::{output_shown, sanitize};

    #[test]
    fn a_failed_output_shows_its_error_harmless() {
        let mut o: crate::store::OutputRecord = serde_json::from_value(serde_json::json!({
            "run_id": "r", "variant": "v", "case_id": "c", "repeat": 0,
            "text": "", "usage": {"input_tokens": 0, "output_tokens": 0, "estimated": false},
            "latency_ms": 0, "attempts": 1, "request_hash": "h", "finished_ms": 0
        }))
        .expect("an output record");
        o.error = Some("HTTP 500: \u{1b}]52;c;ZWNobw==\u{7}".into());
        let shown = output_shown(&o);
        assert!(shown.starts_with("error: HTTP 500"), "{shown}");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        o.error = None;
        o.text = "ok\u{1b}[2J".into();
        assert_eq!(output_shown(&o), "ok\u{241b}[2J");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("plain\ttext\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escapes_bells_and_nuls_become_visible_text() {
        let s = sanitize("a\x1b[2Jb\x1b]52;c;ZWNobyBoaQ==\x07c\0d\re");
        assert_eq!(s, "a␛[2Jb␛]52;c;ZWNobyBoaQ==␇c␀d␍e");
        assert!(!s.chars().any(char::is_control));
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_neutralised() {
        assert_eq!(sanitize("x\u{9b}31m\u{202e}y"), "x␛[31my");
        assert_eq!(sanitize("\u{9d}52;c\u{9c}"), "␛]52;c␛\\");
    }

    #[test]
    fn tabs_expand_to_tab_stops_on_screen() {
        use super::expand_tabs;
        assert_eq!(expand_tabs("a\tb"), "a       b");
        assert_eq!(
            expand_tabs("abcdefgh\tx\n\ty"),
            "abcdefgh        x\n        y"
        );
        assert_eq!(expand_tabs("日本\tx"), "日本    x");
        assert!(matches!(expand_tabs("none"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn wide_and_rtl_text_is_kept() {
        assert_eq!(sanitize("日本語 🚀 שלום"), "日本語 🚀 שלום");
    }
}
