//! Rate where it matters: how many human judgements the adaptive queue
//! (`rating.schedule: adaptive`) needs to reach the decision the fixed shuffled queue
//! reaches. A seeded simulation, not a timing: it prints the figures the README's
//! performance section quotes.
//!
//! - Each scenario has pairs of variants with a true win rate (the first variant's share
//!   of decisive verdicts), a tie rate, and rater noise (a share of verdicts given at
//!   random: first, second or tie). Each comparison (case) has its own win rate, the
//!   pair's plus or minus up to 0.1, and `K` raters; every (comparison, rater) verdict is
//!   drawn once and both schedules use the same draws (common random numbers).
//! - The owner watches every pair's sequential test (Holm across pairs, alpha 0.05, as the
//!   owner's view does) after every judgement and settles a pair the first time it may
//!   stop. The fixed queue rates everything in one shuffled order; its decision is the
//!   set of pairs it settled (with their winners) by the end, and its cost the judgement
//!   at which the last of them settled.
//! - The adaptive queue orders the remaining judgements with `rating::queue::pair_priorities`
//!   (the product's function), recomputed after every judgement, or only every 25 (as when
//!   raters reopen their queue now and then). Its cost is the judgement at which it has
//!   settled the same pairs with the same winners; an experiment where it never does
//!   counts as the whole budget and is reported.
//!
//! Run with `cargo bench --bench adaptive` (a few seconds).

use loupe::eval::stats::{self, Rng};
use loupe::rating::queue::pair_priorities;

const EXPERIMENTS: usize = 1_000;
const CASES: usize = 100;
const K: usize = 2;
const ALPHA: f64 = 0.05;
const SEED: u64 = 20_261_205;

struct Scenario {
    name: &'static str,
    rates: &'static [f64],
    ties: f64,
    noise: f64,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        name: "one clear, one moderate, one slight (0.80, 0.68, 0.60)",
        rates: &[0.80, 0.68, 0.60],
        ties: 0.1,
        noise: 0.1,
    },
    Scenario {
        name: "three alike (0.68 each)",
        rates: &[0.68, 0.68, 0.68],
        ties: 0.1,
        noise: 0.1,
    },
    Scenario {
        name: "one undecidable (0.80, 0.68, 0.50)",
        rates: &[0.80, 0.68, 0.50],
        ties: 0.1,
        noise: 0.1,
    },
    Scenario {
        name: "four-variant ladder, Bradley-Terry 0/0.5/1.2/2.2 (0.62, 0.67, 0.73)",
        rates: &[0.622, 0.668, 0.731],
        ties: 0.15,
        noise: 0.1,
    },
    Scenario {
        name: "noisy raters, many ties (0.75, 0.62; noise 0.3, ties 0.25)",
        rates: &[0.75, 0.62],
        ties: 0.25,
        noise: 0.3,
    },
];

/// Uniform in [0, 1) from the top 53 bits.
fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// One verdict: `Some(true)` the pair's first variant, `Some(false)` the second, `None` a
/// tie.
fn verdict(rng: &mut Rng, rate: f64, s: &Scenario) -> Option<bool> {
    if uniform(rng) < s.noise {
        return match rng.below(3) {
            0 => Some(true),
            1 => Some(false),
            _ => None,
        };
    }
    if uniform(rng) < s.ties {
        return None;
    }
    Some(uniform(rng) < rate)
}

/// The owner watching: which pairs are settled, and for which variant.
struct Watch {
    tallies: Vec<(u64, u64)>,
    settled: Vec<Option<bool>>,
}

impl Watch {
    fn new(pairs: usize) -> Self {
        Self {
            tallies: vec![(0, 0); pairs],
            settled: vec![None; pairs],
        }
    }

    fn add(&mut self, pair: usize, v: Option<bool>) {
        match v {
            Some(true) => self.tallies[pair].0 += 1,
            Some(false) => self.tallies[pair].1 += 1,
            None => return,
        }
        let tests = stats::sequential_tests(&self.tallies, ALPHA);
        for (i, t) in tests.iter().enumerate() {
            if t.may_stop && self.settled[i].is_none() {
                let (w, l) = self.tallies[i];
                self.settled[i] = Some(w > l);
            }
        }
    }

    fn reached(&self, decision: &[Option<bool>]) -> bool {
        decision
            .iter()
            .zip(&self.settled)
            .all(|(d, s)| d.is_none() || d == s)
    }
}

/// Judgements the adaptive queue needs to reach `decision`, recomputing its order every
/// `every` judgements; `None` when it never does.
fn adaptive(draws: &[Vec<Option<bool>>], decision: &[Option<bool>], every: usize) -> Option<usize> {
    let pairs = draws.len();
    let mut watch = Watch::new(pairs);
    let mut next = vec![0usize; pairs];
    let mut order: Vec<usize> = Vec::new();
    let total: usize = draws.iter().map(Vec::len).sum();
    for n in 0..total {
        if n % every == 0 || order.is_empty() {
            order = (0..pairs).filter(|&p| next[p] < draws[p].len()).collect();
            let pri = pair_priorities(&watch.tallies, ALPHA);
            order.sort_by(|&x, &y| pri[y].total_cmp(&pri[x]));
        }
        let pair = order[0];
        watch.add(pair, draws[pair][next[pair]]);
        next[pair] += 1;
        if next[pair] == draws[pair].len() {
            order.retain(|&p| p != pair);
        }
        if watch.reached(decision) {
            return Some(n + 1);
        }
    }
    None
}

fn scenario(s: &Scenario, seed: u64) {
    let mut rng = Rng::new(seed);
    let (mut fixed_total, mut every_total, mut batch_total) = (0usize, 0usize, 0usize);
    let (mut decided, mut misses_every, mut misses_batch, mut settled_pairs) =
        (0usize, 0usize, 0usize, 0usize);
    for _ in 0..EXPERIMENTS {
        // Every (comparison, rater) verdict of each pair, in the pair's shuffled order.
        let draws: Vec<Vec<Option<bool>>> = s
            .rates
            .iter()
            .map(|&rate| {
                let mut v = Vec::with_capacity(CASES * K);
                for _ in 0..CASES {
                    let case_rate = (rate + (uniform(&mut rng) - 0.5) * 0.2).clamp(0.0, 1.0);
                    for _ in 0..K {
                        v.push(verdict(&mut rng, case_rate, s));
                    }
                }
                shuffle(&mut v, &mut rng);
                v
            })
            .collect();
        // The fixed queue: all judgements in one shuffled order. Each pair's verdicts come
        // in the same order under both schedules; only the interleaving differs.
        let mut labels: Vec<usize> = draws
            .iter()
            .enumerate()
            .flat_map(|(p, v)| std::iter::repeat_n(p, v.len()))
            .collect();
        shuffle(&mut labels, &mut rng);
        let mut seen = vec![0usize; draws.len()];
        let all: Vec<(usize, usize)> = labels
            .into_iter()
            .map(|p| {
                seen[p] += 1;
                (p, seen[p] - 1)
            })
            .collect();
        let mut watch = Watch::new(draws.len());
        let mut last = 0;
        for (n, &(p, i)) in all.iter().enumerate() {
            let before = watch.settled.iter().filter(|s| s.is_some()).count();
            watch.add(p, draws[p][i]);
            if watch.settled.iter().filter(|s| s.is_some()).count() > before {
                last = n + 1;
            }
        }
        let decision = watch.settled.clone();
        if decision.iter().all(Option::is_none) {
            continue;
        }
        decided += 1;
        settled_pairs += decision.iter().filter(|d| d.is_some()).count();
        fixed_total += last;
        let budget = all.len();
        let n = adaptive(&draws, &decision, 1);
        every_total += n.unwrap_or(budget);
        misses_every += usize::from(n.is_none());
        let n = adaptive(&draws, &decision, 25);
        batch_total += n.unwrap_or(budget);
        misses_batch += usize::from(n.is_none());
    }
    let mean = |t: usize| t as f64 / decided.max(1) as f64;
    let saving = |t: usize| 100.0 * (1.0 - t as f64 / fixed_total.max(1) as f64);
    println!("{}", s.name);
    println!(
        "  {decided}/{EXPERIMENTS} experiments with a decision ({:.2} pairs settled on average), budget {} judgements",
        settled_pairs as f64 / decided.max(1) as f64,
        s.rates.len() * CASES * K
    );
    println!(
        "  fixed queue:                 {:7.1} judgements",
        mean(fixed_total)
    );
    println!(
        "  adaptive, every judgement:   {:7.1} judgements ({:.1}% fewer; never reached in {misses_every})",
        mean(every_total),
        saving(every_total)
    );
    println!(
        "  adaptive, every 25:          {:7.1} judgements ({:.1}% fewer; never reached in {misses_batch})\n",
        mean(batch_total),
        saving(batch_total)
    );
}

/// Fisher–Yates with the seeded generator.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!(
        "Seed {SEED}; {EXPERIMENTS} experiments per scenario; {CASES} cases per pair, {K} raters each; alpha {ALPHA}, Holm across pairs\n"
    );
    if quick {
        println!("(not run under `cargo test`; use `cargo bench --bench adaptive`)");
        return;
    }
    for (i, s) in SCENARIOS.iter().enumerate() {
        scenario(s, SEED + i as u64);
    }
}
