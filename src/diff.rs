//! Word and line diffs of two outputs, shaped for a side-by-side and an inline view.
//!
//! Pure: no terminal types. Every span's text is a slice of its input with the `'\n'`
//! taken out, so joining a side's lines with `'\n'` gives the input back byte for byte.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffMode {
    Word,
    Line,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    Equal,
    Insert,
    Delete,
}

/// A run of text of one kind; never empty and never contains `'\n'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub kind: SpanKind,
    pub text: String,
}

/// A diff laid out in lines. `left` is `a` (equal and deleted text), `right` is `b` (equal
/// and inserted text), `unified` interleaves them, deleted before inserted. A side has
/// exactly the lines `str::split('\n')` gives (so `""` is one empty line).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLines {
    pub left: Vec<Vec<Span>>,
    pub right: Vec<Vec<Span>>,
    pub unified: Vec<Vec<Span>>,
    /// Whether any token was inserted or deleted.
    pub changed: bool,
    /// Share of tokens the two sides have in common, 0..=1 (1 for two empty inputs).
    pub similarity: f64,
}

// A pathological pair (two long, unrelated outputs) could keep Myers busy for seconds;
// past this the algorithm settles for a coarser but still correct edit script.
const DEADLINE: Duration = Duration::from_millis(500);

pub fn diff(a: &str, b: &str, mode: DiffMode) -> DiffLines {
    let (old, new) = match mode {
        DiffMode::Word => (tokenize_words(a), tokenize_words(b)),
        DiffMode::Line => (tokenize_lines(a), tokenize_lines(b)),
    };
    // The diff hashes and compares every token many times; as interned u32 ids each of
    // those is one word-sized operation instead of a string walk.
    let (old_ids, new_ids) = intern(&old, &new);
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        &old_ids,
        &new_ids,
        Some(Instant::now() + DEADLINE),
    );

    let mut left = Side::new();
    let mut right = Side::new();
    let mut unified = Side::new();
    let mut changed = false;
    let mut equal = 0usize;
    for op in &ops {
        match *op {
            DiffOp::Equal { old_index, len, .. } => {
                equal += len;
                for t in &old[old_index..old_index + len] {
                    left.push(SpanKind::Equal, t);
                    right.push(SpanKind::Equal, t);
                    unified.push(SpanKind::Equal, t);
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                changed = true;
                for t in &old[old_index..old_index + old_len] {
                    left.push(SpanKind::Delete, t);
                    unified.push(SpanKind::Delete, t);
                }
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                changed = true;
                for t in &new[new_index..new_index + new_len] {
                    right.push(SpanKind::Insert, t);
                    unified.push(SpanKind::Insert, t);
                }
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                changed = true;
                for t in &old[old_index..old_index + old_len] {
                    left.push(SpanKind::Delete, t);
                    unified.push(SpanKind::Delete, t);
                }
                if mode == DiffMode::Line && !unified.at_line_start() {
                    // A deleted last line has no '\n'; without this break the insert
                    // would continue the deleted line's row.
                    unified.newline();
                }
                for t in &new[new_index..new_index + new_len] {
                    right.push(SpanKind::Insert, t);
                    unified.push(SpanKind::Insert, t);
                }
            }
        }
    }
    let total = old.len() + new.len();
    let similarity = if total == 0 {
        1.0
    } else {
        2.0 * equal as f64 / total as f64
    };
    DiffLines {
        left: left.finish(),
        right: right.finish(),
        unified: unified.finish(),
        changed,
        similarity,
    }
}

/// Lines, each with its `'\n'` (the last one may have none).
fn tokenize_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// Words (letters, digits, `_`), runs of whitespace other than `'\n'`, each `'\n'`, and
/// each other character (punctuation, symbols, emoji) as its own token. Ideographs are
/// one token each, since CJK text has no spaces to split on. Combining marks, variation
/// selectors, skin tones and zero-width joiners stay with the character before them so an
/// emoji sequence or an accented letter is never cut in two.
fn tokenize_words(s: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Word,
        Space,
        Single,
    }
    fn class(c: char) -> Class {
        if c == '\n' || is_ideograph(c) {
            Class::Single
        } else if c.is_alphanumeric() || c == '_' {
            Class::Word
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Single
        }
    }

    let mut out = Vec::with_capacity(s.len() / 3 + 1);
    let mut start = 0;
    let mut current: Option<Class> = None;
    let mut after_zwj = false;
    for (i, c) in s.char_indices() {
        if i > 0 && (after_zwj || is_extend(c)) {
            after_zwj = c == '\u{200d}';
            continue;
        }
        after_zwj = c == '\u{200d}';
        let k = class(c);
        if current.is_some_and(|prev| prev != k || k == Class::Single) {
            out.push(&s[start..i]);
            start = i;
        }
        current = Some(k);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn is_extend(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'          // combining diacritical marks
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{fe00}'..='\u{fe0f}'        // variation selectors
        | '\u{fe20}'..='\u{fe2f}'
        | '\u{200d}'                     // zero-width joiner
        | '\u{1f3fb}'..='\u{1f3ff}'      // skin tones
        | '\u{e0020}'..='\u{e007f}'      // tag characters (flag sequences)
        | '\u{e0100}'..='\u{e01ef}')
}

fn is_ideograph(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'          // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{f900}'..='\u{faff}'
        | '\u{20000}'..='\u{3134f}')
}

fn intern<'a>(old: &[&'a str], new: &[&'a str]) -> (Vec<u32>, Vec<u32>) {
    let mut ids: HashMap<&'a str, u32> = HashMap::with_capacity(old.len());
    let mut id = |t: &'a str| {
        let next = ids.len() as u32;
        *ids.entry(t).or_insert(next)
    };
    let o = old.iter().map(|t| id(t)).collect();
    let n = new.iter().map(|t| id(t)).collect();
    (o, n)
}

/// One column of output lines being built; merges neighbouring tokens of one kind.
struct Side {
    lines: Vec<Vec<Span>>,
}

impl Side {
    fn new() -> Self {
        Side {
            lines: vec![Vec::new()],
        }
    }

    fn at_line_start(&self) -> bool {
        self.lines.last().is_none_or(Vec::is_empty)
    }

    fn newline(&mut self) {
        self.lines.push(Vec::new());
    }

    /// Adds a token; a token holds at most one `'\n'`, at its end.
    fn push(&mut self, kind: SpanKind, token: &str) {
        let (text, ends_line) = match token.strip_suffix('\n') {
            Some(t) => (t, true),
            None => (token, false),
        };
        if let Some(line) = self.lines.last_mut().filter(|_| !text.is_empty()) {
            match line.last_mut() {
                Some(span) if span.kind == kind => span.text.push_str(text),
                _ => line.push(Span {
                    kind,
                    text: text.to_owned(),
                }),
            }
        }
        if ends_line {
            self.newline();
        }
    }

    fn finish(self) -> Vec<Vec<Span>> {
        self.lines
    }
}

type CacheKey = (blake3::Hash, blake3::Hash, DiffMode);

/// Recently computed diffs, keyed by the content hashes of both texts and the mode, so
/// flipping between cases or modes reuses work. Holds at most `capacity` diffs and drops
/// the least recently used.
#[derive(Debug)]
pub struct DiffCache {
    capacity: usize,
    tick: u64,
    entries: HashMap<CacheKey, (u64, Arc<DiffLines>)>,
}

impl Default for DiffCache {
    fn default() -> Self {
        Self::new(64)
    }
}

impl DiffCache {
    pub fn new(capacity: usize) -> Self {
        DiffCache {
            capacity: capacity.max(1),
            tick: 0,
            entries: HashMap::new(),
        }
    }

    fn key(a: &str, b: &str, mode: DiffMode) -> CacheKey {
        (blake3::hash(a.as_bytes()), blake3::hash(b.as_bytes()), mode)
    }

    pub fn get(&mut self, a: &str, b: &str, mode: DiffMode) -> Option<Arc<DiffLines>> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(&Self::key(a, b, mode))?;
        entry.0 = tick;
        Some(entry.1.clone())
    }

    pub fn insert(&mut self, a: &str, b: &str, mode: DiffMode, diff: Arc<DiffLines>) {
        let key = Self::key(a, b, mode);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.tick += 1;
        self.entries.insert(key, (self.tick, diff));
    }

    /// The cached diff, or computes and keeps it. Call it off the UI thread: a miss runs
    /// the diff while the caller holds `&mut self`.
    pub fn get_or_compute(&mut self, a: &str, b: &str, mode: DiffMode) -> Arc<DiffLines> {
        if let Some(d) = self.get(a, b, mode) {
            return d;
        }
        let d = Arc::new(diff(a, b, mode));
        self.insert(a, b, mode, d.clone());
        d
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn join(lines: &[Vec<Span>]) -> String {
        lines
            .iter()
            .map(|l| l.iter().map(|s| s.text.as_str()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn kinds(lines: &[Vec<Span>]) -> Vec<SpanKind> {
        lines.iter().flatten().map(|s| s.kind).collect()
    }

    fn check_invariants(a: &str, b: &str, mode: DiffMode) -> DiffLines {
        let d = diff(a, b, mode);
        assert_eq!(join(&d.left), a, "left reassembles a ({mode:?})");
        assert_eq!(join(&d.right), b, "right reassembles b ({mode:?})");
        assert!(kinds(&d.left).iter().all(|k| *k != SpanKind::Insert));
        assert!(kinds(&d.right).iter().all(|k| *k != SpanKind::Delete));
        for s in d.left.iter().chain(&d.right).chain(&d.unified).flatten() {
            assert!(
                !s.text.is_empty() && !s.text.contains('\n'),
                "bad span {s:?}"
            );
        }
        // Line breaks in `unified` come from either side, but its text without them is
        // a's text (dropping insertions) and b's text (dropping deletions), in order.
        let flat = |drop: SpanKind| -> String {
            d.unified
                .iter()
                .flatten()
                .filter(|s| s.kind != drop)
                .map(|s| s.text.as_str())
                .collect()
        };
        assert_eq!(flat(SpanKind::Insert), a.replace('\n', ""));
        assert_eq!(flat(SpanKind::Delete), b.replace('\n', ""));
        assert_eq!(d.changed, a != b);
        assert!((0.0..=1.0).contains(&d.similarity));
        d
    }

    const SAMPLES: &[&str] = &[
        "",
        "a",
        "\n",
        "\n\n",
        "hello world",
        "hello, world!\nsecond line\n",
        "line one\r\nline two\r\n",
        "crlf only\r\n\r\n",
        "naïve café — «quotes» 😀 👩‍👩‍👧 👍🏽 🇫🇷",
        "日本語のテキストです。漢字とかな。",
        "{\"title\":\"Rename\",\"risk\":\"low\"}",
        "tabs\tand  double  spaces \t\n  indented",
        "e\u{301}tude",
    ];

    #[test]
    fn sides_reassemble_exactly() {
        for a in SAMPLES {
            for b in SAMPLES {
                for mode in [DiffMode::Word, DiffMode::Line] {
                    check_invariants(a, b, mode);
                }
            }
        }
    }

    #[test]
    fn identical_inputs_are_unchanged() {
        for a in SAMPLES {
            for mode in [DiffMode::Word, DiffMode::Line] {
                let d = diff(a, a, mode);
                assert!(!d.changed);
                assert!((d.similarity - 1.0).abs() < f64::EPSILON);
                assert_eq!(d.left, d.right);
                assert_eq!(d.left, d.unified);
            }
        }
    }

    #[test]
    fn empty_inputs() {
        let d = diff("", "", DiffMode::Word);
        assert!(!d.changed);
        assert_eq!(d.left, vec![Vec::<Span>::new()]);
        assert!((d.similarity - 1.0).abs() < f64::EPSILON);

        let d = diff("", "new text", DiffMode::Word);
        assert!(d.changed);
        assert_eq!(d.left, vec![Vec::<Span>::new()]);
        assert_eq!(
            d.right[0],
            vec![Span {
                kind: SpanKind::Insert,
                text: "new text".into()
            }]
        );
        assert!(d.similarity.abs() < f64::EPSILON);
    }

    #[test]
    fn word_diff_marks_only_the_changed_word() {
        let d = diff("the risk is low.", "the risk is high.", DiffMode::Word);
        assert_eq!(
            d.left[0],
            vec![
                Span {
                    kind: SpanKind::Equal,
                    text: "the risk is ".into()
                },
                Span {
                    kind: SpanKind::Delete,
                    text: "low".into()
                },
                Span {
                    kind: SpanKind::Equal,
                    text: ".".into()
                },
            ]
        );
        assert_eq!(
            d.right[0][1],
            Span {
                kind: SpanKind::Insert,
                text: "high".into()
            }
        );
        assert_eq!(
            kinds(&d.unified),
            vec![
                SpanKind::Equal,
                SpanKind::Delete,
                SpanKind::Insert,
                SpanKind::Equal
            ]
        );
    }

    #[test]
    fn punctuation_is_its_own_token() {
        assert_eq!(
            tokenize_words("low, high!"),
            vec!["low", ",", " ", "high", "!"]
        );
        assert_eq!(tokenize_words("a\r\nb"), vec!["a", "\r", "\n", "b"]);
        assert_eq!(tokenize_words("👍🏽x"), vec!["👍🏽", "x"]);
        assert_eq!(tokenize_words("👩‍👧!"), vec!["👩‍👧", "!"]);
        assert_eq!(tokenize_words("漢字"), vec!["漢", "字"]);
        assert_eq!(tokenize_words("e\u{301}t"), vec!["e\u{301}t"]);
    }

    #[test]
    fn line_diff_replaces_whole_lines() {
        let d = diff("a\nb\nc\n", "a\nB\nc\n", DiffMode::Line);
        assert_eq!(d.left.len(), 4);
        assert_eq!(
            d.left[1],
            vec![Span {
                kind: SpanKind::Delete,
                text: "b".into()
            }]
        );
        assert_eq!(
            d.right[1],
            vec![Span {
                kind: SpanKind::Insert,
                text: "B".into()
            }]
        );
        let unified: Vec<String> = d
            .unified
            .iter()
            .map(|l| l.iter().map(|s| s.text.as_str()).collect())
            .collect();
        assert_eq!(unified, vec!["a", "b", "B", "c", ""]);
        assert_eq!(
            kinds(&d.unified),
            vec![
                SpanKind::Equal,
                SpanKind::Delete,
                SpanKind::Insert,
                SpanKind::Equal
            ]
        );
    }

    #[test]
    fn crlf_survives_line_mode() {
        let d = diff("x\r\ny\r\n", "x\r\nz\r\n", DiffMode::Line);
        assert_eq!(
            d.left[0],
            vec![Span {
                kind: SpanKind::Equal,
                text: "x\r".into()
            }]
        );
        assert_eq!(join(&d.right), "x\r\nz\r\n");
    }

    #[test]
    fn cache_reuses_and_evicts_least_recent() {
        let mut c = DiffCache::new(2);
        let first = c.get_or_compute("a", "b", DiffMode::Word);
        assert!(Arc::ptr_eq(
            &first,
            &c.get_or_compute("a", "b", DiffMode::Word)
        ));
        assert!(c.get("a", "b", DiffMode::Line).is_none());
        c.get_or_compute("c", "d", DiffMode::Word);
        // Touch a/b so c/d is the oldest when a third arrives.
        assert!(c.get("a", "b", DiffMode::Word).is_some());
        c.get_or_compute("e", "f", DiffMode::Word);
        assert_eq!(c.len(), 2);
        assert!(c.get("a", "b", DiffMode::Word).is_some());
        assert!(c.get("c", "d", DiffMode::Word).is_none());
    }
}
