//! Splitting documents into passages of at most N tokens, counted with the cl100k BPE
//! tokenizer (`tiktoken-rs`), at the largest boundary that fits: Markdown sections, then
//! paragraphs, sentences, words (`text-splitter`). Neighbouring chunks share up to
//! `overlap` tokens.

use text_splitter::{ChunkConfig as SplitConfig, MarkdownSplitter, TextSplitter};
use tiktoken_rs::CoreBPE;

use super::corpus::DocKind;

/// Bumped when chunk boundaries change for the same text and settings, so stored chunks
/// made by an older splitter are not reused (part of [`ChunkSettings::key`]).
const CHUNKER_VERSION: u32 = 2;
pub const TOKENIZER: &str = "cl100k_base";

/// Chunk size and overlap, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkSettings {
    pub tokens: u32,
    pub overlap: u32,
}

impl ChunkSettings {
    /// Names the chunking (tokenizer, splitter version, sizes): stored chunks are keyed by
    /// (document hash, this).
    pub fn key(&self) -> String {
        format!(
            "{TOKENIZER}.v{CHUNKER_VERSION}.{}t.{}o",
            self.tokens, self.overlap
        )
    }
}

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chunk {
    /// 1-based position in its document.
    pub ordinal: u32,
    /// Byte range in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// cl100k tokens in `text`.
    pub tokens: u32,
    /// The headings the passage sits under, outermost first (Markdown and HTML).
    #[serde(default)]
    pub headings: Vec<String>,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk overlap {overlap} must be smaller than the chunk size {tokens}")]
    Overlap { tokens: u32, overlap: u32 },
    #[error("chunk size must be at least 1 token")]
    Empty,
}

/// The shared cl100k tokenizer (its ranks ship inside the crate; built once per process).
pub fn tokenizer() -> &'static CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

/// Tokens in `text` by cl100k.
pub fn count_tokens(text: &str) -> usize {
    tokenizer().encode_ordinary(text).len()
}

/// Splits one document's extracted text.
pub fn split(kind: DocKind, text: &str, settings: ChunkSettings) -> Result<Vec<Chunk>, ChunkError> {
    if settings.tokens == 0 {
        return Err(ChunkError::Empty);
    }
    let overlap_error = |_| ChunkError::Overlap {
        tokens: settings.tokens,
        overlap: settings.overlap,
    };
    let capacity = settings.tokens as usize;
    let config = SplitConfig::new(capacity)
        .with_sizer(DocSizer::new(text))
        .with_overlap(settings.overlap as usize)
        .map_err(overlap_error)?;
    let mut pieces: Vec<(usize, &str, usize)> = Vec::new();
    for (start, piece) in split_with(kind, config, text) {
        let tokens = count_tokens(piece);
        if tokens <= capacity {
            pieces.push((start, piece, tokens));
            continue;
        }
        // The document-wide count was off at a cut (a token split in two encodes as
        // more): this piece is split again, counting exactly, so none is over budget.
        let exact = SplitConfig::new(capacity)
            .with_sizer(tokenizer())
            .with_overlap(settings.overlap as usize)
            .map_err(overlap_error)?;
        for (at, sub) in split_with(kind, exact, piece) {
            pieces.push((start + at, sub, count_tokens(sub)));
        }
    }
    let headings = match kind {
        DocKind::Markdown | DocKind::Html => markdown_headings(text),
        DocKind::Text => Vec::new(),
    };
    Ok(pieces
        .into_iter()
        .enumerate()
        .map(|(i, (start, piece, tokens))| Chunk {
            ordinal: i as u32 + 1,
            start,
            end: start + piece.len(),
            tokens: tokens as u32,
            headings: heading_path(&headings, start),
            text: piece.to_owned(),
        })
        .collect())
}

fn split_with<S: text_splitter::ChunkSizer>(
    kind: DocKind,
    config: SplitConfig<S>,
    text: &str,
) -> Vec<(usize, &str)> {
    match kind {
        DocKind::Markdown | DocKind::Html => {
            MarkdownSplitter::new(config).chunk_indices(text).collect()
        }
        DocKind::Text => TextSplitter::new(config).chunk_indices(text).collect(),
    }
}

/// Token counts of slices of one document, from one tokenization of the whole document.
/// The splitter sizes thousands of overlapping candidates per document; encoding each
/// again was 95% of indexing time (15 s for 10 MB of Markdown). A slice counts the tokens
/// it touches, so a cut through a token counts that token once; [`split`] recounts every
/// final chunk exactly and splits again the rare one that turns out over budget.
struct DocSizer<'a> {
    text: &'a str,
    /// Where each token of the document ends (byte offsets, ascending).
    ends: Vec<usize>,
}

impl<'a> DocSizer<'a> {
    fn new(text: &'a str) -> Self {
        let bpe = tokenizer();
        let mut at = 0;
        let ends = bpe
            .encode_ordinary(text)
            .into_iter()
            .map(|t| {
                at += bpe.decode_bytes(&[t]).map_or(0, |b| b.len());
                at
            })
            .collect();
        Self { text, ends }
    }
}

impl text_splitter::ChunkSizer for DocSizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        let base = self.text.as_ptr() as usize;
        let at = chunk.as_ptr() as usize;
        // Not a slice of the document (the splitter never does this today): count it.
        if at < base || at + chunk.len() > base + self.text.len() || self.ends.is_empty() {
            return count_tokens(chunk);
        }
        if chunk.is_empty() {
            return 0;
        }
        let (a, b) = (at - base, at - base + chunk.len());
        // The first token ending after `a`, through the token holding byte `b - 1`.
        let first = self.ends.partition_point(|&e| e <= a);
        let last = self.ends.partition_point(|&e| e < b);
        (last.min(self.ends.len() - 1) + 1).saturating_sub(first)
    }
}

/// An ATX heading: where its line starts, its level and title.
#[derive(Debug, Clone, PartialEq)]
struct Heading {
    at: usize,
    level: usize,
    title: String,
}

/// The ATX headings (`# Title`) of a Markdown text, outside fenced code blocks.
fn markdown_headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let t = line.trim_start();
        if line.len() - t.len() > 3 {
            continue; // indented code
        }
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if t.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let level = t.bytes().take_while(|&b| b == b'#').count();
        let after = &t[level..];
        if (1..=6).contains(&level) && (after.starts_with([' ', '\t']) || after.trim().is_empty()) {
            let title = after.trim().trim_end_matches('#').trim().to_owned();
            if !title.is_empty() {
                out.push(Heading {
                    at: start + (line.len() - t.len()),
                    level,
                    title,
                });
            }
        }
    }
    out
}

/// The headings in force at byte `at`: for each level, the last heading before it whose
/// deeper levels were not closed by a shallower heading since.
fn heading_path(headings: &[Heading], at: usize) -> Vec<String> {
    let mut stack: Vec<&Heading> = Vec::new();
    for h in headings.iter().take_while(|h| h.at <= at) {
        while stack.last().is_some_and(|top| top.level >= h.level) {
            stack.pop();
        }
        stack.push(h);
    }
    stack.into_iter().map(|h| h.title.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Freeze windows\n\n\
        Production changes are frozen from December 20 to January 3.\n\n\
        ## Exceptions\n\n\
        Security patches may ship during a freeze with two approvals.\n\n\
        ```\n# not a heading\n```\n\n\
        # Rollback\n\n\
        Every change names a rollback plan tested in staging.\n";

    #[test]
    fn headings_outside_code_blocks() {
        let h = markdown_headings(DOC);
        let titles: Vec<_> = h.iter().map(|h| (h.level, h.title.as_str())).collect();
        assert_eq!(
            titles,
            [(1, "Freeze windows"), (2, "Exceptions"), (1, "Rollback")]
        );
        assert_eq!(&DOC[h[1].at..h[1].at + 3], "## ");
    }

    #[test]
    fn heading_path_follows_nesting() {
        let h = markdown_headings(DOC);
        assert_eq!(heading_path(&h, 0), ["Freeze windows"]);
        assert_eq!(
            heading_path(&h, h[1].at + 5),
            ["Freeze windows", "Exceptions"]
        );
        assert_eq!(heading_path(&h, h[2].at), ["Rollback"]);
    }

    #[test]
    fn chunks_fit_the_token_budget_and_split_at_sections() {
        let chunks = split(
            DocKind::Markdown,
            DOC,
            ChunkSettings {
                tokens: 20,
                overlap: 0,
            },
        )
        .expect("valid settings");
        assert!(chunks.len() >= 3, "{chunks:#?}");
        for c in &chunks {
            assert!(c.tokens <= 20, "{c:?}");
            assert_eq!(c.tokens as usize, count_tokens(&c.text));
            assert_eq!(&DOC[c.start..c.end], c.text);
        }
        // Sections are not mixed: the first chunk ends before "## Exceptions".
        assert!(!chunks[0].text.contains("Exceptions"));
        let last = chunks.last().expect("chunks");
        assert_eq!(last.headings, ["Rollback"]);
        assert!(last.text.contains("rollback plan"));
        assert_eq!(
            chunks.iter().map(|c| c.ordinal).collect::<Vec<_>>(),
            (1..=chunks.len() as u32).collect::<Vec<_>>()
        );
    }

    #[test]
    fn overlap_repeats_the_end_of_the_previous_chunk() {
        let text = (1..=60)
            .map(|i| format!("Sentence number {i} is here."))
            .collect::<Vec<_>>()
            .join(" ");
        let plain = split(
            DocKind::Text,
            &text,
            ChunkSettings {
                tokens: 40,
                overlap: 0,
            },
        )
        .expect("valid");
        let over = split(
            DocKind::Text,
            &text,
            ChunkSettings {
                tokens: 40,
                overlap: 12,
            },
        )
        .expect("valid");
        for w in plain.windows(2) {
            assert!(w[0].end <= w[1].start, "no overlap asked: {w:?}");
        }
        assert!(over.len() > plain.len());
        let overlapping = over.windows(2).filter(|w| w[1].start < w[0].end).count();
        assert!(overlapping > 0, "{over:#?}");
        for c in &over {
            assert!(c.tokens <= 40);
        }
    }

    #[test]
    fn the_document_sizer_counts_slices_as_the_tokenizer_does() {
        use text_splitter::ChunkSizer;
        let text = (1..=40)
            .map(|i| format!("## Part {i}\n\nDeploys of service {i} need a rollback plan, tested."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let sizer = DocSizer::new(&text);
        assert_eq!(sizer.size(&text), count_tokens(&text));
        // Slices from a line's start to another line's end, as the splitter cuts.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        for (i, &a) in starts.iter().enumerate().step_by(7) {
            for &b in starts.iter().skip(i + 1).step_by(5) {
                let slice = &text[a..b - 1];
                assert_eq!(sizer.size(slice), count_tokens(slice), "{slice:?}");
            }
        }
        // Not a slice of the document: counted on its own.
        assert_eq!(sizer.size("hello world"), 2);
    }

    #[test]
    fn a_long_document_splits_within_budget_everywhere() {
        let mut text = String::new();
        for i in 0..300 {
            text.push_str(&format!(
                "# Section {i}\n\nThe policy {i} says: deploys wait for review; {}\n\n",
                "exceptions need a written rollback plan and an owner. ".repeat(i % 9)
            ));
        }
        for (tokens, overlap) in [(50, 0), (64, 16), (400, 40)] {
            let chunks = split(DocKind::Markdown, &text, ChunkSettings { tokens, overlap })
                .expect("valid settings");
            for c in &chunks {
                assert!(c.tokens <= tokens, "{c:?}");
                assert_eq!(c.tokens as usize, count_tokens(&c.text));
                assert_eq!(&text[c.start..c.end], c.text);
            }
            // Every word is in some chunk: only whitespace falls between chunks.
            let mut covered = vec![false; text.len()];
            for c in &chunks {
                covered[c.start..c.end].fill(true);
            }
            let lost = text
                .bytes()
                .zip(&covered)
                .filter(|(b, c)| !**c && !b.is_ascii_whitespace())
                .count();
            assert_eq!(lost, 0, "({tokens}, {overlap})");
        }
    }

    #[test]
    fn token_counts_are_cl100k() {
        // Reference counts from OpenAI's cl100k_base.
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens("tiktoken is great!"), 6);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(matches!(
            split(
                DocKind::Text,
                "x",
                ChunkSettings {
                    tokens: 10,
                    overlap: 10
                }
            ),
            Err(ChunkError::Overlap { .. })
        ));
        assert!(matches!(
            split(
                DocKind::Text,
                "x",
                ChunkSettings {
                    tokens: 0,
                    overlap: 0
                }
            ),
            Err(ChunkError::Empty)
        ));
    }
}
