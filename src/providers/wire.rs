//! Framing of streamed bodies: lines out of arbitrary byte chunks, and Server-Sent Events
//! out of lines. Written by hand (a few dozen lines) rather than pulled in as a crate, so
//! the bounds on untrusted input are ours.

use super::error::ProviderError;

/// Longest line accepted from a server; a longer one is an error, not a memory sink.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// Splits a byte stream into lines ending in `\n`, `\r\n` or `\r`, whatever the chunk
/// boundaries (a chunk may end inside a line or inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` opening the next one belongs to it.
    after_cr: bool,
}

impl Lines {
    /// Feeds a chunk; calls `line` with each complete line, terminator removed.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        mut line: impl FnMut(&[u8]) -> Result<(), ProviderError>,
    ) -> Result<(), ProviderError> {
        if self.after_cr {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            self.after_cr = false;
        }
        while let Some(i) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, rest) = chunk.split_at(i);
            self.push(head)?;
            line(&self.buf)?;
            self.buf.clear();
            let is_cr = rest[0] == b'\r';
            chunk = &rest[1..];
            if is_cr {
                if chunk.is_empty() {
                    self.after_cr = true;
                } else if let Some(after) = chunk.strip_prefix(b"\n") {
                    chunk = after;
                }
            }
        }
        self.push(chunk)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        if self.buf.len() + bytes.len() > MAX_LINE {
            return Err(ProviderError::TooLarge { limit: MAX_LINE });
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Bytes of an unterminated last line (a body cut mid-line leaves some).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

/// One dispatched Server-Sent Event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty when the server sent none (the spec's "message").
    pub event: String,
    pub data: String,
}

/// Server-Sent Events per the WHATWG spec, minus `id`/`retry` which nothing here uses.
#[derive(Debug, Default)]
pub struct Sse {
    lines: Lines,
    event: String,
    data: String,
    has_data: bool,
}

impl Sse {
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(SseEvent) -> Result<(), ProviderError>,
    ) -> Result<(), ProviderError> {
        let Self {
            lines,
            event,
            data,
            has_data,
        } = self;
        lines.feed(chunk, |line| {
            if line.is_empty() {
                if *has_data {
                    on_event(SseEvent {
                        event: std::mem::take(event),
                        data: std::mem::take(data),
                    })?;
                }
                event.clear();
                data.clear();
                *has_data = false;
                return Ok(());
            }
            let line = std::str::from_utf8(line)
                .map_err(|e| ProviderError::decode(format!("SSE line is not UTF-8: {e}"), line))?;
            if line.starts_with(':') {
                return Ok(()); // a comment, often a keep-alive
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            // Exactly one space after the colon is part of the syntax; the rest is data.
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => {
                    if *has_data {
                        data.push('\n');
                    }
                    if data.len() + value.len() > MAX_LINE {
                        return Err(ProviderError::TooLarge { limit: MAX_LINE });
                    }
                    data.push_str(value);
                    *has_data = true;
                }
                "event" => value.clone_into(event),
                // Not in the spec, but llama.cpp's server reports a failure mid-stream as
                // `error: {json}`: keep it as an "error" event rather than lose it.
                "error" => {
                    "error".clone_into(event);
                    value.clone_into(data);
                    *has_data = true;
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// At the end of the body: an event whose lines all arrived but whose closing blank
    /// line did not. A line cut in the middle is not dispatched (it is not whole).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.has_data && self.lines.pending().is_empty() {
            self.has_data = false;
            Some(SseEvent {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut sse = Sse::default();
        let mut out = Vec::new();
        for c in chunks {
            sse.feed(c, |e| {
                out.push(e);
                Ok(())
            })
            .expect("valid");
        }
        out.extend(sse.finish());
        out
    }

    #[test]
    fn events_across_any_chunking() {
        let body =
            b"event: a\r\ndata: {\"x\": \" hi \"}\r\n\r\n: ping\n\ndata:two\ndata:  lines\n\n";
        let whole = collect(&[body]);
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    event: "a".into(),
                    data: "{\"x\": \" hi \"}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "two\n lines".into()
                },
            ]
        );
        for split in 1..body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(collect(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(collect(&bytes), whole);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let body = "data: caf\u{e9} \u{1f600}\n\n".as_bytes();
        for split in 1..body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(collect(&[a, b])[0].data, "caf\u{e9} \u{1f600}");
        }
    }

    #[test]
    fn cut_line_is_not_dispatched() {
        assert!(collect(&[b"data: {\"a\":1}\n\ndata: {\"b\""]).len() == 1);
        assert_eq!(collect(&[b"data: [DONE]\n"]).len(), 1);
    }

    #[test]
    fn long_lines_are_refused() {
        let mut lines = Lines::default();
        let big = vec![b'a'; MAX_LINE + 1];
        assert!(lines.feed(&big, |_| Ok(())).is_err());
    }
}
