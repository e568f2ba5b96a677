//! One corpus, chunked and (optionally) embedded, held in memory for retrieval.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::bm25::{self, Bm25};
use super::dense::{VectorError, Vectors};
use super::rank::{Hit, jaccard, mmr, rrf};

/// A chunk as retrieval and prompts see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// `path#n`: the document's path and the chunk's 1-based position in it. Stable while
    /// the document and the chunking stay the same; what outputs cite.
    pub id: String,
    /// The document's path relative to the session file.
    pub source: String,
    pub doc_hash: String,
    pub ordinal: u32,
    /// Headings the passage sits under, outermost first.
    pub headings: Vec<String>,
    pub text: String,
    /// blake3 of `text`: the embedding cache key.
    pub text_hash: String,
    pub tokens: u32,
}

/// Passages with a BM25 index, and their vectors when the config embeds.
#[derive(Debug)]
pub struct Index {
    passages: Vec<Passage>,
    bm25: Bm25,
    vectors: Option<Vectors>,
    /// Term sets for MMR without vectors, made on first use.
    term_sets: OnceLock<Vec<HashSet<String>>>,
}

/// How deep each list goes before fusion: a chunk ranked 30th by one retriever can still
/// make the fused top k when the other ranks it first.
pub fn fusion_depth(k: usize) -> usize {
    (k * 4).max(20)
}

impl Index {
    pub fn new(passages: Vec<Passage>) -> Self {
        let mut bm25 = Bm25::new();
        for p in &passages {
            // Headings are part of what a passage is about ("Rollback" over a list of
            // steps that never says the word).
            if p.headings.is_empty() {
                bm25.add(&p.text);
            } else {
                bm25.add(&format!("{}\n{}", p.headings.join("\n"), p.text));
            }
        }
        Self {
            passages,
            bm25,
            vectors: None,
            term_sets: OnceLock::new(),
        }
    }

    /// Adds the passages' vectors, row `i` for passage `i`.
    pub fn with_vectors(mut self, vectors: Vectors) -> Result<Self, VectorError> {
        if vectors.len() != self.passages.len() {
            return Err(VectorError::Dimension {
                want: self.passages.len(),
                got: vectors.len(),
            });
        }
        self.vectors = Some(vectors);
        Ok(self)
    }

    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    pub fn passage(&self, i: usize) -> &Passage {
        &self.passages[i]
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    pub fn has_vectors(&self) -> bool {
        self.vectors.is_some()
    }

    pub fn bm25(&self, query: &str, k: usize) -> Vec<Hit> {
        self.bm25.search(query, k)
    }

    /// Exact cosine against the passages' vectors (an error when the index has none or
    /// the query vector's dimension differs).
    pub fn dense(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, VectorError> {
        match &self.vectors {
            Some(v) => v.search(query, k),
            None => Err(VectorError::Degenerate),
        }
    }

    /// BM25 and cosine fused by reciprocal rank.
    pub fn hybrid(&self, query: &str, vector: &[f32], k: usize) -> Result<Vec<Hit>, VectorError> {
        let depth = fusion_depth(k);
        let lexical = self.bm25(query, depth);
        let semantic = self.dense(vector, depth)?;
        Ok(rrf(&[&lexical, &semantic], k))
    }

    /// Similarity of two passages in 0..1 for MMR: cosine of their vectors (negative
    /// cosines count as unrelated), or the Jaccard overlap of their BM25 terms when the
    /// config has no embeddings.
    pub fn similarity(&self, a: usize, b: usize) -> f32 {
        if let Some(v) = &self.vectors {
            return v.cosine(a, b).clamp(0.0, 1.0);
        }
        let sets = self.term_sets.get_or_init(|| {
            self.passages
                .iter()
                .map(|p| bm25::terms(&p.text).collect())
                .collect()
        });
        jaccard(&sets[a], &sets[b])
    }

    /// Maximal marginal relevance over `candidates`, keeping `keep`.
    pub fn mmr(&self, candidates: &[Hit], keep: usize, lambda: f32) -> Vec<Hit> {
        mmr(candidates, keep, lambda, &mut |a, b| self.similarity(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn passage(source: &str, ordinal: u32, text: &str) -> Passage {
        Passage {
            id: format!("{source}#{ordinal}"),
            source: source.into(),
            doc_hash: blake3::hash(source.as_bytes()).to_hex().to_string(),
            ordinal,
            headings: Vec::new(),
            text: text.into(),
            text_hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
            tokens: 0,
        }
    }

    #[test]
    fn hybrid_fuses_lexical_and_semantic_ranks() {
        let ps = vec![
            passage("a.md", 1, "freeze window for production deploys"),
            passage("b.md", 1, "data deletion within thirty days"),
            passage("c.md", 1, "rollback plans tested in staging"),
        ];
        let mut v = Vectors::new();
        for row in [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]] {
            v.push(&row).expect("valid");
        }
        let ix = Index::new(ps).with_vectors(v).expect("one row each");
        // Lexically only a.md matches; by cosine to (0.6, 0.8): c.md 0.99, b.md 0.8, a.md 0.6.
        let hits = ix.hybrid("freeze", &[0.6, 0.8], 3).expect("vectors");
        let order: Vec<_> = hits
            .iter()
            .map(|h| ix.passage(h.chunk).source.as_str())
            .collect();
        // a.md: 1/61 (bm25 rank 1) + 1/63 (cosine rank 3); c.md: 1/61; b.md: 1/62.
        assert_eq!(order, ["a.md", "c.md", "b.md"]);
    }

    #[test]
    fn mmr_without_vectors_uses_term_overlap() {
        let ps = vec![
            passage("a.md", 1, "freeze window friday deploys"),
            passage("a.md", 2, "freeze window friday deploys again"),
            passage("b.md", 1, "freeze exceptions for security"),
        ];
        let ix = Index::new(ps);
        let hits = ix.bm25("freeze window friday", 3);
        assert_eq!(hits.len(), 3);
        // Min-max scaling gives b.md#1 (last) relevance 0 and a.md#2 at most 1; Jaccard
        // a.md#1~a.md#2 = 4/5, a.md#1~b.md#1 = 1/6. With lambda 0.3: a.md#2 scores at most
        // 0.3 - 0.7*0.8 = -0.26, b.md#1 scores 0 - 0.7/6 = -0.117.
        let kept = ix.mmr(&hits, 2, 0.3);
        let ids: Vec<_> = kept
            .iter()
            .map(|h| ix.passage(h.chunk).id.as_str())
            .collect();
        assert_eq!(ids[0], "a.md#1");
        assert_eq!(ids[1], "b.md#1", "the near duplicate a.md#2 is passed over");
    }

    #[test]
    fn vectors_must_match_the_passages() {
        let ix = Index::new(vec![passage("a.md", 1, "x")]);
        assert!(ix.dense(&[1.0], 1).is_err());
        assert!(ix.with_vectors(Vectors::new()).is_err());
    }
}
