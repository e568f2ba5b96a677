//! Where each value of a YAML document sits: key path -> line and column.
//!
//! `serde_yaml` reports a location for syntax and type errors only; a semantic error found
//! after deserialising (an unknown model, an inheritance cycle) must point at the offending
//! value too. So the text is walked a second time with an event parser that reports
//! markers, and every node is recorded under its key path.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};

/// One step of a key path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_owned())
    }
}

impl From<&String> for Seg {
    fn from(key: &String) -> Self {
        Seg::Key(key.clone())
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Self {
        Seg::Index(index)
    }
}

/// A key path written like a list: `ypath!["variants", 2, "model"]` (an array of [`Seg`]).
macro_rules! ypath {
    ($($seg:expr),* $(,)?) => {
        [$($crate::session::position::Seg::from($seg)),*]
    };
}
pub(crate) use ypath;

/// A 1-based line and column (columns count characters, as both parsers do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    const START: Pos = Pos { line: 1, col: 1 };

    fn from_marker(m: Marker) -> Self {
        Pos {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    value: Pos,
    /// Character offsets of the value in the text, end exclusive.
    start: usize,
    end: usize,
    /// For a `|` block, the file line of its first line: its lines are the file's lines.
    literal_first_line: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct PosIndex {
    nodes: HashMap<Vec<Seg>, Node>,
    /// Leading spaces of each line (0-based line number), to point inside a `|` block.
    indents: Vec<usize>,
}

enum Frame {
    Map {
        path: Vec<Seg>,
        /// The key just read, waiting for its value.
        key: Option<Seg>,
    },
    Seq {
        path: Vec<Seg>,
        next: usize,
    },
    /// A mapping or sequence used as a key: nothing in it is worth recording.
    KeyCollection {
        depth: usize,
    },
}

impl PosIndex {
    /// Indexes the first document of `text`. Never fails: whatever the event parser cannot
    /// read is left out, and lookups fall back to the nearest recorded ancestor.
    pub fn build(text: &str) -> Self {
        let mut index = PosIndex {
            nodes: HashMap::new(),
            indents: text
                .lines()
                .map(|l| l.len() - l.trim_start_matches(' ').len())
                .collect(),
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0;
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        break;
                    }
                }
                Event::Scalar(value, style, ..) => {
                    if let Some(Frame::KeyCollection { .. }) = stack.last() {
                        continue;
                    }
                    if let Some(Frame::Map {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some(Seg::Key(value.into_owned()));
                        continue;
                    }
                    if let Some(at) = value_path(&mut stack) {
                        // The span starts at the first non-blank line; leading blank lines
                        // are kept in the value as newlines.
                        let first_line = (style == ScalarStyle::Literal).then(|| {
                            span.start
                                .line()
                                .saturating_sub(value.chars().take_while(|c| *c == '\n').count())
                        });
                        index.record(at, span, first_line);
                    }
                }
                Event::Alias(_) => {
                    if let Some(Frame::Map {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some(Seg::Key(String::new()));
                        continue;
                    }
                    if let Some(at) = value_path(&mut stack) {
                        index.record(at, span, None);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    let frame = match stack.last_mut() {
                        Some(Frame::KeyCollection { depth }) => {
                            *depth += 1;
                            continue;
                        }
                        Some(Frame::Map { key: None, .. }) => Frame::KeyCollection { depth: 0 },
                        _ => match value_path(&mut stack) {
                            Some(path) => {
                                index.record(path.clone(), span, None);
                                if is_map {
                                    Frame::Map { path, key: None }
                                } else {
                                    Frame::Seq { path, next: 0 }
                                }
                            }
                            None => continue,
                        },
                    };
                    stack.push(frame);
                }
                Event::MappingEnd | Event::SequenceEnd => match stack.last_mut() {
                    Some(Frame::KeyCollection { depth }) if *depth > 0 => *depth -= 1,
                    Some(Frame::KeyCollection { .. }) => {
                        stack.pop();
                        // The parent mapping now waits for this complex key's value.
                        if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                            *key = Some(Seg::Key(String::new()));
                        }
                    }
                    Some(Frame::Map { path, .. } | Frame::Seq { path, .. }) => {
                        if let Some(node) = index.nodes.get_mut(path) {
                            node.end = span.end.index();
                        }
                        stack.pop();
                    }
                    None => {}
                },
                _ => {}
            }
        }
        index
    }

    fn record(&mut self, path: Vec<Seg>, span: Span, literal_first_line: Option<usize>) {
        self.nodes.entry(path).or_insert(Node {
            value: Pos::from_marker(span.start),
            start: span.start.index(),
            end: span.end.index(),
            literal_first_line,
        });
    }

    /// The recorded node at `path`, or at its nearest recorded ancestor.
    fn nearest(&self, path: &[Seg]) -> Option<&Node> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.nodes.get(&path[..n]))
    }

    /// Where the value at `path` starts (or its nearest recorded ancestor; 1:1 if none).
    pub fn value(&self, path: &[Seg]) -> Pos {
        self.nearest(path).map_or(Pos::START, |n| n.value)
    }

    /// Line `line` (1-based) inside the string at `path`: exact for a `|` block, whose lines
    /// are the file's lines; the start of the value for other styles.
    pub fn line_in(&self, path: &[Seg], line: usize) -> Pos {
        match self.nodes.get(path) {
            Some(Node {
                literal_first_line: Some(first),
                ..
            }) if line > 0 => {
                let file_line = (first + line - 1).max(1);
                let col = self.indents.get(file_line - 1).map_or(1, |i| i + 1);
                Pos {
                    line: file_line,
                    col,
                }
            }
            _ => self.value(path),
        }
    }

    /// The character range of the value at `path`, end exclusive.
    pub fn span(&self, path: &[Seg]) -> Option<(usize, usize)> {
        self.nodes.get(path).map(|n| (n.start, n.end))
    }
}

/// The path of the node that starts now, as a value of the frame on top of the stack (the
/// document root when the stack is empty).
fn value_path(stack: &mut [Frame]) -> Option<Vec<Seg>> {
    match stack.last_mut() {
        None => Some(Vec::new()),
        Some(Frame::Seq { path, next }) => {
            let mut p = path.clone();
            p.push(Seg::Index(*next));
            *next += 1;
            Some(p)
        }
        Some(Frame::Map { path, key }) => {
            let mut p = path.clone();
            p.push(key.take()?);
            Some(p)
        }
        Some(Frame::KeyCollection { .. }) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: x
models:
  small:
    provider: openai
    concurrency: 0
variants:
  - { name: a, template: t, model: small }
  - name: b
    model: big
templates:
  t:
    user: |

      line one
      {{ oops
";

    #[test]
    fn records_values_and_items() {
        let ix = PosIndex::build(DOC);
        assert_eq!(ix.value(&ypath!["name"]), Pos { line: 1, col: 7 });
        assert_eq!(
            ix.value(&ypath!["models", "small", "concurrency"]),
            Pos { line: 5, col: 18 }
        );
        assert_eq!(
            ix.value(&ypath!["variants", 0, "model"]),
            Pos { line: 7, col: 36 }
        );
        assert_eq!(
            ix.value(&ypath!["variants", 1, "model"]),
            Pos { line: 9, col: 12 }
        );
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let ix = PosIndex::build(DOC);
        assert_eq!(
            ix.value(&ypath!["variants", 1, "rag"]),
            ix.value(&ypath!["variants", 1])
        );
        assert_eq!(
            ix.value(&ypath!["nothing", "here"]),
            Pos { line: 1, col: 1 }
        );
    }

    #[test]
    fn points_inside_literal_blocks() {
        let ix = PosIndex::build(DOC);
        assert_eq!(
            ix.line_in(&ypath!["templates", "t", "user"], 3),
            Pos { line: 15, col: 7 }
        );
    }

    #[test]
    fn spans_cover_collections() {
        let ix = PosIndex::build(DOC);
        let (start, end) = ix.span(&ypath!["variants", 0]).expect("recorded");
        let text: String = DOC.chars().skip(start).take(end - start).collect();
        assert_eq!(text, "{ name: a, template: t, model: small }");
    }

    proptest::proptest! {
        /// Whatever the text, indexing and looking up never panic: an index is built for
        /// files serde_yaml may reject, and for every error path.
        #[test]
        fn never_panics(text in "[a-z:|>\\-\\[\\]{},'\"#&*!? \t\n]{0,80}", line in 0usize..6) {
            let ix = PosIndex::build(&text);
            for path in [ypath![].to_vec(), ypath!["a"].to_vec(), ypath![0, "b"].to_vec()] {
                let _ = ix.value(&path);
                let _ = ix.line_in(&path, line);
                let _ = ix.span(&path);
            }
        }
    }

    #[test]
    fn unparsable_text_keeps_what_came_before_the_error() {
        let ix = PosIndex::build("a: 1\nb: [unclosed\n");
        assert_eq!(ix.value(&ypath!["a"]), Pos { line: 1, col: 4 });
        assert_eq!(ix.value(&ypath!["c"]), Pos { line: 1, col: 1 });
    }
}
