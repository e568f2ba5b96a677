//! The session's ratings, read once and folded into what exports need: one verdict per
//! rater per comparison (the rater's latest), the consensus of each comparison, and the
//! rubric scores of each rated output. Ratings are human work, so there are few enough of
//! them to hold in memory; outputs are what streams.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::{ComparisonKey, RatingRecord, Store, StoreError, Winner};

/// One side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Why a comparison has no winner to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoConsensus {
    /// A rater called it a tie.
    Tie,
    /// A rater said both answers are bad.
    BothBad,
    /// Raters chose different sides.
    Disagree,
    /// Fewer than K raters chose the winner.
    TooFewRaters,
}

impl NoConsensus {
    pub fn reason(self) -> &'static str {
        match self {
            NoConsensus::Tie => "tie",
            NoConsensus::BothBad => "both_bad",
            NoConsensus::Disagree => "raters_disagree",
            NoConsensus::TooFewRaters => "too_few_raters",
        }
    }
}

/// The votes on one comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub a: u32,
    pub b: u32,
    pub tie: u32,
    pub both_bad: u32,
}

impl Tally {
    pub fn add(&mut self, w: Winner) {
        match w {
            Winner::A => self.a += 1,
            Winner::B => self.b += 1,
            Winner::Tie => self.tie += 1,
            Winner::BothBad => self.both_bad += 1,
        }
    }

    /// The winner when at least `k` raters chose it and nobody chose a tie, "both bad" or the
    /// other side: a preference pair is only as good as the agreement behind it.
    pub fn consensus(&self, k: u32) -> Result<Side, NoConsensus> {
        if self.tie > 0 {
            return Err(NoConsensus::Tie);
        }
        if self.both_bad > 0 {
            return Err(NoConsensus::BothBad);
        }
        if self.a > 0 && self.b > 0 {
            return Err(NoConsensus::Disagree);
        }
        let (side, n) = if self.a > 0 {
            (Side::A, self.a)
        } else {
            (Side::B, self.b)
        };
        if n < k.max(1) {
            return Err(NoConsensus::TooFewRaters);
        }
        Ok(side)
    }
}

/// An output, as ratings address it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputRef {
    pub run_id: String,
    pub case_id: String,
    pub repeat: u32,
    pub variant: String,
}

impl OutputRef {
    pub fn of(c: &ComparisonKey, side: Side) -> Self {
        Self {
            run_id: c.run_id.clone(),
            case_id: c.case_id.clone(),
            repeat: c.repeat,
            variant: match side {
                Side::A => c.a.clone(),
                Side::B => c.b.clone(),
            },
        }
    }
}

/// How an output fared in the comparisons it was part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Never rated: only its checks decide.
    Unrated,
    /// Won every comparison it was in, by consensus.
    Won,
    /// Lost at least one comparison by consensus.
    Lost,
    /// Some comparison it was in has no consensus (and it lost none).
    NoConsensus,
}

/// Everything exports need from ratings.
#[derive(Debug, Default)]
pub struct RatingIndex {
    /// The latest verdict of each rater on each comparison.
    pub latest: BTreeMap<(ComparisonKey, String), RatingRecord>,
    pub tallies: BTreeMap<ComparisonKey, Tally>,
    pub raters: BTreeSet<String>,
    /// Rubric scores per output and dimension: (sum, n).
    scores: HashMap<OutputRef, BTreeMap<String, (u64, u32)>>,
    /// Failure-mode labels per output: how many raters gave each.
    labels: HashMap<OutputRef, BTreeMap<String, u32>>,
}

impl RatingIndex {
    /// Reads the session's ratings of the given runs.
    pub fn load(store: &Store, session: &str, runs: &BTreeSet<String>) -> Result<Self, StoreError> {
        let mut idx = Self::default();
        for r in store.ratings(session) {
            let r = r?;
            if runs.contains(&r.comparison.run_id) {
                idx.insert(r);
            }
        }
        idx.finish();
        Ok(idx)
    }

    /// Builds the index from ratings already read (tests, and callers that filtered them).
    pub fn from_ratings(ratings: impl IntoIterator<Item = RatingRecord>) -> Self {
        let mut idx = Self::default();
        for r in ratings {
            idx.insert(r);
        }
        idx.finish();
        idx
    }

    fn insert(&mut self, r: RatingRecord) {
        let key = (r.comparison.clone(), r.rater.clone());
        // A rater who changed their mind counts once, with the latest verdict.
        let newer = self
            .latest
            .get(&key)
            .is_none_or(|old| (r.at_ms, r.seq) >= (old.at_ms, old.seq));
        if newer {
            self.latest.insert(key, r);
        }
    }

    fn finish(&mut self) {
        for ((comparison, rater), r) in &self.latest {
            self.raters.insert(rater.clone());
            self.tallies
                .entry(comparison.clone())
                .or_default()
                .add(r.winner);
            for (variant, labels) in &r.labels {
                let out = OutputRef {
                    run_id: comparison.run_id.clone(),
                    case_id: comparison.case_id.clone(),
                    repeat: comparison.repeat,
                    variant: variant.clone(),
                };
                let entry = self.labels.entry(out).or_default();
                for l in labels {
                    *entry.entry(l.clone()).or_default() += 1;
                }
            }
            for (variant, dims) in &r.scores {
                let out = OutputRef {
                    run_id: comparison.run_id.clone(),
                    case_id: comparison.case_id.clone(),
                    repeat: comparison.repeat,
                    variant: variant.clone(),
                };
                let entry = self.scores.entry(out).or_default();
                for (dim, v) in dims {
                    let e = entry.entry(dim.clone()).or_insert((0, 0));
                    e.0 += u64::from(*v);
                    e.1 += 1;
                }
            }
        }
    }

    /// The failure-mode labels raters put on an output, with how many raters gave each.
    pub fn labels(&self, out: &OutputRef) -> Option<&BTreeMap<String, u32>> {
        self.labels.get(out).filter(|l| !l.is_empty())
    }

    /// The mean score an output got on a rubric dimension, over every rater who scored it.
    pub fn mean_score(&self, out: &OutputRef, dim: &str) -> Option<f64> {
        let (sum, n) = self.scores.get(out)?.get(dim)?;
        (*n > 0).then(|| *sum as f64 / f64::from(*n))
    }

    /// How `out` fared in the comparisons it was part of, with `k` raters for a consensus.
    pub fn standing(&self, out: &OutputRef, k: u32) -> Standing {
        let mut standing = Standing::Unrated;
        for (c, tally) in self.comparisons_of(out) {
            let mine = if c.a == out.variant { Side::A } else { Side::B };
            match tally.consensus(k) {
                Ok(side) if side == mine => {
                    if standing == Standing::Unrated {
                        standing = Standing::Won;
                    }
                }
                Ok(_) => return Standing::Lost,
                Err(_) => standing = Standing::NoConsensus,
            }
        }
        standing
    }

    fn comparisons_of<'a>(
        &'a self,
        out: &'a OutputRef,
    ) -> impl Iterator<Item = (&'a ComparisonKey, &'a Tally)> + 'a {
        // Comparisons sort by (run, case, repeat, a, b): the ones of an output's cell are
        // one contiguous range.
        let start = ComparisonKey {
            run_id: out.run_id.clone(),
            case_id: out.case_id.clone(),
            repeat: out.repeat,
            a: String::new(),
            b: String::new(),
        };
        self.tallies
            .range(start..)
            .take_while(move |(c, _)| {
                c.run_id == out.run_id && c.case_id == out.case_id && c.repeat == out.repeat
            })
            .filter(move |(c, _)| c.a == out.variant || c.b == out.variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(case: &str) -> ComparisonKey {
        ComparisonKey {
            run_id: "r".into(),
            case_id: case.into(),
            repeat: 0,
            a: "x".into(),
            b: "y".into(),
        }
    }

    fn rating(case: &str, rater: &str, winner: Winner, at_ms: u64) -> RatingRecord {
        RatingRecord {
            session: "s".into(),
            rater: rater.into(),
            comparison: key(case),
            left: "x".into(),
            winner,
            scores: BTreeMap::new(),
            note: None,
            labels: std::collections::BTreeMap::new(),
            gold: false,
            elapsed_ms: 100,
            at_ms,
            seq: 0,
        }
    }

    fn out(case: &str, variant: &str) -> OutputRef {
        OutputRef {
            run_id: "r".into(),
            case_id: case.into(),
            repeat: 0,
            variant: variant.into(),
        }
    }

    #[test]
    fn consensus_needs_k_agreeing_raters_and_no_tie() {
        let t = |a, b, tie, both_bad| Tally {
            a,
            b,
            tie,
            both_bad,
        };
        assert_eq!(t(2, 0, 0, 0).consensus(2), Ok(Side::A));
        assert_eq!(t(0, 3, 0, 0).consensus(2), Ok(Side::B));
        assert_eq!(t(1, 0, 0, 0).consensus(2), Err(NoConsensus::TooFewRaters));
        assert_eq!(t(2, 0, 1, 0).consensus(2), Err(NoConsensus::Tie));
        assert_eq!(t(2, 0, 0, 1).consensus(2), Err(NoConsensus::BothBad));
        assert_eq!(t(2, 1, 0, 0).consensus(2), Err(NoConsensus::Disagree));
        assert_eq!(t(0, 0, 0, 0).consensus(0), Err(NoConsensus::TooFewRaters));
        assert_eq!(t(1, 0, 0, 0).consensus(1), Ok(Side::A));
    }

    #[test]
    fn a_rater_counts_once_with_the_latest_verdict() {
        let idx = RatingIndex::from_ratings([
            rating("c1", "ana", Winner::A, 10),
            rating("c1", "ana", Winner::B, 20),
            rating("c1", "bo", Winner::B, 15),
        ]);
        assert_eq!(
            idx.tallies.get(&key("c1")),
            Some(&Tally {
                a: 0,
                b: 2,
                tie: 0,
                both_bad: 0
            })
        );
        assert_eq!(idx.raters.len(), 2);
        assert_eq!(idx.standing(&out("c1", "y"), 2), Standing::Won);
        assert_eq!(idx.standing(&out("c1", "x"), 2), Standing::Lost);
        assert_eq!(idx.standing(&out("c1", "y"), 3), Standing::NoConsensus);
        assert_eq!(idx.standing(&out("c2", "y"), 2), Standing::Unrated);
        assert_eq!(idx.standing(&out("c1", "z"), 2), Standing::Unrated);
    }

    #[test]
    fn rubric_scores_average_over_raters() {
        let mut a = rating("c1", "ana", Winner::A, 10);
        a.scores
            .insert("x".into(), BTreeMap::from([("accuracy".into(), 5)]));
        let mut b = rating("c1", "bo", Winner::A, 11);
        b.scores.insert(
            "x".into(),
            BTreeMap::from([("accuracy".into(), 4), ("tone".into(), 2)]),
        );
        let idx = RatingIndex::from_ratings([a, b]);
        assert_eq!(idx.mean_score(&out("c1", "x"), "accuracy"), Some(4.5));
        assert_eq!(idx.mean_score(&out("c1", "x"), "tone"), Some(2.0));
        assert_eq!(idx.mean_score(&out("c1", "y"), "accuracy"), None);
    }
}
