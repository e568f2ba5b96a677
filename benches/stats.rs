//! How long `loupe stats` takes on a large verdict file: the tallies, tests and
//! agreement statistics over 100k pairwise verdicts (target: under 50 ms), and the
//! Bradley–Terry bootstrap over 10 variants with 1,000 resamples (target: under 2 s).
//!
//! Run with `cargo bench --bench stats`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use loupe::eval::stats::{self, BradleyTerryOptions, Comparison, Outcome, PairCounts, Rng};
use loupe::eval::verdicts::{self, AnalyseOptions, Verdict, Winner};

const VERDICTS: usize = 100_000;
const VARIANTS: usize = 10;

/// 100k verdicts: 10 variants of increasing quality, 40 raters, each comparison
/// (item × pair) judged by two or three raters with random placement, and rubric
/// scores on a third of them.
fn synthetic_verdicts() -> Vec<Verdict> {
    let mut rng = Rng::new(2026);
    let names: Vec<String> = (0..VARIANTS).map(|v| format!("variant-{v}")).collect();
    let mut out = Vec::with_capacity(VERDICTS);
    let mut item = 0;
    while out.len() < VERDICTS {
        item += 1;
        let x = rng.below(VARIANTS as u64) as usize;
        let y = (x + 1 + rng.below(VARIANTS as u64 - 1) as usize) % VARIANTS;
        let raters = 2 + rng.below(2);
        for _ in 0..raters {
            let (a, b) = if rng.below(2) == 0 { (x, y) } else { (y, x) };
            let edge = (a as f64 - b as f64) * 0.08;
            let roll = rng.below(1000) as f64 / 1000.0;
            let winner = if roll < 0.1 {
                Winner::Tie
            } else if roll < 0.15 {
                Winner::BothBad
            } else if roll < 0.575 + edge / 2.0 {
                Winner::A
            } else {
                Winner::B
            };
            let mut verdict = Verdict {
                rater: format!("rater-{}", rng.below(40)),
                item: format!("case-{item}"),
                a: names[a].clone(),
                b: names[b].clone(),
                winner,
                scores: verdicts::SideScores::default(),
            };
            if rng.below(3) == 0 {
                verdict
                    .scores
                    .a
                    .insert("clarity".to_owned(), (1 + rng.below(5)) as f64);
                verdict
                    .scores
                    .b
                    .insert("clarity".to_owned(), (1 + rng.below(5)) as f64);
            }
            out.push(verdict);
        }
    }
    out.truncate(VERDICTS);
    out
}

fn comparisons(verdicts: &[Verdict]) -> Vec<Comparison> {
    let index = |name: &str| {
        name.trim_start_matches("variant-")
            .parse::<usize>()
            .unwrap_or(0)
    };
    verdicts
        .iter()
        .map(|v| Comparison {
            first: index(&v.a),
            second: index(&v.b),
            outcome: match v.winner {
                Winner::A => Outcome::FirstWins,
                Winner::B => Outcome::SecondWins,
                Winner::Tie | Winner::BothBad => Outcome::Tie,
            },
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let verdicts = synthetic_verdicts();
    let no_bootstrap = AnalyseOptions {
        bootstrap_resamples: 0,
        ..AnalyseOptions::default()
    };
    c.bench_function("analyse 100k verdicts, no bootstrap", |b| {
        b.iter(|| verdicts::analyse(black_box(&verdicts), &no_bootstrap));
    });

    let comparisons = comparisons(&verdicts);
    let options = BradleyTerryOptions::default();
    let counts = PairCounts::from_comparisons(VARIANTS, &comparisons);
    c.bench_function("bradley-terry fit, 10 variants", |b| {
        b.iter(|| stats::fit_bradley_terry(black_box(&counts), &options, None));
    });

    let mut slow = c.benchmark_group("bootstrap");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let fit = stats::fit_bradley_terry(&counts, &options, None);
    slow.bench_function(
        "bradley-terry 1000 resamples, 10 variants, 100k verdicts",
        |b| {
            b.iter(|| {
                stats::bootstrap_bradley_terry(
                    black_box(&comparisons),
                    VARIANTS,
                    &options,
                    &fit,
                    1000,
                    0.95,
                    1,
                )
            });
        },
    );
    slow.bench_function("analyse 100k verdicts, 1000 resamples", |b| {
        b.iter(|| verdicts::analyse(black_box(&verdicts), &AnalyseOptions::default()));
    });
    slow.finish();
}

criterion_group!(stats_benches, benches);
criterion_main!(stats_benches);
