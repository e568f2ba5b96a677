//! Peeking: what happens to "p < 0.05" when the owner looks as ratings arrive, and what the
//! sequential test costs in judgements. A seeded simulation, not a timing: it prints the
//! figures the README's performance section quotes.
//!
//! - Null (no preference, 50/50, ties aside): 10,000 experiments, a look after every 10
//!   judgements up to 500, stopping at the first look that says "significant". The
//!   fixed-sample sign test's false-positive rate under such peeking, next to the
//!   sequential test's (which must stay at or below alpha = 0.05).
//! - The same with three pairs at once, each null, corrected by Holm: the family-wise rate.
//! - A true 60/40 preference: how many judgements the sequential test needs to stop (looks
//!   every 10, capped at 500: experiments still running at 500 count as 500 and are
//!   reported), and how often it stopped; the fixed-sample test's figures beside it.
//!
//! Run with `cargo bench --bench sequential` (about 10 s on one core).

use loupe::eval::stats::{self, Rng};

const EXPERIMENTS: usize = 10_000;
const LOOK_EVERY: u64 = 10;
const MAX_JUDGEMENTS: u64 = 500;
const ALPHA: f64 = 0.05;
const SEED: u64 = 20_261_205;

/// Uniform in [0, 1) from the top 53 bits.
fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// When (at which look) each test first says "stop", for `pairs` pairs whose first variant
/// wins each decisive judgement with probability `rate`. `None`: never within 500.
fn experiment(rng: &mut Rng, pairs: usize, rate: f64) -> (Option<u64>, Option<u64>) {
    let mut counts = vec![(0u64, 0u64); pairs];
    let (mut fixed, mut sequential) = (None, None);
    for n in 1..=MAX_JUDGEMENTS {
        for c in &mut counts {
            if uniform(rng) < rate {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        if n % LOOK_EVERY != 0 {
            continue;
        }
        if fixed.is_none() {
            let p: Vec<f64> = counts
                .iter()
                .map(|&(w, l)| stats::sign_test(w, l))
                .collect();
            if stats::holm_adjust(&p).iter().any(|&q| q < ALPHA) {
                fixed = Some(n);
            }
        }
        if sequential.is_none()
            && stats::sequential_tests(&counts, ALPHA)
                .iter()
                .any(|t| t.may_stop)
        {
            sequential = Some(n);
        }
        if fixed.is_some() && sequential.is_some() {
            break;
        }
    }
    (fixed, sequential)
}

struct Summary {
    stopped: usize,
    mean_to_stop: f64,
}

fn summarise(stops: &[Option<u64>]) -> Summary {
    let stopped = stops.iter().filter(|s| s.is_some()).count();
    let total: u64 = stops.iter().map(|s| s.unwrap_or(MAX_JUDGEMENTS)).sum();
    Summary {
        stopped,
        mean_to_stop: total as f64 / stops.len() as f64,
    }
}

fn scenario(name: &str, pairs: usize, rate: f64, seed: u64) {
    let mut rng = Rng::new(seed);
    let (mut fixed, mut sequential) = (Vec::new(), Vec::new());
    for _ in 0..EXPERIMENTS {
        let (f, s) = experiment(&mut rng, pairs, rate);
        fixed.push(f);
        sequential.push(s);
    }
    let (f, s) = (summarise(&fixed), summarise(&sequential));
    let share = |k: usize| k as f64 / EXPERIMENTS as f64;
    // A 95% Wilson interval on each rate, so a reader sees the simulation's own noise.
    let interval = |k: usize| {
        let r = stats::rate(k as u64, EXPERIMENTS as u64, 0.95);
        format!("[{:.3}, {:.3}]", r.low, r.high)
    };
    println!("{name}");
    println!(
        "  fixed-sample sign test: stopped in {:.3} {} of experiments; mean judgements to stop {:.0}",
        share(f.stopped),
        interval(f.stopped),
        f.mean_to_stop
    );
    println!(
        "  sequential test:        stopped in {:.3} {} of experiments; mean judgements to stop {:.0}",
        share(s.stopped),
        interval(s.stopped),
        s.mean_to_stop
    );
    if (rate - 0.5).abs() > 1e-9 {
        let stopped: Vec<u64> = sequential.iter().flatten().copied().collect();
        let mean_when_stopped = stopped.iter().sum::<u64>() as f64 / stopped.len().max(1) as f64;
        let mut sorted = stopped.clone();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        println!(
            "  sequential, experiments that stopped: mean {mean_when_stopped:.0}, median {median} judgements"
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!(
        "Seed {SEED}; {EXPERIMENTS} experiments per scenario; a look every {LOOK_EVERY} decisive judgements up to {MAX_JUDGEMENTS}; alpha {ALPHA}; Beta({c}, {c}) mixture\n",
        c = stats::SEQUENTIAL_PRIOR_CONCENTRATION
    );
    if quick {
        println!("(not run under `cargo test`; use `cargo bench --bench sequential`)");
        return;
    }
    scenario(
        "Null, one pair (50/50): false-positive rate under peeking",
        1,
        0.5,
        SEED,
    );
    scenario(
        "Null, three pairs, Holm across them: family-wise false-positive rate",
        3,
        0.5,
        SEED + 1,
    );
    scenario(
        "True 60/40 preference, one pair: judgements to stop",
        1,
        0.6,
        SEED + 2,
    );
    scenario(
        "True 70/30 preference, one pair: judgements to stop",
        1,
        0.7,
        SEED + 3,
    );
}
