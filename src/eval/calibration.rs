//! How far an LLM judge can stand in for people: on the comparisons both the judge and
//! human raters judged, Cohen's kappa between the judge's verdict and the raters'
//! consensus (with a bootstrap interval), and the judge's own consistency across the two
//! orders it is asked in.
//!
//! Both are put in terms of the variants, never positions: a comparison's outcome is
//! "the first variant (by name) better", "the second better" or "tie" (a human "both bad"
//! counts as a tie: neither was preferred). The human consensus of a comparison is its
//! raters' most common outcome (each rater's latest rating counts); a comparison whose
//! raters split evenly between two outcomes has no consensus and is left out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eval::stats::{self, Interval, Rate, Rng};
use crate::spec::{JudgePolicy, JudgeVerdict};
use crate::store::{JudgementRecord, RatingRecord};

/// A judge's calibration against the human raters of one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeCalibration {
    /// `template@model`.
    pub judge: String,
    /// Comparisons the judge answered (both orders, no failed request).
    pub judged: u64,
    /// Of those, the orders named the same winner (or both said tie).
    pub consistent: u64,
    /// `consistent / judged` with a Wilson interval.
    pub consistency: Rate,
    /// Comparisons with both a judge verdict and a human consensus.
    pub overlap: u64,
    /// Share of the overlap where the judge's verdict equals the consensus.
    pub agreement: Option<f64>,
    /// Cohen's kappa, judge against human consensus, over three outcomes.
    pub kappa: Option<f64>,
    /// Bootstrap percentile interval of the kappa (comparisons resampled).
    pub kappa_interval: Option<Interval>,
    pub resamples: usize,
    pub seed: u64,
}

/// One comparison, unordered: run, case, repeat and the two variants sorted.
type Unit = (String, String, u32, String, String);

fn unit(run: &str, case: &str, repeat: u32, a: &str, b: &str) -> Unit {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    (
        run.to_owned(),
        case.to_owned(),
        repeat,
        x.to_owned(),
        y.to_owned(),
    )
}

/// 0: the first variant (by name) better, 1: the second, 2: tie.
fn outcome(first: &str, preferred: Option<&str>) -> usize {
    match preferred {
        Some(p) if p == first => 0,
        Some(_) => 1,
        None => 2,
    }
}

/// The human consensus per comparison (see the module documentation).
pub fn human_consensus(ratings: &[RatingRecord]) -> BTreeMap<Unit, usize> {
    // Each rater's latest rating of each comparison.
    let mut latest: BTreeMap<(Unit, &str), &RatingRecord> = BTreeMap::new();
    for r in ratings {
        let c = &r.comparison;
        let key = (
            unit(&c.run_id, &c.case_id, c.repeat, &c.a, &c.b),
            r.rater.as_str(),
        );
        let newer = latest
            .get(&key)
            .is_none_or(|old| (r.at_ms, r.seq) >= (old.at_ms, old.seq));
        if newer {
            latest.insert(key, r);
        }
    }
    let mut votes: BTreeMap<Unit, [u32; 3]> = BTreeMap::new();
    for ((u, _), r) in latest {
        let o = outcome(&u.3, r.preferred());
        votes.entry(u).or_default()[o] += 1;
    }
    votes
        .into_iter()
        .filter_map(|(u, v)| {
            let top = *v.iter().max()?;
            let mut best = (0..3).filter(|&o| v[o] == top);
            let first = best.next()?;
            best.next().is_none().then_some((u, first))
        })
        .collect()
}

/// How far a rating session's calibration sample (`rating.calibration_share`) is covered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSample {
    pub share: f64,
    /// Comparisons in the sample.
    pub comparisons: u64,
    /// Of those, rated by at least one person.
    pub human_rated: u64,
    /// Of those, with a verdict of a judge (no failed request).
    pub judged: u64,
    /// Of those, with both: what the judge's calibration can use.
    pub both: u64,
}

/// Counts which comparisons of `sample` have human ratings, a judge verdict, or both.
pub fn sample_coverage(
    share: f64,
    sample: &std::collections::HashSet<crate::store::ComparisonKey>,
    judgements: &[JudgementRecord],
    ratings: &[RatingRecord],
) -> CalibrationSample {
    let key = |c: &crate::store::ComparisonKey| unit(&c.run_id, &c.case_id, c.repeat, &c.a, &c.b);
    let rated: std::collections::BTreeSet<Unit> =
        ratings.iter().map(|r| key(&r.comparison)).collect();
    let judged: std::collections::BTreeSet<Unit> = judgements
        .iter()
        .filter(|j| j.error.is_none())
        .map(|j| unit(&j.run_id, &j.case_id, j.repeat, &j.a, &j.b))
        .collect();
    let units: Vec<Unit> = sample.iter().map(key).collect();
    let count = |f: &dyn Fn(&Unit) -> bool| units.iter().filter(|u| f(u)).count() as u64;
    CalibrationSample {
        share,
        comparisons: units.len() as u64,
        human_rated: count(&|u| rated.contains(u)),
        judged: count(&|u| judged.contains(u)),
        both: count(&|u| rated.contains(u) && judged.contains(u)),
    }
}

/// Each judge's calibration against the ratings, judge ids in order.
pub fn calibrate(
    judgements: &[JudgementRecord],
    ratings: &[RatingRecord],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Vec<JudgeCalibration> {
    let consensus = human_consensus(ratings);
    let mut by_judge: BTreeMap<&str, Vec<&JudgementRecord>> = BTreeMap::new();
    for j in judgements.iter().filter(|j| j.error.is_none()) {
        by_judge.entry(&j.judge).or_default().push(j);
    }
    by_judge
        .into_iter()
        .map(|(judge, js)| {
            let judged = js.len() as u64;
            let consistent = js.iter().filter(|j| j.agreed).count() as u64;
            // (judge outcome, human outcome) per overlapping comparison.
            let pairs: Vec<(usize, usize)> = js
                .iter()
                .filter_map(|j| {
                    let u = unit(&j.run_id, &j.case_id, j.repeat, &j.a, &j.b);
                    let human = *consensus.get(&u)?;
                    let preferred = match j.verdict {
                        JudgeVerdict::A => Some(j.a.as_str()),
                        JudgeVerdict::B => Some(j.b.as_str()),
                        JudgeVerdict::Tie => None,
                    };
                    Some((outcome(&u.3, preferred), human))
                })
                .collect();
            let kappa_of = |pairs: &mut dyn Iterator<Item = (usize, usize)>| {
                let mut table = [[0u64; 3]; 3];
                for (j, h) in pairs {
                    table[j][h] += 1;
                }
                stats::cohens_kappa(&table)
            };
            let kappa = kappa_of(&mut pairs.iter().copied());
            let kappa_interval = kappa.and_then(|_| {
                let mut rng = Rng::new(seed);
                let n = pairs.len() as u64;
                let mut replicates: Vec<f64> = (0..resamples)
                    .filter_map(|_| kappa_of(&mut (0..n).map(|_| pairs[rng.below(n) as usize])))
                    .collect();
                replicates.sort_by(f64::total_cmp);
                let tail = (1.0 - confidence) / 2.0;
                Some(Interval {
                    low: stats::quantile_sorted(&replicates, tail)?,
                    high: stats::quantile_sorted(&replicates, 1.0 - tail)?,
                })
            });
            let agree = pairs.iter().filter(|(j, h)| j == h).count();
            JudgeCalibration {
                judge: judge.to_owned(),
                judged,
                consistent,
                consistency: stats::rate(consistent, judged, confidence),
                overlap: pairs.len() as u64,
                agreement: (!pairs.is_empty()).then(|| agree as f64 / pairs.len() as f64),
                kappa,
                kappa_interval,
                resamples,
                seed,
            }
        })
        .collect()
}

/// Whether the judge may decide a gate under `policy`; `Err` says why not in words,
/// with how many more human-rated comparisons are needed when that is the problem.
pub fn admits(
    calibration: Option<&JudgeCalibration>,
    judge: &str,
    policy: &JudgePolicy,
) -> Result<(), String> {
    let Some(bar) = policy.min_human_kappa else {
        return Ok(());
    };
    let overlap = calibration.map_or(0, |c| c.overlap);
    let need = u64::from(policy.min_overlap);
    if overlap < need {
        return Err(format!(
            "the judge {judge} is not calibrated against people on this session: {overlap} \
             comparison(s) of this run are both judged and human-rated, {need} are needed \
             (`judge.min_overlap`); rate {} more (`loupe rate SESSION --rater NAME`), then gate again",
            need - overlap
        ));
    }
    let kappa = calibration.and_then(|c| c.kappa);
    match kappa {
        Some(k) if k >= bar => Ok(()),
        Some(k) => {
            let interval = calibration
                .and_then(|c| c.kappa_interval)
                .map_or_else(String::new, |i| format!(" [{:.2}, {:.2}]", i.low, i.high));
            Err(format!(
                "the judge {judge} agrees with people too little on this session to stand in for \
                 them: Cohen's kappa {k:.2}{interval} on {overlap} comparisons, below \
                 `judge.min_human_kappa` {bar}; gate on human ratings, or improve the judge"
            ))
        }
        None => Err(format!(
            "the judge {judge}'s agreement with people is undefined on the {overlap} shared \
             comparisons (every verdict in one outcome); rate comparisons where the variants \
             differ, then gate again"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spec::Usage;
    use crate::store::{ComparisonKey, JudgeAsk, Winner};

    fn rating(rater: &str, case: &str, winner: Winner, at: u64) -> RatingRecord {
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
            left: "x".into(),
            winner,
            scores: BTreeMap::new(),
            note: None,
            labels: BTreeMap::new(),
            gold: false,
            elapsed_ms: 1,
            at_ms: at,
            seq: 0,
        }
    }

    fn ask() -> JudgeAsk {
        JudgeAsk {
            shown_a: String::new(),
            shown_b: String::new(),
            answer: String::new(),
            pick: None,
            error: None,
            request_hash: String::new(),
            cached: false,
            latency_ms: 0,
            usage: Usage::default(),
            p_first: None,
        }
    }

    /// A judgement with the pair the other way round (`y`, `x`), to check orientation.
    fn judged(case: &str, verdict: JudgeVerdict, agreed: bool) -> JudgementRecord {
        JudgementRecord {
            run_id: "r".into(),
            judge: "j@m".into(),
            template: "j".into(),
            template_version: String::new(),
            model_name: "m".into(),
            a: "y".into(),
            b: "x".into(),
            case_id: case.into(),
            repeat: 0,
            ab: ask(),
            ba: ask(),
            verdict,
            agreed,
            p_a: None,
            reason: String::new(),
            error: None,
            finished_ms: 0,
        }
    }

    #[test]
    fn consensus_takes_each_raters_latest_and_skips_even_splits() {
        let ratings = [
            rating("ana", "c1", Winner::A, 1),
            rating("ana", "c1", Winner::B, 2), // ana changed her mind
            rating("bo", "c1", Winner::B, 1),
            rating("ana", "c2", Winner::A, 1),
            rating("bo", "c2", Winner::B, 1), // split: no consensus
            rating("ana", "c3", Winner::BothBad, 1),
        ];
        let c = human_consensus(&ratings);
        let get = |case: &str| c.get(&unit("r", case, 0, "x", "y")).copied();
        assert_eq!(get("c1"), Some(1), "y better");
        assert_eq!(get("c2"), None);
        assert_eq!(get("c3"), Some(2), "both bad counts as a tie");
    }

    #[test]
    fn kappa_against_people_in_terms_of_variants() {
        // Humans: x, y, x, tie on c1..c4. The judge (pair given as y/x): x, y, y, tie.
        let ratings = [
            rating("ana", "c1", Winner::A, 1),
            rating("ana", "c2", Winner::B, 1),
            rating("ana", "c3", Winner::A, 1),
            rating("ana", "c4", Winner::Tie, 1),
        ];
        let judgements = [
            judged("c1", JudgeVerdict::B, true),
            judged("c2", JudgeVerdict::A, true),
            judged("c3", JudgeVerdict::A, false),
            judged("c4", JudgeVerdict::Tie, true),
            judged("c5", JudgeVerdict::Tie, false), // not human-rated
        ];
        let c = &calibrate(&judgements, &ratings, 0.95, 200, 1)[0];
        assert_eq!((c.judged, c.consistent, c.overlap), (5, 3, 4));
        assert_eq!(c.agreement, Some(0.75));
        // Table (judge rows x human columns): [[1,0,0],[1,1,0],[0,0,1]]:
        // p_o = 3/4, p_e = (1·2 + 2·1 + 1·1)/16 = 5/16, kappa = (12/16 − 5/16)/(11/16) = 7/11.
        let k = c.kappa.unwrap();
        assert!((k - 7.0 / 11.0).abs() < 1e-12, "{k}");
        let i = c.kappa_interval.unwrap();
        assert!(i.low <= k && k <= i.high, "{i:?}");
        assert!((c.consistency.estimate.unwrap() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn the_bar_refuses_too_little_overlap_and_too_little_agreement() {
        let policy = JudgePolicy {
            min_human_kappa: Some(0.6),
            min_overlap: 4,
            ..JudgePolicy::default()
        };
        let err = admits(None, "j@m", &policy).unwrap_err();
        assert!(
            err.contains("0 comparison(s)") && err.contains("rate 4 more"),
            "{err}"
        );
        let mut c = calibrate(&[judged("c1", JudgeVerdict::A, true)], &[], 0.95, 10, 1)
            .pop()
            .unwrap();
        c.overlap = 4;
        c.kappa = Some(0.3);
        let err = admits(Some(&c), "j@m", &policy).unwrap_err();
        assert!(err.contains("kappa 0.30") && err.contains("below"), "{err}");
        c.kappa = Some(0.7);
        assert!(admits(Some(&c), "j@m", &policy).is_ok());
        let off = JudgePolicy {
            min_human_kappa: None,
            min_overlap: 4,
            ..JudgePolicy::default()
        };
        assert!(admits(None, "j@m", &off).is_ok());
    }
}
