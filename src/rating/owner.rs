//! The owner's view of a rating session: progress per rater, agreement, win rates,
//! ranking, position bias, gold accuracy and how many more judgements the leading pair
//! needs. Every figure comes from `eval::stats` and `eval::verdicts`; this module only
//! turns stored ratings into their inputs.
//!
//! Gold items measure raters, not variants: they are left out of the win rates, the
//! ranking, the position bias and the agreement, and reported as each rater's accuracy.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::eval::stats::{self, FleissKappa, Rate};
use crate::eval::verdicts::{self, AnalyseOptions, SideScores, StatsReport, Verdict, Winner};
use crate::session::Session;
use crate::store::{RaterRecord, RatingRecord};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterProgress {
    pub rater: String,
    /// Comparisons in the rater's queue (gold items included).
    pub assigned: usize,
    /// Of those, rated.
    pub done: usize,
    /// Regular comparisons in the queue not rated yet: reserved for this rater while they
    /// are active (released to others after `rating.release_after_minutes` idle).
    pub reserved: usize,
    pub gold_done: usize,
    pub gold_correct: usize,
    /// Share of rated gold items where the rater preferred the gold answer.
    pub gold_accuracy: Rate,
    /// Median seconds a comparison was on screen before the verdict.
    pub median_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionKappa {
    pub dimension: String,
    /// Fleiss' kappa on the scores taken as categories; the ordinal Krippendorff's alpha
    /// of the same dimension is in `stats.agreement.rubric`.
    pub fleiss: FleissKappa,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnerReport {
    pub session: String,
    pub ratings: usize,
    pub gold_ratings: usize,
    pub raters: Vec<RaterProgress>,
    pub rubric_kappa: Vec<DimensionKappa>,
    /// Failure-mode labels per variant: each label the session offers, with its count and
    /// rate among the variant's rated outputs (gold items aside).
    pub labels: Vec<crate::rating::labels::LabelCount>,
    /// Each LLM judge of the rated runs against the raters: Cohen's kappa against their
    /// consensus and the judge's both-orders consistency (filled in by the host, which
    /// reads the judgements; empty when no rated run was judged).
    pub judges: Vec<crate::eval::calibration::JudgeCalibration>,
    /// The calibration sample's coverage, when the session draws one (filled in by the
    /// host, which reads the runs and the judgements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::eval::calibration::CalibrationSample>,
    pub stats: StatsReport,
}

impl OwnerReport {
    /// The pair nearest to a decision: the smallest sign-test p-value among the pairs
    /// with a winner so far.
    pub fn leading_pair(&self) -> Option<&verdicts::PairStats> {
        self.stats
            .pairs
            .iter()
            .filter(|p| p.first_wins != p.second_wins)
            .min_by(|x, y| x.sign_test_p.total_cmp(&y.sign_test_p))
    }
}

/// The item a rating is about, as `loupe stats` names items: run, case and repeat.
pub fn item_id(r: &RatingRecord) -> String {
    format!(
        "{}/{}#{}",
        r.comparison.run_id, r.comparison.case_id, r.comparison.repeat
    )
}

/// The ratings as verdicts in terms of screen sides (`a` is the left), so the position
/// bias is measured; gold items are left out.
pub fn verdicts(ratings: &[RatingRecord]) -> Vec<Verdict> {
    ratings
        .iter()
        .filter(|r| !r.gold)
        .map(|r| {
            let left = r.left.clone();
            let right = r.comparison.other(&left).to_owned();
            let winner = match r.preferred() {
                Some(v) if v == left => Winner::A,
                Some(_) => Winner::B,
                None if r.winner == crate::store::Winner::Tie => Winner::Tie,
                None => Winner::BothBad,
            };
            let side = |v: &str| -> BTreeMap<String, f64> {
                r.scores
                    .get(v)
                    .map(|m| m.iter().map(|(k, s)| (k.clone(), f64::from(*s))).collect())
                    .unwrap_or_default()
            };
            Verdict {
                rater: r.rater.clone(),
                item: item_id(r),
                scores: SideScores {
                    a: side(&left),
                    b: side(&right),
                },
                a: left,
                b: right,
                winner,
            }
        })
        .collect()
}

/// The whole owner's view from a session's rater records and ratings.
pub fn report(
    session: &Session,
    raters: &[RaterRecord],
    ratings: &[RatingRecord],
    options: &AnalyseOptions,
) -> OwnerReport {
    let gold_answer: HashMap<&str, &str> = session
        .cases
        .iter()
        .filter_map(|c| Some((c.id.as_str(), c.gold.as_deref()?)))
        .collect();
    let confidence = 1.0 - options.alpha;
    let mut names: BTreeSet<&str> = raters.iter().map(|r| r.rater.as_str()).collect();
    names.extend(ratings.iter().map(|r| r.rater.as_str()));
    let progress = names
        .into_iter()
        .map(|name| {
            let queue = raters.iter().find(|r| r.rater == name).map(|r| &r.queue);
            let mine: Vec<&RatingRecord> = ratings.iter().filter(|r| r.rater == name).collect();
            let rated: BTreeSet<_> = mine.iter().map(|r| &r.comparison).collect();
            let done = queue.map_or(rated.len(), |q| {
                q.iter().filter(|a| rated.contains(&a.comparison)).count()
            });
            let golds: Vec<&&RatingRecord> = mine.iter().filter(|r| r.gold).collect();
            let correct = golds
                .iter()
                .filter(|r| {
                    gold_answer
                        .get(r.comparison.case_id.as_str())
                        .is_some_and(|g| r.preferred() == Some(*g))
                })
                .count();
            let mut times: Vec<f64> = mine.iter().map(|r| r.elapsed_ms as f64 / 1000.0).collect();
            times.sort_by(f64::total_cmp);
            RaterProgress {
                rater: name.to_owned(),
                assigned: queue.map_or(0, Vec::len),
                done,
                reserved: raters
                    .iter()
                    .find(|r| r.rater == name)
                    .map_or(0, |r| crate::rating::queue::reserved_unrated(r, ratings)),
                gold_done: golds.len(),
                gold_correct: correct,
                gold_accuracy: stats::rate(correct as u64, golds.len() as u64, confidence),
                median_seconds: stats::quantile_sorted(&times, 0.5),
            }
        })
        .collect();
    let verdicts = verdicts(ratings);
    let stats = verdicts::analyse(&verdicts, options);
    OwnerReport {
        session: session.file.name.clone(),
        ratings: ratings.len(),
        gold_ratings: ratings.iter().filter(|r| r.gold).count(),
        raters: progress,
        rubric_kappa: rubric_kappa(session, &verdicts),
        labels: crate::rating::labels::counts(session, ratings, confidence),
        judges: Vec::new(),
        calibration: None,
        stats,
    }
}

/// Fleiss' kappa per rubric dimension: a unit is one item's output from one variant,
/// the categories are the scale's points; each rater's last score of a unit counts.
fn rubric_kappa(session: &Session, verdicts: &[Verdict]) -> Vec<DimensionKappa> {
    let mut dims: Vec<(String, usize)> = session
        .file
        .rubric
        .iter()
        .map(|d| (d.key.clone(), usize::from(d.scale.max(1))))
        .collect();
    // Scores for a dimension the session no longer lists still count.
    for v in verdicts {
        for key in v.scores.a.keys().chain(v.scores.b.keys()) {
            if !dims.iter().any(|(d, _)| d == key) {
                dims.push((key.clone(), 1));
            }
        }
    }
    dims.into_iter()
        .map(|(dimension, scale)| {
            // (item, variant) -> rater -> score
            let mut units: BTreeMap<(&str, &str), BTreeMap<&str, usize>> = BTreeMap::new();
            let mut top = scale;
            for v in verdicts {
                for (variant, scores) in [(&v.a, &v.scores.a), (&v.b, &v.scores.b)] {
                    if let Some(s) = scores.get(&dimension) {
                        let s = s.round().max(1.0) as usize;
                        top = top.max(s);
                        units
                            .entry((v.item.as_str(), variant.as_str()))
                            .or_default()
                            .insert(v.rater.as_str(), s);
                    }
                }
            }
            let table: Vec<Vec<u64>> = units
                .values()
                .map(|by_rater| {
                    let mut row = vec![0u64; top];
                    for s in by_rater.values() {
                        row[s - 1] += 1;
                    }
                    row
                })
                .collect();
            DimensionKappa {
                dimension,
                fleiss: stats::fleiss_kappa(&table),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ComparisonKey, Winner as W};

    fn rating(rater: &str, case: &str, left: &str, winner: W) -> RatingRecord {
        RatingRecord {
            session: "s".into(),
            rater: rater.into(),
            comparison: ComparisonKey {
                run_id: "r".into(),
                case_id: case.into(),
                repeat: 0,
                a: "x".into(),
                b: "y".into(),
            },
            left: left.into(),
            winner,
            scores: BTreeMap::new(),
            note: None,
            labels: std::collections::BTreeMap::new(),
            gold: false,
            elapsed_ms: 1000,
            at_ms: 1,
            seq: 0,
        }
    }

    #[test]
    fn verdicts_are_in_screen_sides() {
        let v = verdicts(&[
            rating("ana", "c1", "y", W::A),
            rating("ana", "c2", "x", W::A),
            rating("ana", "c3", "y", W::Tie),
        ]);
        assert_eq!((v[0].a.as_str(), v[0].winner), ("y", Winner::B));
        assert_eq!((v[1].a.as_str(), v[1].winner), ("x", Winner::A));
        assert_eq!(v[2].winner, Winner::Tie);
    }
}
