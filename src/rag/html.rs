//! HTML to Markdown-like text: the words a reader sees, with headings kept as `#` lines
//! so the Markdown chunker splits at them and passages carry their heading path.
//!
//! A small hand-written scanner rather than a browser-grade parser: corpus pages are
//! documents (policies, manuals), and what matters is dropping markup, scripts and styles,
//! decoding entities and keeping block structure. Malformed markup degrades to text.

/// Elements whose content is never text for a reader.
const SKIPPED: &[&str] = &["script", "style", "head", "noscript", "template", "svg"];

/// Elements that start a new paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "ul",
    "ol",
    "table",
    "tr",
    "blockquote",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "form",
    "hr",
    "body",
    "html",
];

struct Out {
    text: String,
    /// Whitespace seen since the last word, not yet written.
    pending_space: bool,
}

impl Out {
    fn word_char(&mut self, c: char) {
        if self.pending_space && !self.text.is_empty() && !self.text.ends_with(['\n', ' ']) {
            self.text.push(' ');
        }
        self.pending_space = false;
        self.text.push(c);
    }

    fn words(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                self.word_char(c);
            }
        }
    }

    /// Ends the current block with a blank line (once).
    fn paragraph(&mut self) {
        self.pending_space = false;
        let trimmed = self.text.trim_end_matches(' ').len();
        self.text.truncate(trimmed);
        if self.text.is_empty() {
            return;
        }
        while !self.text.ends_with("\n\n") {
            self.text.push('\n');
        }
    }

    fn line(&mut self) {
        self.pending_space = false;
        let trimmed = self.text.trim_end_matches(' ').len();
        self.text.truncate(trimmed);
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }
}

/// The reader's text of an HTML document, headings as Markdown `#` lines.
pub fn to_text(html: &str) -> String {
    let mut out = Out {
        text: String::new(),
        pending_space: false,
    };
    let mut rest = html;
    let mut pre = 0usize;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            text_run(&mut out, rest, pre > 0);
            break;
        };
        text_run(&mut out, &rest[..lt], pre > 0);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        // A '<' that cannot open a tag ("x < y") is text.
        if !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'))
        {
            text_run(&mut out, "<", pre > 0);
            rest = &rest[1..];
            continue;
        }
        let Some(gt) = rest.find('>') else {
            // A lone '<' in text.
            text_run(&mut out, rest, pre > 0);
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() {
            continue; // <!DOCTYPE>, <?xml?>, stray '<'.
        }
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            rest = skip_past_close(rest, &name);
            continue;
        }
        match name.as_str() {
            h if h.len() == 2 && h.starts_with('h') && matches!(h.as_bytes()[1], b'1'..=b'6') => {
                out.paragraph();
                if !closing {
                    let level = usize::from(h.as_bytes()[1] - b'0');
                    out.text.push_str(&"#".repeat(level));
                    out.text.push(' ');
                }
            }
            "br" => out.line(),
            "li" => {
                out.line();
                if !closing {
                    out.text.push_str("- ");
                }
            }
            "td" | "th" if !closing => out.pending_space = true,
            "pre" => {
                out.paragraph();
                pre = if closing {
                    pre.saturating_sub(1)
                } else {
                    pre + 1
                };
            }
            b if BLOCKS.contains(&b) => out.paragraph(),
            _ => {}
        }
    }
    out.text.trim().to_owned() + "\n"
}

fn text_run(out: &mut Out, raw: &str, pre: bool) {
    let decoded = decode_entities(raw);
    if pre {
        out.pending_space = false;
        out.text.push_str(&decoded);
    } else {
        out.words(&decoded);
    }
}

/// The text after `</name>`, or nothing when the element never closes.
fn skip_past_close<'a>(rest: &'a str, name: &str) -> &'a str {
    let lower = rest.to_ascii_lowercase();
    let close = format!("</{name}");
    match lower.find(&close) {
        Some(i) => rest[i..].find('>').map_or("", |gt| &rest[i + gt + 1..]),
        None => "",
    }
}

/// Decodes the named entities prose uses and every numeric one; unknown ones stay as they
/// are.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |i| i + 1);
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "hellip" => Some('…'),
            "rsquo" => Some('’'),
            "lsquo" => Some('‘'),
            "rdquo" => Some('”'),
            "ldquo" => Some('“'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[end..];
            rest = rest.strip_prefix(';').unwrap_or(rest);
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_lists_survive() {
        let html = r#"<!DOCTYPE html><html><head><title>T</title>
            <style>p { color: red }</style></head>
            <body><h1>Change  freezes</h1>
            <p>No deploys on <b>Fridays</b>&nbsp;after 14:00 &amp; never
               during the <a href="x">year-end freeze</a>.</p>
            <script>alert("<p>no</p>")</script>
            <h2 id="ex">Exceptions</h2><ul><li>Security fixes</li><li>Rollbacks</li></ul>
            <!-- a <p>comment</p> --><p>Ask &lt;cab@example.test&gt; &#8212; &#x41;.</p>
            </body></html>"#;
        assert_eq!(
            to_text(html),
            "# Change freezes\n\n\
             No deploys on Fridays after 14:00 & never during the year-end freeze.\n\n\
             ## Exceptions\n\n\
             - Security fixes\n- Rollbacks\n\n\
             Ask <cab@example.test> — A.\n"
        );
    }

    #[test]
    fn pre_keeps_its_lines_and_junk_degrades_to_text() {
        assert_eq!(
            to_text("<p>run</p><pre>a\n  b</pre><p>x < y &bogus; 3</p>"),
            "run\n\na\n  b\n\nx < y &bogus; 3\n"
        );
        assert_eq!(to_text("<p>unclosed <script>never"), "unclosed\n");
        assert_eq!(to_text("plain words"), "plain words\n");
    }
}
