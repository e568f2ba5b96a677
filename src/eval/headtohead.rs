//! Head to head of two variants over the same cases: what `loupe compare` reports and
//! `loupe gate` decides on. Pure: the caller turns outputs or judgements into one score
//! difference per case.
//!
//! Definitions:
//! - Each case gives one difference `d = score(a) − score(b)` (scores averaged over
//!   repeats first). `d > 0` is a win for `a`, `d < 0` a loss, `d = 0` a tie.
//! - `win_rate` is wins / (wins + losses): ties are left out of the rate and of the sign
//!   test, and counted separately, so both speak about the same cases (the convention of
//!   Dixon & Mood 1946 for the sign test; see [`stats::sign_test`]).
//! - `mean_difference` is the mean of `d` over every case, ties included, with a paired
//!   bootstrap percentile interval (cases resampled, [`stats::paired_bootstrap`]).

use serde::Serialize;

use crate::eval::stats::{self, BootstrapInterval, Rate};

/// Differences this close to zero are ties (scores are averages of a few repeats).
const TIE_TOLERANCE: f64 = 1e-12;

/// Settings of a head to head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Significance level; intervals are at confidence 1 − alpha.
    pub alpha: f64,
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            resamples: 2000,
            seed: 1,
        }
    }
}

/// One case's score difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseDifference {
    pub case: String,
    pub a: f64,
    pub b: f64,
    pub difference: f64,
}

/// The result, serialised as `loupe compare --format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadToHead {
    pub a: String,
    pub b: String,
    /// What was compared: `pass_all`, `check <name>` or `judge <id>`.
    pub by: String,
    pub cases: usize,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    /// `a`'s share of the cases with a winner (ties excluded), with a Wilson interval.
    pub win_rate: Rate,
    /// Exact two-sided sign test of wins against losses.
    pub sign_test_p: f64,
    /// Mean of `score(a) − score(b)` with a paired bootstrap interval; `null` with no case.
    pub mean_difference: Option<BootstrapInterval>,
    pub alpha: f64,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    pub ties_rule: &'static str,
    pub per_case: Vec<CaseDifference>,
}

/// Computes the head to head of `a` against `b` from per-case scores.
pub fn compare(
    a: &str,
    b: &str,
    by: &str,
    per_case: Vec<CaseDifference>,
    options: &Options,
) -> HeadToHead {
    let alpha = if options.alpha > 0.0 && options.alpha < 1.0 {
        options.alpha
    } else {
        0.05
    };
    let confidence = 1.0 - alpha;
    let (mut wins, mut ties, mut losses) = (0u64, 0u64, 0u64);
    for c in &per_case {
        if c.difference > TIE_TOLERANCE {
            wins += 1;
        } else if c.difference < -TIE_TOLERANCE {
            losses += 1;
        } else {
            ties += 1;
        }
    }
    let differences: Vec<f64> = per_case.iter().map(|c| c.difference).collect();
    HeadToHead {
        a: a.to_owned(),
        b: b.to_owned(),
        by: by.to_owned(),
        cases: per_case.len(),
        wins,
        ties,
        losses,
        win_rate: stats::rate(wins, wins + losses, confidence),
        sign_test_p: stats::sign_test(wins, losses),
        mean_difference: stats::paired_bootstrap(
            &differences,
            options.resamples,
            confidence,
            options.seed,
        ),
        alpha,
        confidence,
        resamples: options.resamples,
        seed: options.seed,
        ties_rule: "ties are excluded from the win rate and the sign test, included in the mean difference",
        per_case,
    }
}

/// Which test of wins against losses a gate decides with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateTest {
    /// The exact sign test: valid when the cases were fixed before anyone looked.
    FixedSample,
    /// The anytime-valid Beta-mixture test ([`stats::mixture_log_e_value`]): valid however
    /// often the gate was run before, as cases or judgements were added.
    Sequential,
}

/// What `loupe gate` decided and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateDecision {
    pub passed: bool,
    /// The test the significance condition used.
    pub test: GateTest,
    /// With [`GateTest::Sequential`]: the test's figures on the candidate's wins and losses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<stats::SequentialTest>,
    pub min_effect: f64,
    /// One line per condition, each saying whether it held.
    pub reasons: Vec<String>,
    /// Whether each condition of `reasons` held, in the same order.
    pub met: Vec<bool>,
}

/// The candidate (`a` of `h2h`) passes when it wins more cases than it loses, the test
/// (the sign test, or with [`GateTest::Sequential`] the anytime-valid test) is
/// significant at `alpha` (p < alpha), the lower end of the bootstrap interval of the
/// mean difference is above 0, and the mean difference is at least `min_effect`.
pub fn gate(h2h: &HeadToHead, min_effect: f64, test: GateTest) -> GateDecision {
    let mut reasons = Vec::new();
    let mut met = Vec::new();
    let more_wins = h2h.wins > h2h.losses;
    met.push(more_wins);
    reasons.push(format!(
        "{} {} more cases than it lost ({} won, {} lost, {} tied)",
        h2h.a,
        if more_wins { "won" } else { "did not win" },
        h2h.wins,
        h2h.losses,
        h2h.ties
    ));
    let (significant, sequential) = match test {
        GateTest::FixedSample => {
            let significant = h2h.sign_test_p < h2h.alpha;
            reasons.push(format!(
                "sign test (fixed-sample) p = {:.4} {} alpha {}",
                h2h.sign_test_p,
                if significant { "<" } else { ">=" },
                h2h.alpha
            ));
            (significant, None)
        }
        GateTest::Sequential => {
            let seq = stats::sequential_test(h2h.wins, h2h.losses, h2h.alpha);
            reasons.push(format!(
                "sequential test (anytime-valid) p = {:.4} {} alpha {} (e-value {:.2}{} 1/alpha)",
                seq.p,
                if seq.may_stop { "<" } else { ">=" },
                h2h.alpha,
                seq.e_value,
                if seq.may_stop { " >" } else { " <=" },
            ));
            (seq.may_stop, Some(seq))
        }
    };
    met.push(significant);
    let (interval_above, big_enough) = if let Some(m) = &h2h.mean_difference {
        let above = m.low > 0.0;
        met.push(above);
        reasons.push(format!(
            "{:.0}% interval of the mean difference [{:.4}, {:.4}] {}",
            h2h.confidence * 100.0,
            m.low,
            m.high,
            if above {
                "is above 0"
            } else {
                "includes 0 or less"
            }
        ));
        let big = m.estimate >= min_effect;
        met.push(big);
        reasons.push(format!(
            "mean difference {:.4} {} min effect {min_effect}",
            m.estimate,
            if big { ">=" } else { "<" }
        ));
        (above, big)
    } else {
        reasons.push("no case was scored for both variants".to_owned());
        met.push(false);
        (false, false)
    };
    GateDecision {
        passed: more_wins && significant && interval_above && big_enough,
        test,
        sequential,
        min_effect,
        reasons,
        met,
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn cases(diffs: &[f64]) -> Vec<CaseDifference> {
        diffs
            .iter()
            .enumerate()
            .map(|(i, &d)| CaseDifference {
                case: format!("c{i}"),
                a: d.max(0.0),
                b: (-d).max(0.0),
                difference: d,
            })
            .collect()
    }

    #[test]
    fn counts_and_tests_wins_against_losses_only() {
        let h = compare(
            "x",
            "y",
            "pass_all",
            cases(&[1.0, 1.0, 0.0, -1.0, 0.5]),
            &Options::default(),
        );
        assert_eq!((h.wins, h.ties, h.losses), (3, 1, 1));
        assert_eq!(h.win_rate.estimate, Some(0.75));
        // scipy.stats.binomtest(3, 4, 0.5).pvalue == 0.625
        assert!((h.sign_test_p - 0.625).abs() < 1e-12);
        let m = h.mean_difference.expect("cases");
        assert!((m.estimate - 0.3).abs() < 1e-12);
        assert!(m.low <= m.estimate && m.estimate <= m.high);
    }

    #[test]
    fn the_bootstrap_is_reproducible() {
        let diffs = cases(&[1.0, 0.0, 1.0, -1.0, 1.0, 1.0, 0.0, 1.0]);
        let one = compare("x", "y", "j", diffs.clone(), &Options::default());
        let two = compare("x", "y", "j", diffs, &Options::default());
        assert_eq!(one, two);
    }

    #[test]
    fn gate_needs_significance_and_effect() {
        let strong = compare("c", "b", "pass_all", cases(&[1.0; 12]), &Options::default());
        let d = gate(&strong, 0.05, GateTest::FixedSample);
        assert!(d.passed, "{:?}", d.reasons);
        let too_small = gate(&strong, 1.5, GateTest::FixedSample);
        assert!(!too_small.passed);
        assert!(too_small.reasons.iter().any(|r| r.contains("< min effect")));

        let weak = compare(
            "c",
            "b",
            "pass_all",
            cases(&[1.0, 1.0, -1.0, 0.0]),
            &Options::default(),
        );
        let d = gate(&weak, 0.0, GateTest::FixedSample);
        assert!(!d.passed);
        assert!(d.reasons.iter().any(|r| r.contains(">= alpha")));

        let none = compare("c", "b", "pass_all", Vec::new(), &Options::default());
        assert!(!gate(&none, 0.0, GateTest::FixedSample).passed);
        assert_eq!(none.sign_test_p, 1.0);
    }

    #[test]
    fn a_sequential_gate_asks_for_more_evidence_than_one_look() {
        // 12 of 12 cases won: the sign test gives p = 0.0005, and the e-value
        // 2^12 B(17, 5) / B(5, 5) = 25.4 also passes 1/alpha = 20.
        let strong = compare("c", "b", "pass_all", cases(&[1.0; 12]), &Options::default());
        let d = gate(&strong, 0.05, GateTest::Sequential);
        assert!(d.passed, "{:?}", d.reasons);
        let seq = d.sequential.expect("figures");
        assert!((seq.e_value - 25.362_229).abs() < 1e-5, "{seq:?}");
        assert!(
            d.reasons
                .iter()
                .any(|r| r.starts_with("sequential test (anytime-valid)"))
        );
        // 9 won, 1 lost: enough for one look (p = 0.021), not for a gate run at every look
        // (E = 3.96).
        let mut diffs = vec![1.0; 9];
        diffs.push(-1.0);
        let once = compare("c", "b", "pass_all", cases(&diffs), &Options::default());
        assert!(gate(&once, 0.0, GateTest::FixedSample).passed);
        let d = gate(&once, 0.0, GateTest::Sequential);
        assert!(!d.passed && !d.met[1], "{:?}", d.reasons);
        assert_eq!(d.test, GateTest::Sequential);
    }
}
