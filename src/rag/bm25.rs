//! Okapi BM25 over an in-memory inverted index (no model needed).
//!
//! Scoring is the Lucene variant: `idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))` (never
//! negative, unlike the original Robertson idf, so a term in most chunks cannot push a
//! chunk down), times `tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))`, with k1 = 1.2 and
//! b = 0.75. Each distinct query term counts once. The index is rebuilt from the stored
//! chunks when a config is loaded: building is linear in the text and fast (see the
//! README's figures), so persisting it would only add a format to keep in step.

use std::collections::HashMap;

use super::rank::{Hit, top_k};

pub const K1: f32 = 1.2;
pub const B: f32 = 0.75;

/// Words that carry no topic in English prose; dropped so "the" does not rank chunks.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with",
];

/// Lower-cased runs of letters and digits, stop words left out.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
}

/// The inverted index of one corpus's chunks; chunk numbers are their order of addition.
#[derive(Debug, Default, Clone)]
pub struct Bm25 {
    vocab: HashMap<String, u32>,
    /// Per term: (chunk, term frequency), in chunk order.
    postings: Vec<Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    total_len: u64,
}

impl Bm25 {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one chunk; returns its number.
    pub fn add(&mut self, text: &str) -> usize {
        let id = self.lengths.len() as u32;
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut len = 0u32;
        for term in terms(text) {
            len += 1;
            let next = self.vocab.len() as u32;
            let t = *self.vocab.entry(term).or_insert(next);
            if t as usize == self.postings.len() {
                self.postings.push(Vec::new());
            }
            *counts.entry(t).or_default() += 1;
        }
        for (t, tf) in counts {
            self.postings[t as usize].push((id, tf));
        }
        self.lengths.push(len);
        self.total_len += u64::from(len);
        id as usize
    }

    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    fn idf(&self, df: usize) -> f32 {
        let n = self.lengths.len() as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The `k` best chunks for `query`, best first (ties by chunk number); chunks sharing
    /// no term with the query are not returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        if self.is_empty() || k == 0 {
            return Vec::new();
        }
        let avgdl = (self.total_len as f32 / self.lengths.len() as f32).max(1.0);
        let mut seen = Vec::new();
        // Dense accumulators plus the list of chunks touched: no hashing per posting, and
        // only touched chunks are ranked.
        let mut scores = vec![0f32; self.lengths.len()];
        let mut touched = Vec::new();
        for term in terms(query) {
            let Some(&t) = self.vocab.get(&term) else {
                continue;
            };
            if seen.contains(&t) {
                continue;
            }
            seen.push(t);
            let list = &self.postings[t as usize];
            let idf = self.idf(list.len());
            for &(doc, tf) in list {
                let tf = tf as f32;
                let norm = 1.0 - B + B * self.lengths[doc as usize] as f32 / avgdl;
                let slot = &mut scores[doc as usize];
                if *slot == 0.0 {
                    touched.push(doc);
                }
                *slot += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
            }
        }
        top_k(
            touched.into_iter().map(|doc| Hit {
                chunk: doc as usize,
                score: scores[doc as usize],
            }),
            k,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_fold_case_and_drop_stop_words() {
        let t: Vec<_> = terms("The Freeze-window is 48h, for ALL changes.").collect();
        assert_eq!(t, ["freeze", "window", "48h", "all", "changes"]);
    }

    /// Worked by hand: three chunks, lengths 3, 2, 4 (avgdl 3), query "freeze rollback".
    ///   "freeze" is in chunks 0 and 2: idf = ln(1 + (3 - 2 + 0.5) / 2.5) = ln 1.6
    ///   "rollback" is in chunk 1 only:  idf = ln(1 + 2.5 / 1.5)          = ln(8/3)
    /// chunk 0 (tf 2, |d| 3): ln1.6 * 2*2.2 / (2 + 1.2*1)           = ln1.6 * 4.4/3.2
    /// chunk 1 (tf 1, |d| 2): ln(8/3) * 2.2 / (1 + 1.2*(0.25+0.5))  = ln(8/3) * 2.2/1.9
    /// chunk 2 (tf 1, |d| 4): ln1.6 * 2.2 / (1 + 1.2*(0.25+1.0))    = ln1.6 * 2.2/2.5
    #[test]
    fn scores_match_the_hand_computation() {
        let mut ix = Bm25::new();
        ix.add("freeze freeze window");
        ix.add("rollback plan");
        ix.add("freeze approvals need owners");
        let hits = ix.search("freeze rollback", 10);
        let expect = [
            (1, (8.0f32 / 3.0).ln() * 2.2 / 1.9),
            (0, 1.6f32.ln() * 4.4 / 3.2),
            (2, 1.6f32.ln() * 2.2 / 2.5),
        ];
        assert_eq!(hits.len(), 3);
        for (hit, (chunk, score)) in hits.iter().zip(expect) {
            assert_eq!(hit.chunk, chunk);
            assert!((hit.score - score).abs() < 1e-5, "{hit:?} vs {score}");
        }
    }

    #[test]
    fn repeated_query_terms_count_once_and_unknown_terms_nothing() {
        let mut ix = Bm25::new();
        ix.add("freeze window");
        ix.add("deletion rules");
        let once = ix.search("freeze", 5);
        let twice = ix.search("freeze FREEZE nonsense", 5);
        assert_eq!(once, twice);
        assert_eq!(once.len(), 1);
        assert!(ix.search("zebra", 5).is_empty());
        assert!(ix.search("freeze", 0).is_empty());
    }

    #[test]
    fn top_k_cuts_and_breaks_ties_by_chunk_order() {
        let mut ix = Bm25::new();
        for _ in 0..5 {
            ix.add("same words here");
        }
        let hits = ix.search("words", 3);
        assert_eq!(hits.iter().map(|h| h.chunk).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
