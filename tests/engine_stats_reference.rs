//! Loupe's statistics against reference implementations (scipy, statsmodels, numpy,
//! the `krippendorff` package, and an independent scipy.optimize fit of the
//! Bradley–Terry–Davidson likelihood). The expected values were computed by
//! `tests/reference/gen_stats.py` into `tests/reference/stats_fixtures.json`.
//!
//! Deterministic quantities must agree to 1e-6 (relative for tiny p-values).
//! Bootstrap quantities are Monte-Carlo: they must be identical for a fixed seed and
//! within the tolerance stated at each check of the reference.

mod common;

use loupe::eval::stats::{self, Comparison, Level, Outcome, PairCounts};
use loupe::eval::verdicts::{self, AnalyseOptions};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

fn fixtures() -> Value {
    common::reference::fixtures("stats_fixtures.json")
}

fn cases<'a>(fixtures: &'a Value, key: &str) -> &'a Vec<Value> {
    fixtures[key]
        .as_array()
        .unwrap_or_else(|| panic!("fixtures have no {key} list"))
}

fn num(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {value}"))
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().expect("a list").iter().map(num).collect()
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("expected a count, got {value}"))
}

/// `|actual − expected| ≤ 1e-6 × max(1, |expected|)`.
#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    let scale = expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= TOLERANCE * scale,
        "{what}: got {actual}, expected {expected}"
    );
}

#[track_caller]
fn assert_close_option(actual: Option<f64>, expected: &Value, what: &str) {
    match (actual, expected.as_f64()) {
        (Some(a), Some(e)) => assert_close(a, e, what),
        (None, None) => {}
        _ => panic!("{what}: got {actual:?}, expected {expected}"),
    }
}

fn table(value: &Value) -> Vec<Vec<u64>> {
    value
        .as_array()
        .expect("a table")
        .iter()
        .map(|row| row.as_array().expect("a row").iter().map(count).collect())
        .collect()
}

#[test]
fn normal_quantiles_match_scipy() {
    for case in cases(&fixtures(), "z") {
        let confidence = num(&case["confidence"]);
        assert_close(
            stats::z_for_confidence(confidence),
            num(&case["z"]),
            &format!("z at {confidence}"),
        );
    }
}

#[test]
fn wilson_intervals_match_statsmodels() {
    for case in cases(&fixtures(), "wilson") {
        let (successes, trials, confidence) = (
            num(&case["successes"]),
            num(&case["trials"]),
            num(&case["confidence"]),
        );
        let interval =
            stats::wilson_interval(successes, trials, stats::z_for_confidence(confidence));
        let what = format!("wilson {successes}/{trials} at {confidence}");
        assert_close(interval.low, num(&case["low"]), &what);
        assert_close(interval.high, num(&case["high"]), &what);
        if successes.fract() == 0.0 {
            let rate = stats::rate(successes as u64, trials as u64, confidence);
            assert_eq!((rate.low, rate.high), (interval.low, interval.high));
            assert_close(
                rate.estimate.expect("trials > 0"),
                successes / trials,
                &what,
            );
        }
    }
}

#[test]
fn percentiles_match_numpy_linear() {
    for case in cases(&fixtures(), "percentiles") {
        let values = numbers(&case["values"]);
        let p = stats::percentiles(&values).expect("non-empty sample");
        assert_close(p.p50, num(&case["p50"]), "p50");
        assert_close(p.p95, num(&case["p95"]), "p95");
        assert_close(p.p99, num(&case["p99"]), "p99");
    }
}

#[test]
fn cost_totals_match_numpy() {
    for case in cases(&fixtures(), "cost") {
        let summary = stats::cost_summary(&numbers(&case["costs"]));
        assert_close(summary.total, num(&case["total"]), "total");
        assert_close(
            summary.per_1k_requests.expect("requests"),
            num(&case["per_1k"]),
            "per 1k",
        );
    }
}

#[test]
fn sign_tests_match_scipy_binomtest() {
    for case in cases(&fixtures(), "sign_test") {
        let (wins, losses) = (count(&case["wins"]), count(&case["losses"]));
        let (actual, expected) = (stats::sign_test(wins, losses), num(&case["p"]));
        let what = format!("binomtest({wins}, {})", wins + losses);
        assert_close(actual, expected, &what);
        // Tiny p-values must be right in relative terms too, not merely near zero.
        assert!(
            (actual - expected).abs() <= TOLERANCE * expected,
            "{what}: got {actual}, expected {expected}"
        );
    }
}

#[test]
fn holm_matches_statsmodels_multipletests() {
    for case in cases(&fixtures(), "holm") {
        let adjusted = stats::holm_adjust(&numbers(&case["p"]));
        for (a, e) in adjusted.iter().zip(numbers(&case["adjusted"])) {
            assert_close(*a, e, "holm");
        }
    }
}

/// The reference is a plain linear search for the first significant total.
#[test]
fn judgements_needed_matches_a_linear_search() {
    for case in cases(&fixtures(), "judgements_needed") {
        let (wins, losses, alpha) = (
            count(&case["wins"]),
            count(&case["losses"]),
            num(&case["alpha"]),
        );
        assert_eq!(
            stats::judgements_needed(wins, losses, alpha),
            Some(count(&case["needed"])),
            "{wins}-{losses} at {alpha}"
        );
    }
}

#[test]
fn cohens_kappa_matches_statsmodels() {
    for case in cases(&fixtures(), "cohen") {
        assert_close_option(
            stats::cohens_kappa(&table(&case["table"])),
            &case["kappa"],
            "cohen",
        );
    }
}

#[test]
fn fleiss_kappa_matches_statsmodels() {
    for case in cases(&fixtures(), "fleiss") {
        let result = stats::fleiss_kappa(&table(&case["table"]));
        assert_close_option(result.kappa, &case["kappa"], "fleiss");
        assert_eq!(result.items as u64, count(&case["items"]));
        assert_eq!(result.raters_per_item, count(&case["raters_per_item"]));
    }
}

#[test]
fn krippendorff_alpha_matches_the_krippendorff_package() {
    for (index, case) in cases(&fixtures(), "krippendorff").iter().enumerate() {
        // Reliability data is raters × units with nulls; Loupe takes each unit's values.
        let rows: Vec<&Vec<Value>> = case["reliability_data"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r.as_array().expect("a row"))
            .collect();
        let units: Vec<Vec<f64>> = (0..rows[0].len())
            .map(|u| rows.iter().filter_map(|row| row[u].as_f64()).collect())
            .collect();
        for (level, key) in [
            (Level::Nominal, "nominal"),
            (Level::Ordinal, "ordinal"),
            (Level::Interval, "interval"),
        ] {
            let actual = stats::krippendorff_alpha(&units, level);
            assert_close_option(actual, &case[key], &format!("dataset {index}, {key}"));
        }
    }
}

fn pair_counts(case: &Value) -> PairCounts {
    let mut counts = PairCounts::new(count(&case["variants"]) as usize);
    for pair in case["pairs"].as_array().expect("pairs") {
        let [i, j, wi, wj, t] = [0, 1, 2, 3, 4].map(|k| count(&pair[k]));
        let (first, second) = (i as usize, j as usize);
        for (outcome, n) in [
            (Outcome::FirstWins, wi),
            (Outcome::SecondWins, wj),
            (Outcome::Tie, t),
        ] {
            counts.add(
                Comparison {
                    first,
                    second,
                    outcome,
                },
                n as f64,
            );
        }
    }
    counts
}

#[test]
fn bradley_terry_davidson_matches_an_independent_scipy_fit() {
    for case in cases(&fixtures(), "bradley_terry") {
        let options = stats::BradleyTerryOptions {
            prior_precision: num(&case["prior_precision"]),
            ..Default::default()
        };
        let fit = stats::fit_bradley_terry(&pair_counts(case), &options, None);
        let what = format!(
            "{} variants, precision {}",
            case["variants"], options.prior_precision
        );
        assert!(fit.converged, "{what}: did not converge");
        for (a, e) in fit
            .log_strengths
            .iter()
            .zip(numbers(&case["log_strengths"]))
        {
            assert_close(*a, e, &what);
        }
        assert_close(
            fit.tie_parameter.expect("decisive outcomes exist"),
            num(&case["tie_parameter"]),
            &what,
        );
        assert_close(fit.log_likelihood, num(&case["log_likelihood"]), &what);
        // Warm-starting from the answer must give the answer.
        let again = stats::fit_bradley_terry(&pair_counts(case), &options, Some(&fit));
        for (a, e) in again.log_strengths.iter().zip(&fit.log_strengths) {
            assert_close(*a, *e, &what);
        }
    }
}

/// Expands tallies into individual comparisons, in a fixed order.
fn comparisons(counts: &PairCounts) -> Vec<Comparison> {
    let k = counts.variants();
    let mut out = Vec::new();
    for first in 0..k {
        for second in first + 1..k {
            for (outcome, n) in [
                (Outcome::FirstWins, counts.wins(first, second)),
                (Outcome::SecondWins, counts.wins(second, first)),
                (Outcome::Tie, counts.ties(first, second)),
            ] {
                out.extend(std::iter::repeat_n(
                    Comparison {
                        first,
                        second,
                        outcome,
                    },
                    n as usize,
                ));
            }
        }
    }
    out
}

/// Seeded bootstrap intervals are reproducible, differ with the seed, contain the
/// reference point estimate, and are centred on it to within a quarter of their width
/// (the sampling distribution of a log-strength is close to symmetric at this size).
#[test]
fn bradley_terry_bootstrap_is_reproducible_and_brackets_the_reference() {
    let fixtures = fixtures();
    let case = cases(&fixtures, "bradley_terry")
        .iter()
        .find(|c| count(&c["variants"]) == 4 && (num(&c["prior_precision"]) - 0.01).abs() < 1e-12)
        .expect("the 4-variant dataset");
    let counts = pair_counts(case);
    let options = stats::BradleyTerryOptions::default();
    let fit = stats::fit_bradley_terry(&counts, &options, None);
    let data = comparisons(&counts);
    let run = |seed| stats::bootstrap_bradley_terry(&data, 4, &options, &fit, 400, 0.95, seed);
    let first = run(7);
    assert_eq!(first, run(7), "same seed, same intervals");
    assert_ne!(first, run(8), "another seed, other resamples");
    assert_eq!(first.unconverged, 0);
    for (interval, reference) in first
        .log_strength_intervals
        .iter()
        .zip(numbers(&case["log_strengths"]))
    {
        assert!(
            interval.low < reference && reference < interval.high,
            "{interval:?} misses {reference}"
        );
        let centre = f64::midpoint(interval.low, interval.high);
        assert!(
            (centre - reference).abs() < 0.25 * (interval.high - interval.low),
            "{interval:?} vs {reference}"
        );
    }
    let nu = first.tie_parameter_interval.expect("ties exist");
    let reference = num(&case["tie_parameter"]);
    assert!(
        nu.low < reference && reference < nu.high,
        "{nu:?} misses {reference}"
    );
}

/// scipy's percentile bootstrap used 50,000 resamples, Loupe 20,000: the endpoints are
/// each within about 0.06 standard errors of the exact bootstrap quantile, so 0.25
/// standard errors is a safe bound on their difference.
#[test]
fn paired_bootstrap_matches_scipy_within_monte_carlo_error() {
    for case in cases(&fixtures(), "paired_bootstrap") {
        let differences = numbers(&case["differences"]);
        let confidence = num(&case["confidence"]);
        let result = stats::paired_bootstrap(&differences, 20_000, confidence, 42).expect("data");
        assert_eq!(
            Some(result),
            stats::paired_bootstrap(&differences, 20_000, confidence, 42)
        );
        // Integer differences put both endpoints on a coarse grid, where another seed
        // can land on the same values; fractional ones cannot.
        if differences.iter().any(|d| d.fract() != 0.0) {
            assert_ne!(
                Some(result),
                stats::paired_bootstrap(&differences, 20_000, confidence, 43)
            );
        }
        assert_close(result.estimate, num(&case["estimate"]), "mean difference");
        let bound = 0.25 * num(&case["standard_error"]);
        for (actual, key) in [(result.low, "low"), (result.high, "high")] {
            let expected = num(&case[key]);
            assert!(
                (actual - expected).abs() <= bound,
                "{key}: got {actual}, scipy {expected}, bound {bound}"
            );
        }
    }
}

#[test]
fn the_whole_analysis_matches_the_reference() {
    let fixtures = fixtures();
    let expected = &fixtures["analyse"];
    let lines: Vec<&str> = expected["jsonl"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().expect("a line"))
        .collect();
    let parsed = verdicts::parse_verdicts(lines.join("\n").as_bytes(), "fixture.jsonl")
        .expect("valid verdicts");
    assert_eq!(parsed.len(), lines.len());
    let options = AnalyseOptions {
        seed: 3,
        bootstrap_resamples: 200,
        alpha: num(&expected["alpha"]),
    };
    let report = verdicts::analyse(&parsed, &options);
    assert_eq!(
        report,
        verdicts::analyse(&parsed, &options),
        "the report is reproducible"
    );

    let names: Vec<&str> = report.variants.iter().map(String::as_str).collect();
    let expected_names: Vec<&str> = expected["variants"]
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    assert_eq!(names, expected_names);

    assert_eq!(report.pairs.len(), cases(expected, "pairs").len());
    for (actual, e) in report.pairs.iter().zip(cases(expected, "pairs")) {
        assert_eq!(actual.first, e["first"].as_str().expect("first"));
        assert_eq!(actual.second, e["second"].as_str().expect("second"));
        assert_eq!(
            [
                actual.first_wins,
                actual.second_wins,
                actual.ties,
                actual.both_bad
            ],
            ["first_wins", "second_wins", "ties", "both_bad"].map(|k| count(&e[k]))
        );
        let what = format!("{} vs {}", actual.first, actual.second);
        assert_close(
            actual.win_rate.estimate.expect("decisive"),
            num(&e["win_rate"]),
            &what,
        );
        assert_close(actual.win_rate.low, num(&e["win_rate_low"]), &what);
        assert_close(actual.win_rate.high, num(&e["win_rate_high"]), &what);
        assert_close(actual.sign_test_p, num(&e["p"]), &what);
        assert_close(actual.holm_p, num(&e["holm_p"]), &what);
    }

    let ranking = report.ranking.as_ref().expect("three variants");
    for variant in &ranking.variants {
        let e = num(&expected["ranking"]["log_strengths"][&variant.name]);
        assert_close(variant.log_strength, e, &variant.name);
        assert!(
            variant.interval.low <= variant.log_strength
                && variant.log_strength <= variant.interval.high
        );
    }
    assert_close(
        ranking.tie_parameter.expect("decisive"),
        num(&expected["ranking"]["tie_parameter"]),
        "nu",
    );
    assert!(ranking.connected);

    let bias = &expected["position_bias"];
    assert_eq!(report.position_bias.a_wins, count(&bias["a_wins"]));
    assert_eq!(report.position_bias.decisive, count(&bias["decisive"]));
    assert_close(report.position_bias.rate.low, num(&bias["low"]), "bias low");
    assert_close(
        report.position_bias.rate.high,
        num(&bias["high"]),
        "bias high",
    );
    assert_close(report.position_bias.sign_test_p, num(&bias["p"]), "bias p");

    let agreement = &report.agreement;
    assert_eq!(agreement.cohen.len(), cases(expected, "cohen").len());
    for (actual, e) in agreement.cohen.iter().zip(cases(expected, "cohen")) {
        assert_eq!(actual.rater_1, e["rater_1"].as_str().expect("rater"));
        assert_eq!(actual.rater_2, e["rater_2"].as_str().expect("rater"));
        assert_eq!(actual.shared_units, count(&e["shared_units"]));
        assert_close_option(actual.kappa, &e["kappa"], "cohen");
    }
    assert_close_option(
        agreement.fleiss.kappa,
        &expected["fleiss"]["kappa"],
        "fleiss",
    );
    assert_eq!(
        agreement.fleiss.items as u64,
        count(&expected["fleiss"]["items"])
    );
    assert_eq!(
        agreement.fleiss.raters_per_item,
        count(&expected["fleiss"]["raters_per_item"])
    );
    assert_close_option(
        agreement.krippendorff_alpha_nominal,
        &expected["krippendorff_nominal"],
        "alpha",
    );
    let rubric = expected["rubric_ordinal"].as_object().expect("dimensions");
    assert_eq!(agreement.rubric.len(), rubric.len());
    for dimension in &agreement.rubric {
        assert_close_option(
            dimension.krippendorff_alpha_ordinal,
            &rubric[&dimension.dimension],
            &dimension.dimension,
        );
    }

    // The JSON is the documented shape and the table names every variant.
    let json = serde_json::to_value(&report).expect("serialisable");
    for key in [
        "verdicts",
        "items",
        "raters",
        "variants",
        "pairs",
        "ranking",
        "position_bias",
        "agreement",
        "notes",
    ] {
        assert!(json.get(key).is_some(), "report JSON lacks {key}");
    }
    let text = verdicts::render_table(&report);
    for name in &report.variants {
        assert!(text.contains(name.as_str()), "table lacks {name}:\n{text}");
    }
}
