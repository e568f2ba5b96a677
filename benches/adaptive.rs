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
//! - Each comparison has `K` raters, who take turns; each rater's queue holds every
//!   comparison in its own shuffled order, as the product shares them out (the first k
//!   raters share all of them). The fixed queue: each works through their queue in order.
//! - The adaptive queue is the same queue with the pairs ordered by
//!   `rating::queue::pair_priorities` (the product's function; within a pair, the queue's
//!   order). As it ships, the order is worked out again from every rating so far right
//!   after each of the rater's saves, and the comparison shown next is its first; the one
//!   on screen stays while the other raters' ratings arrive, unless they settle its pair
//!   while a pair is still open: then it gives way to the first comparison of the order
//!   (the rating screen does so only for a comparison the rater has not begun scoring; here
//!   a judgement takes no time). For comparison, the same without giving way, and the
//!   order renewed only every 25 of a rater's ratings (as when it was renewed only when a
//!   rater opened the queue). The cost is the judgement (all raters together) at which the
//!   adaptive queue has settled the same pairs with the same winners as the fixed one; an
//!   experiment where it never does counts as the whole budget and is reported.
//!
//! Run with `cargo bench --bench adaptive` (a few seconds), or in the test profile with
//! fewer experiments: `LOUPE_SIM_EXPERIMENTS=100 cargo test --bench adaptive`.
//! `LOUPE_SIM_SEED` replaces the reported seed (to check a change on other draws).

use loupe::eval::stats::{self, Rng};
use loupe::rating::queue::pair_priorities;

const EXPERIMENTS: usize = 1_000;
const CASES: usize = 100;
const K: usize = 2;
const ALPHA: f64 = 0.05;
const SEED: u64 = 20_261_205;

/// Per pair, per case, each rater's verdict.
type Draws = Vec<Vec<[Option<bool>; K]>>;

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

/// Each rater's queue as the product makes it for `k` raters: every comparison (pair,
/// case) in one shuffled order per rater (`fixed`); `pos[r][p]` lists rater `r`'s cases of
/// pair `p` in that order, which is also the order the adaptive schedule keeps within a
/// pair (it only sorts the pairs, stably).
struct Queues {
    fixed: Vec<Vec<(usize, usize)>>,
    within: Vec<Vec<Vec<(usize, usize)>>>,
}

impl Queues {
    fn new(pairs: usize, cases: usize, rng: &mut Rng) -> Self {
        let mut fixed = Vec::new();
        let mut within = Vec::new();
        for _ in 0..K {
            let mut q: Vec<(usize, usize)> = (0..pairs)
                .flat_map(|p| (0..cases).map(move |c| (p, c)))
                .collect();
            shuffle(&mut q, rng);
            // (queue position, case) per pair, in queue order.
            let mut mine = vec![Vec::new(); pairs];
            for (at, &(p, c)) in q.iter().enumerate() {
                mine[p].push((at, c));
            }
            fixed.push(q);
            within.push(mine);
        }
        Self { fixed, within }
    }
}

/// When the adaptive order is worked out again.
#[derive(Clone, Copy, PartialEq)]
enum Renew {
    /// What ships: after each of the rater's saved ratings, from every rating so far (the
    /// rating screen's save returns the new order, and the comparison then shown is its
    /// first); while others rate, the comparison on screen stays unless their ratings
    /// settle its pair and a pair is still open, when it gives way to the order's first.
    Shipped,
    /// As shipped, but the comparison on screen always stays while others rate.
    EverySave,
    /// Only every `n` of the rater's ratings (as when the order was renewed only when a
    /// rater opened the queue).
    Every(usize),
}

/// Judgements the adaptive queue needs to reach `decision`, raters taking turns; `None`
/// when it never does.
fn adaptive(
    draws: &Draws,
    queues: &Queues,
    decision: &[Option<bool>],
    renew: Renew,
) -> Option<usize> {
    let pairs = draws.len();
    let mut watch = Watch::new(pairs);
    // Per rater: how far into each pair's cases, the pair order last worked out, and the
    // ratings since.
    let mut next = vec![vec![0usize; pairs]; K];
    let mut ranking: Vec<Vec<usize>> = vec![Vec::new(); K];
    let mut since = [0usize; K];
    let rank = |r: usize, next: &[Vec<usize>], watch: &Watch| -> Vec<usize> {
        let pri = pair_priorities(&watch.tallies, ALPHA);
        let mut open: Vec<usize> = (0..pairs)
            .filter(|&p| next[r][p] < queues.within[r][p].len())
            .collect();
        // Highest priority first; equal ones in queue order, as the stable sort leaves them.
        open.sort_by(|&x, &y| {
            pri[y].total_cmp(&pri[x]).then(
                queues.within[r][x][next[r][x]]
                    .0
                    .cmp(&queues.within[r][y][next[r][y]].0),
            )
        });
        open
    };
    // Each rater's comparison on screen: chosen when they opened the queue, then right
    // after each of their saves (while the others' ratings arrive, it stays).
    let mut current: Vec<Option<usize>> = (0..K)
        .map(|r| {
            ranking[r] = rank(r, &next, &watch);
            ranking[r].first().copied()
        })
        .collect();
    let total: usize = draws.iter().map(|d| d.len() * K).sum();
    let mut turn = 0;
    for n in 0..total {
        // Raters take turns; one whose queue is done leaves the rest to the others.
        let r = (0..K)
            .map(|i| (turn + i) % K)
            .find(|&r| current[r].is_some())?;
        turn = r + 1;
        if renew == Renew::Shipped
            && let Some(shown) = current[r]
            && watch.settled[shown].is_some()
        {
            ranking[r] = rank(r, &next, &watch);
            if let Some(&first) = ranking[r].first()
                && watch.settled[first].is_none()
            {
                current[r] = Some(first);
            }
        }
        let pair = current[r]?;
        let (_, case) = queues.within[r][pair][next[r][pair]];
        watch.add(pair, draws[pair][case][r]);
        next[r][pair] += 1;
        since[r] += 1;
        if watch.reached(decision) {
            return Some(n + 1);
        }
        let renew_now = match renew {
            Renew::Shipped | Renew::EverySave => true,
            Renew::Every(every) => since[r].is_multiple_of(every),
        };
        if renew_now {
            ranking[r] = rank(r, &next, &watch);
        } else {
            let left = &next[r];
            ranking[r].retain(|&p| left[p] < queues.within[r][p].len());
        }
        current[r] = ranking[r].first().copied();
    }
    None
}

/// The adaptive variants reported, as shipped first.
const VARIANTS: [(Renew, &str); 3] = [
    (Renew::Shipped, "adaptive, as shipped:"),
    (Renew::EverySave, "adaptive, never giving way:"),
    (Renew::Every(25), "adaptive, every 25 ratings:"),
];

/// Judgements per scenario: the fixed queue's, then each of [`VARIANTS`]'.
fn scenario(s: &Scenario, seed: u64, experiments: usize) -> [usize; 4] {
    let mut rng = Rng::new(seed);
    let mut totals = [0usize; 4];
    let mut misses = [0usize; 3];
    let (mut decided, mut settled_pairs) = (0usize, 0usize);
    for _ in 0..experiments {
        // Every (comparison, rater) verdict: both schedules use the same ones.
        let draws: Draws = s
            .rates
            .iter()
            .map(|&rate| {
                (0..CASES)
                    .map(|_| {
                        let case_rate = (rate + (uniform(&mut rng) - 0.5) * 0.2).clamp(0.0, 1.0);
                        std::array::from_fn(|_| verdict(&mut rng, case_rate, s))
                    })
                    .collect()
            })
            .collect();
        let queues = Queues::new(draws.len(), CASES, &mut rng);
        // The fixed queue: each rater works through their shuffled queue, taking turns.
        let mut watch = Watch::new(draws.len());
        let mut last = 0;
        let mut n = 0;
        for i in 0..queues.fixed[0].len() {
            for (r, queue) in queues.fixed.iter().enumerate() {
                let (p, c) = queue[i];
                n += 1;
                let before = watch.settled.iter().filter(|s| s.is_some()).count();
                watch.add(p, draws[p][c][r]);
                if watch.settled.iter().filter(|s| s.is_some()).count() > before {
                    last = n;
                }
            }
        }
        let decision = watch.settled.clone();
        if decision.iter().all(Option::is_none) {
            continue;
        }
        decided += 1;
        settled_pairs += decision.iter().filter(|d| d.is_some()).count();
        totals[0] += last;
        let budget = n;
        for (v, (renew, _)) in VARIANTS.iter().enumerate() {
            let got = adaptive(&draws, &queues, &decision, *renew);
            totals[v + 1] += got.unwrap_or(budget);
            misses[v] += usize::from(got.is_none());
        }
    }
    let mean = |t: usize| t as f64 / decided.max(1) as f64;
    let saving = |t: usize| 100.0 * (1.0 - t as f64 / totals[0].max(1) as f64);
    println!("{}", s.name);
    println!(
        "  {decided}/{experiments} experiments with a decision ({:.2} pairs settled on average), budget {} judgements",
        settled_pairs as f64 / decided.max(1) as f64,
        s.rates.len() * CASES * K
    );
    println!(
        "  fixed queue:                 {:7.1} judgements",
        mean(totals[0])
    );
    for (v, (_, name)) in VARIANTS.iter().enumerate() {
        println!(
            "  {name:<28} {:7.1} judgements ({:.1}% fewer; never reached in {})",
            mean(totals[v + 1]),
            saving(totals[v + 1]),
            misses[v]
        );
    }
    println!();
    totals
}

/// Fisher–Yates with the seeded generator.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, briefly, unless
    // LOUPE_SIM_EXPERIMENTS asks for a (smaller) run in the test profile.
    let asked = std::env::var("LOUPE_SIM_EXPERIMENTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let experiments = asked.unwrap_or(EXPERIMENTS);
    let quick = asked.is_none() && !std::env::args().any(|a| a == "--bench");
    let seed = std::env::var("LOUPE_SIM_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(SEED);
    println!(
        "Seed {seed}; {experiments} experiments per scenario; {CASES} cases per pair, {K} raters each taking turns; alpha {ALPHA}, Holm across pairs\n"
    );
    if quick {
        println!("(not run under `cargo test`; use `cargo bench --bench adaptive`)");
        return;
    }
    let mut all = [0usize; 4];
    for (i, s) in SCENARIOS.iter().enumerate() {
        let totals = scenario(s, seed + i as u64, experiments);
        for (sum, t) in all.iter_mut().zip(totals) {
            *sum += t;
        }
    }
    let saving = |t: usize| 100.0 * (1.0 - t as f64 / all[0].max(1) as f64);
    println!("All five together:");
    for (v, (_, name)) in VARIANTS.iter().enumerate() {
        println!("  {name:<28} {:.1}% fewer", saving(all[v + 1]));
    }
}
