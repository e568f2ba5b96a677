//! Ranked lists: top-k selection, reciprocal rank fusion and maximal marginal relevance.

use std::cmp::Ordering;
use std::collections::HashMap;

/// One retrieved chunk (its number in the index) with its score; higher is better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub chunk: usize,
    pub score: f32,
}

/// Best first; equal scores by chunk number so every ranking is reproducible.
fn better(a: &Hit, b: &Hit) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then(a.chunk.cmp(&b.chunk))
}

/// The `k` best hits, best first. Linear selection, then a sort of the `k` kept.
pub fn top_k(hits: impl Iterator<Item = Hit>, k: usize) -> Vec<Hit> {
    let mut all: Vec<Hit> = hits.filter(|h| h.score.is_finite()).collect();
    if k == 0 {
        return Vec::new();
    }
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, better);
        all.truncate(k);
    }
    all.sort_by(better);
    all
}

/// The constant of reciprocal rank fusion (Cormack, Clarke and Büttcher 2009): large enough
/// that the first few ranks of one list do not drown the other list.
pub const RRF_K: f32 = 60.0;

/// Reciprocal rank fusion: each chunk scores `sum over lists of 1 / (RRF_K + rank)` with
/// 1-based ranks; the `k` best, best first.
pub fn rrf(lists: &[&[Hit]], k: usize) -> Vec<Hit> {
    let mut fused: HashMap<usize, f32> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            *fused.entry(hit.chunk).or_default() += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    top_k(
        fused.into_iter().map(|(chunk, score)| Hit { chunk, score }),
        k,
    )
}

/// Maximal marginal relevance (Carbonell and Goldstein 1998): picks `keep` of the
/// candidates one at a time, each maximising
/// `lambda * relevance - (1 - lambda) * max similarity to those already picked`.
///
/// Relevance is the retrieval score min-max scaled to 0..1 over the candidates (BM25 and
/// RRF scores have no fixed range, cosine does, and the two terms must be comparable);
/// `sim(a, b)` gives the similarity of two candidate chunks in 0..1. The returned hits keep
/// their MMR score, in the order picked.
pub fn mmr(
    candidates: &[Hit],
    keep: usize,
    lambda: f32,
    sim: &mut dyn FnMut(usize, usize) -> f32,
) -> Vec<Hit> {
    let (lo, hi) = candidates
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| {
            (lo.min(h.score), hi.max(h.score))
        });
    let relevance = |s: f32| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 };
    let mut left: Vec<Hit> = candidates.to_vec();
    let mut picked: Vec<Hit> = Vec::new();
    while picked.len() < keep && !left.is_empty() {
        let mut best: Option<(usize, f32)> = None;
        for (i, cand) in left.iter().enumerate() {
            let redundancy = picked
                .iter()
                .map(|p| sim(cand.chunk, p.chunk))
                .fold(0f32, f32::max);
            let score = lambda * relevance(cand.score) - (1.0 - lambda) * redundancy;
            // Strictly greater: on a tie the earlier (better retrieved) candidate stays.
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((i, score));
            }
        }
        let Some((i, score)) = best else { break };
        let hit = left.remove(i);
        picked.push(Hit {
            chunk: hit.chunk,
            score,
        });
    }
    picked
}

/// Jaccard similarity of two sets of terms: the MMR similarity when a config has no
/// embeddings (BM25 alone).
pub fn jaccard<T: Eq + std::hash::Hash>(
    a: &std::collections::HashSet<T>,
    b: &std::collections::HashSet<T>,
) -> f32 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f32 / union as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn hits(v: &[(usize, f32)]) -> Vec<Hit> {
        v.iter()
            .map(|&(chunk, score)| Hit { chunk, score })
            .collect()
    }

    #[test]
    fn top_k_selects_sorts_and_drops_nan() {
        let h = hits(&[(0, 0.1), (1, 0.9), (2, f32::NAN), (3, 0.5), (4, 0.9)]);
        let top = top_k(h.into_iter(), 3);
        assert_eq!(top, hits(&[(1, 0.9), (4, 0.9), (3, 0.5)]));
        assert!(top_k(std::iter::empty(), 3).is_empty());
    }

    /// Worked example: list A = [7, 3, 5], list B = [3, 9].
    /// chunk 3: 1/62 + 1/61; chunk 7: 1/61; chunk 9: 1/62; chunk 5: 1/63.
    #[test]
    fn rrf_matches_the_worked_example() {
        let a = hits(&[(7, 9.0), (3, 4.0), (5, 1.0)]);
        let b = hits(&[(3, 0.8), (9, 0.7)]);
        let fused = rrf(&[&a, &b], 10);
        let order: Vec<usize> = fused.iter().map(|h| h.chunk).collect();
        assert_eq!(order, [3, 7, 9, 5]);
        assert!((fused[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert!((fused[1].score - 1.0 / 61.0).abs() < 1e-7);
        assert!((fused[3].score - 1.0 / 63.0).abs() < 1e-7);
        assert_eq!(rrf(&[&a, &b], 2).len(), 2);
    }

    /// Worked example, lambda 0.5: candidates 0 (score 1.0), 1 (0.9), 2 (0.5) have
    /// relevance 1, 0.8, 0; chunks 0 and 1 are near duplicates (sim 0.9), 2 is unlike both.
    /// Pick 1: chunk 0 (0.5 * 1 = 0.5). Pick 2: chunk 1 scores 0.5*0.8 - 0.5*0.9 = -0.05,
    /// chunk 2 scores 0.5*0 - 0.5*0 = 0, so the novel chunk 2 wins.
    #[test]
    fn mmr_trades_relevance_for_novelty() {
        let c = hits(&[(0, 1.0), (1, 0.9), (2, 0.5)]);
        let mut sim = |a: usize, b: usize| match (a.min(b), a.max(b)) {
            (0, 1) => 0.9,
            _ => 0.0,
        };
        let picked = mmr(&c, 2, 0.5, &mut sim);
        assert_eq!(picked.iter().map(|h| h.chunk).collect::<Vec<_>>(), [0, 2]);
        assert!((picked[0].score - 0.5).abs() < 1e-6);
        assert!(picked[1].score.abs() < 1e-6);
        // lambda 1 is plain relevance order.
        let plain = mmr(&c, 3, 1.0, &mut sim);
        assert_eq!(plain.iter().map(|h| h.chunk).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(mmr(&[], 3, 0.5, &mut sim).is_empty());
    }

    #[test]
    fn jaccard_of_term_sets() {
        let a: HashSet<&str> = ["freeze", "window", "friday"].into();
        let b: HashSet<&str> = ["freeze", "friday", "deploy", "rollback"].into();
        assert!((jaccard(&a, &b) - 2.0 / 5.0).abs() < 1e-6);
        assert!(jaccard::<&str>(&HashSet::new(), &HashSet::new()).abs() < 1e-9);
    }
}
