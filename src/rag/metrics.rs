//! Retrieval and citation metrics against the documents a case lists as `relevant:`.
//!
//! Retrieval returns chunks; relevance is judged per document, so a ranking of chunks is
//! first read as a ranking of documents: each document at the rank of its first chunk,
//! later chunks of the same document skipped (a second chunk of a relevant document is
//! not a second relevant result). Relevance is binary.

use std::collections::HashSet;

/// The documents of a chunk ranking, each once, in the order they first appear.
pub fn distinct_docs<'a>(ranked: &[&'a str]) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    ranked.iter().copied().filter(|d| seen.insert(*d)).collect()
}

/// 1 when a relevant document is among the first `k` distinct documents, else 0.
pub fn hit_at_k(ranked: &[&str], relevant: &HashSet<&str>, k: usize) -> f64 {
    let docs = distinct_docs(ranked);
    f64::from(u8::from(docs.iter().take(k).any(|d| relevant.contains(d))))
}

/// The share of relevant documents among the first `k` distinct documents.
pub fn recall_at_k(ranked: &[&str], relevant: &HashSet<&str>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let docs = distinct_docs(ranked);
    let found = docs
        .iter()
        .take(k)
        .filter(|d| relevant.contains(*d))
        .count();
    found as f64 / relevant.len() as f64
}

/// Reciprocal rank of the first relevant document (0 when none was retrieved).
pub fn reciprocal_rank(ranked: &[&str], relevant: &HashSet<&str>) -> f64 {
    distinct_docs(ranked)
        .iter()
        .position(|d| relevant.contains(d))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Normalised discounted cumulative gain at `k`, binary gains:
/// `DCG = sum over ranks i <= k of rel_i / log2(i + 1)`, divided by the DCG of the ideal
/// ranking (every relevant document first).
pub fn ndcg_at_k(ranked: &[&str], relevant: &HashSet<&str>, k: usize) -> f64 {
    let discount = |i: usize| 1.0 / (i as f64 + 2.0).log2();
    let dcg: f64 = distinct_docs(ranked)
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, d)| relevant.contains(*d))
        .map(|(i, _)| discount(i))
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(discount).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Citation precision and recall for one output: `cited` are the documents of the
/// passages the output cited (unknown ids already dropped), `relevant` the case's.
/// Precision is the share of cited documents that are relevant (`None` when nothing was
/// cited: no citation is no evidence either way); recall the share of relevant documents
/// cited.
pub fn citation_precision_recall(cited: &[&str], relevant: &HashSet<&str>) -> (Option<f64>, f64) {
    let cited: HashSet<&str> = cited.iter().copied().collect();
    let hits = cited.iter().filter(|d| relevant.contains(*d)).count() as f64;
    let precision = (!cited.is_empty()).then(|| hits / cited.len() as f64);
    let recall = if relevant.is_empty() {
        0.0
    } else {
        hits / relevant.len() as f64
    };
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(v: &[&'a str]) -> HashSet<&'a str> {
        v.iter().copied().collect()
    }

    /// Worked example: chunks from docs [a, b, a, c, d], relevant {c, e}.
    /// Distinct docs: a, b, c, d; c at rank 3.
    /// hit@2 = 0, hit@3 = 1; recall@3 = 1/2; MRR = 1/3;
    /// nDCG@4 = (1/log2 4) / (1/log2 2 + 1/log2 3) = 0.5 / 1.6309298 = 0.3065736.
    #[test]
    fn metrics_match_the_worked_example() {
        let ranked = ["a", "b", "a", "c", "d"];
        let rel = set(&["c", "e"]);
        assert_eq!(distinct_docs(&ranked), ["a", "b", "c", "d"]);
        assert!(hit_at_k(&ranked, &rel, 2).abs() < 1e-12);
        assert!((hit_at_k(&ranked, &rel, 3) - 1.0).abs() < 1e-12);
        assert!((recall_at_k(&ranked, &rel, 3) - 0.5).abs() < 1e-12);
        assert!(recall_at_k(&ranked, &rel, 2).abs() < 1e-12);
        assert!((reciprocal_rank(&ranked, &rel) - 1.0 / 3.0).abs() < 1e-12);
        let ndcg = ndcg_at_k(&ranked, &rel, 4);
        assert!((ndcg - 0.306_573_6).abs() < 1e-6, "{ndcg}");
    }

    #[test]
    fn perfect_and_empty_rankings() {
        let rel = set(&["a", "b"]);
        assert!((ndcg_at_k(&["a", "b", "x"], &rel, 3) - 1.0).abs() < 1e-12);
        assert!((ndcg_at_k(&["b", "a"], &rel, 2) - 1.0).abs() < 1e-12);
        assert!(ndcg_at_k(&[], &rel, 3).abs() < 1e-12);
        assert!(reciprocal_rank(&[], &rel).abs() < 1e-12);
        assert!(recall_at_k(&["a"], &set(&[]), 3).abs() < 1e-12);
        assert!(ndcg_at_k(&["a"], &set(&[]), 3).abs() < 1e-12);
    }

    /// Cited docs {a, c, x}, relevant {a, b}: precision 1/3, recall 1/2.
    #[test]
    fn citation_precision_and_recall() {
        let rel = set(&["a", "b"]);
        let (p, r) = citation_precision_recall(&["a", "c", "x", "a"], &rel);
        assert!((p.expect("cited") - 1.0 / 3.0).abs() < 1e-12);
        assert!((r - 0.5).abs() < 1e-12);
        let (p, r) = citation_precision_recall(&[], &rel);
        assert_eq!(p, None);
        assert!(r.abs() < 1e-12);
    }
}
