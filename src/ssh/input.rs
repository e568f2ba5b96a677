//! Bytes typed into an SSH channel, parsed into the App's input events.
//!
//! The bytes are what a terminal sends for keys: escape sequences that may be split across
//! packets or arrive several to a packet. terminput's parser (crossterm's own, so the events
//! are the ones a local terminal gives) reads one event from the start of a buffer, so bytes
//! are fed one at a time, as crossterm's reader does. Two cases are handled here:
//!
//! - A lone ESC is the Esc key only if nothing follows soon: Alt+x is ESC then `x`, and an
//!   arrow is ESC `[` `A`. A trailing ESC is held for [`ESC_WAIT`]; more bytes make it part
//!   of a sequence, the deadline makes it Esc.
//! - A bracketed paste (`ESC[200~` ... `ESC[201~`) is collected here in one pass: asking the
//!   parser after each byte would rescan a large paste once per byte.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::Event;

/// How long a lone ESC waits for the rest of a sequence. Terminals send a key's sequence in
/// one write, so the rest normally arrives in the same packet; this only covers a packet
/// split on a slow link, and is short enough that Esc still feels immediate.
pub const ESC_WAIT: Duration = Duration::from_millis(40);

/// Longest paste kept; the rest of a larger one is dropped (a rating note or a template edit
/// never needs more, and a runaway paste must not grow the server without bound).
pub const MAX_PASTE: usize = 1 << 20;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";
/// Longest escape sequence kept while incomplete; anything longer is noise.
const MAX_PENDING: usize = 64;

/// Turns bytes into events, keeping an incomplete sequence between calls.
#[derive(Debug, Default)]
pub struct KeyParser {
    pending: Vec<u8>,
    /// The text of a bracketed paste being received.
    paste: Option<Vec<u8>>,
}

impl KeyParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one packet of bytes, appending the events it completes to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<Event>) {
        let mut i = 0;
        while i < bytes.len() {
            if let Some(paste) = &mut self.paste {
                i += take_paste(paste, &bytes[i..]);
                if paste.ends_with(PASTE_END) {
                    let len = paste.len() - PASTE_END.len();
                    let text = String::from_utf8_lossy(&paste[..len.min(MAX_PASTE)]).into_owned();
                    out.push_back(Event::Paste(text));
                    self.paste = None;
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            self.pending.push(b);
            if self.pending == PASTE_START {
                self.pending.clear();
                self.paste = Some(Vec::new());
                continue;
            }
            if PASTE_START.starts_with(&self.pending) && self.pending.len() > 2 {
                // `ESC [ 2 0` could still become a paste start; wait for the next byte.
                continue;
            }
            if self.pending == [0x1b] {
                // Alone so far: the next byte (in this packet, or soon) decides.
                continue;
            }
            self.parse_pending(out);
        }
    }

    /// Whether a lone ESC is waiting for [`ESC_WAIT`] to pass.
    pub fn holds_esc(&self) -> bool {
        !self.pending.is_empty() && self.pending.iter().all(|b| *b == 0x1b)
    }

    /// Nothing followed: what is held is what it is (a lone ESC is Esc).
    pub fn timeout(&mut self, out: &mut VecDeque<Event>) {
        if self.pending.is_empty() {
            return;
        }
        if let Ok(Some(ev)) = terminput::Event::parse_from(&self.pending) {
            push(ev, out);
        }
        self.pending.clear();
    }

    fn parse_pending(&mut self, out: &mut VecDeque<Event>) {
        match terminput::Event::parse_from(&self.pending) {
            Ok(Some(ev)) => {
                push(ev, out);
                self.pending.clear();
            }
            Ok(None) if self.pending.len() < MAX_PENDING => {}
            // Not a sequence anything sends (or an overlong one): dropped, as crossterm does.
            Ok(None) | Err(_) => self.pending.clear(),
        }
    }
}

/// Moves bytes of a paste from `bytes` into `paste` up to and including the end marker;
/// returns how many were taken. Text past [`MAX_PASTE`] is dropped but the marker is still
/// found (the last bytes are kept so it can be recognised).
fn take_paste(paste: &mut Vec<u8>, bytes: &[u8]) -> usize {
    for (n, b) in bytes.iter().enumerate() {
        if paste.len() >= MAX_PASTE + PASTE_END.len() {
            // Keep a window of the last few bytes to find the end marker.
            paste.drain(MAX_PASTE..=MAX_PASTE);
        }
        paste.push(*b);
        if paste.ends_with(PASTE_END) {
            return n + 1;
        }
    }
    bytes.len()
}

fn push(ev: terminput::Event, out: &mut VecDeque<Event>) {
    // Events crossterm has no counterpart for (none that a terminal sends here) are dropped.
    if let Ok(ev) = terminput_crossterm::to_crossterm(ev) {
        out.push_back(ev);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(code: KeyCode, m: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, m))
    }

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = KeyParser::new();
        let mut out = VecDeque::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        p.timeout(&mut out);
        out.into_iter().collect()
    }

    #[test]
    fn several_keys_in_one_packet_and_one_key_over_several() {
        let none = KeyModifiers::NONE;
        let want = vec![
            key(KeyCode::Up, none),
            key(KeyCode::Char('a'), none),
            key(KeyCode::F(5), none),
            key(KeyCode::Char('x'), KeyModifiers::ALT),
            key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            key(KeyCode::Char('é'), none),
        ];
        let bytes: &[u8] = b"\x1b[Aa\x1b[15~\x1bx\x03\xc3\xa9";
        assert_eq!(all(&[bytes]), want);
        for cut in 1..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(all(&[a, b]), want, "split at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all(&singles), want);
    }

    #[test]
    fn a_lone_esc_waits_for_what_follows() {
        let mut p = KeyParser::new();
        let mut out = VecDeque::new();
        p.feed(b"\x1b", &mut out);
        assert!(out.is_empty() && p.holds_esc());
        p.feed(b"[B", &mut out);
        assert_eq!(
            out.pop_front(),
            Some(key(KeyCode::Down, KeyModifiers::NONE))
        );
        p.feed(b"\x1b", &mut out);
        p.timeout(&mut out);
        assert_eq!(out.pop_front(), Some(key(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(!p.holds_esc());
    }

    #[test]
    fn a_paste_is_one_event_however_it_is_cut() {
        let text = (0..2000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mut bytes = PASTE_START.to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(PASTE_END);
        bytes.extend_from_slice(b"q");
        let want = vec![
            Event::Paste(text),
            key(KeyCode::Char('q'), KeyModifiers::NONE),
        ];
        for size in [1, 3, 7, 1000, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(all(&chunks), want, "chunks of {size}");
        }
    }

    #[test]
    fn an_oversized_paste_is_cut_and_still_ends() {
        let mut bytes = PASTE_START.to_vec();
        bytes.extend(std::iter::repeat_n(b'a', MAX_PASTE + 5000));
        bytes.extend_from_slice(PASTE_END);
        bytes.push(b'z');
        let events = all(&[&bytes]);
        assert_eq!(events.len(), 2);
        match &events[0] {
            Event::Paste(t) => assert_eq!(t.len(), MAX_PASTE),
            other => panic!("{other:?}"),
        }
    }
}
