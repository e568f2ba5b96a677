//! Properties of the rating queue: every comparison gets k distinct raters, no rater gets
//! one twice, placement is balanced per comparison and per rater, gold items come at the
//! set rate, the calibration sample comes first, and a stored seed reproduces a queue;
//! all of it under the adaptive schedule too, which puts the most undecided pairs first.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use common::rating::{comparison, rating};
use loupe::rating::queue::{
    Candidate, QueueConfig, assign, calibration_sample, gold_count, order_adaptively,
    pair_priorities, pair_tallies,
};
use loupe::store::{ComparisonKey, RaterRecord, RatingRecord, Winner};

const PAIRS: [(&str, &str); 3] = [("v0", "v1"), ("v1", "v2"), ("v0", "v3")];

fn candidates(cases: usize, pairs: usize, repeats: u32, gold: &[bool]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (a, b) in PAIRS.iter().take(pairs) {
        for (c, is_gold) in gold.iter().enumerate().take(cases) {
            for repeat in 0..repeats {
                out.push(Candidate {
                    comparison: ComparisonKey {
                        run_id: "run".into(),
                        case_id: format!("c{c}"),
                        repeat,
                        a: (*a).into(),
                        b: (*b).into(),
                    },
                    gold: is_gold.then(|| (*a).to_owned()),
                });
            }
        }
    }
    out
}

/// Ratings so far, for the adaptive schedule: the first pair 40 to 2 (settled), the
/// second 6 to 5 (open), the third none.
fn earlier_ratings() -> Vec<RatingRecord> {
    let mut out = Vec::new();
    for (pair, wins, losses) in [(0, 40, 2), (1, 6, 5)] {
        let (a, b) = PAIRS[pair];
        for i in 0..wins + losses {
            let winner = if i < wins { Winner::A } else { Winner::B };
            let key = comparison("run", &format!("old{i}"), a, b);
            out.push(RatingRecord {
                elapsed_ms: 1,
                at_ms: 1,
                ..rating("s", "earlier", key, a, winner)
            });
        }
    }
    out
}

/// A new rater's queue as `open_rater` makes it: assigned, then (adaptive) ordered.
fn queue_of(
    rater: &str,
    seed: u64,
    cands: &[Candidate],
    config: &QueueConfig,
    records: &[RaterRecord],
) -> Vec<loupe::store::Assignment> {
    let mut queue = assign(rater, seed, cands, config, records);
    if config.adaptive {
        let sample = calibration_sample(cands, config.calibration_share);
        order_adaptively(
            &mut queue,
            &HashSet::new(),
            &sample,
            &earlier_ratings(),
            0.05,
        );
    }
    queue
}

fn join(cands: &[Candidate], config: &QueueConfig, seeds: &[u64]) -> Vec<RaterRecord> {
    let mut records: Vec<RaterRecord> = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let rater = format!("rater{i}");
        let queue = queue_of(&rater, *seed, cands, config, &records);
        records.push(RaterRecord {
            session: "s".into(),
            rater,
            run_id: "run".into(),
            seed: *seed,
            queue,
            created_ms: 0,
            active_ms: 0,
        });
    }
    records
}

fn imbalance(counts: &BTreeMap<(String, String), (i64, i64)>) -> i64 {
    counts
        .values()
        .map(|(x, y)| (x - y).abs())
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn queues_share_comparisons_fairly(
        cases in 1usize..14,
        pairs in 1usize..=3,
        repeats in 1u32..=2,
        k in 1u32..=4,
        seeds in prop::collection::vec(any::<u64>(), 1..7),
        gold in prop::collection::vec(prop::bool::weighted(0.2), 14),
        rate in prop::sample::select(vec![None, Some(0.0), Some(0.1), Some(0.25), Some(0.5)]),
        calibration in prop::sample::select(vec![None, Some(0.2), Some(0.5)]),
        adaptive in any::<bool>(),
    ) {
        let cands = candidates(cases, pairs, repeats, &gold);
        let config = QueueConfig {
            raters_per_comparison: k,
            gold_rate: rate,
            calibration_share: calibration,
            adaptive,
        };
        let sample = calibration_sample(&cands, calibration);
        let records = join(&cands, &config, &seeds);
        let known: HashSet<&ComparisonKey> = cands.iter().map(|c| &c.comparison).collect();
        let regular: Vec<&Candidate> = cands.iter().filter(|c| c.gold.is_none()).collect();
        let golds = cands.len() - regular.len();

        // No repeats, nothing made up, gold flags true to the case.
        for r in &records {
            let mut seen = HashSet::new();
            for a in &r.queue {
                prop_assert!(seen.insert(&a.comparison), "{} got {:?} twice", r.rater, a.comparison);
                prop_assert!(known.contains(&a.comparison));
                let c = cands.iter().find(|c| c.comparison == a.comparison).unwrap();
                prop_assert_eq!(a.gold, c.gold.is_some());
                prop_assert!(a.left == a.comparison.a || a.left == a.comparison.b);
            }
        }
        // The sample: ceil(share x n) of each pair's regular comparisons, no gold item.
        if let Some(share) = calibration {
            for (a, b) in PAIRS.iter().take(pairs) {
                let n = regular.iter().filter(|c| (c.comparison.a.as_str(), c.comparison.b.as_str()) == (*a, *b)).count();
                let drawn = sample.iter().filter(|c| (c.a.as_str(), c.b.as_str()) == (*a, *b)).count();
                prop_assert_eq!(drawn, (n as f64 * share).ceil() as usize);
            }
            prop_assert!(regular.iter().filter(|c| sample.contains(&c.comparison)).count() == sample.len());
        } else {
            prop_assert!(sample.is_empty());
        }
        // k distinct raters per regular comparison (or all raters, when fewer), and the
        // placements of its raters split evenly.
        let expected = (k as usize).min(seeds.len());
        for c in &regular {
            let holders: Vec<&str> = records
                .iter()
                .filter_map(|r| r.queue.iter().find(|a| a.comparison == c.comparison).map(|a| a.left.as_str()))
                .collect();
            prop_assert_eq!(holders.len(), expected);
            let a_left = holders.iter().filter(|l| **l == c.comparison.a).count() as i64;
            prop_assert!((2 * a_left - holders.len() as i64).abs() <= 1);
        }
        for (i, r) in records.iter().enumerate() {
            // Per rater and pair, each variant is on the left about half of the time.
            for gold_items in [false, true] {
                let mut counts: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
                for a in r.queue.iter().filter(|a| a.gold == gold_items) {
                    let e = counts.entry((a.comparison.a.clone(), a.comparison.b.clone())).or_default();
                    if a.left == a.comparison.a { e.0 += 1 } else { e.1 += 1 }
                }
                prop_assert!(imbalance(&counts) <= 1, "{} gold={gold_items}: {counts:?}", r.rater);
            }
            // Gold items at the set rate.
            let n_regular = r.queue.iter().filter(|a| !a.gold).count();
            let n_gold = r.queue.len() - n_regular;
            prop_assert_eq!(n_gold, gold_count(n_regular, golds, rate));
            // The calibration sample comes first among the regular comparisons.
            let inside: Vec<bool> = r.queue.iter().filter(|a| !a.gold).map(|a| sample.contains(&a.comparison)).collect();
            prop_assert!(inside.windows(2).all(|w| w[0] || !w[1]), "{}: {inside:?}", r.rater);
            // Adaptive: within the sample and outside it, the pairs come most undecided
            // first (the settled first pair last).
            if adaptive {
                let tallies = pair_tallies(&earlier_ratings());
                let counts: Vec<(u64, u64)> = PAIRS.iter().map(|(a, b)| tallies.get(&((*a).to_owned(), (*b).to_owned())).copied().unwrap_or_default()).collect();
                let pri = pair_priorities(&counts, 0.05);
                prop_assert!(pri[0] <= 0.0, "{pri:?}");
                prop_assert!(pri[2] > pri[1] && pri[1] > 0.0, "{pri:?}");
                let of = |a: &loupe::store::Assignment| PAIRS.iter().position(|(x, y)| (*x, *y) == (a.comparison.a.as_str(), a.comparison.b.as_str())).map(|p| pri[p]).unwrap();
                let keyed: Vec<(bool, f64)> = r.queue.iter().filter(|a| !a.gold).map(|a| (!sample.contains(&a.comparison), of(a))).collect();
                prop_assert!(keyed.windows(2).all(|w| (!w[0].0 && w[1].0) || (w[0].0 == w[1].0 && w[0].1 >= w[1].1)), "{}: {keyed:?}", r.rater);
            }
            // The stored seed reproduces the queue.
            let again = queue_of(&r.rater, r.seed, &cands, &config, &records[..i]);
            prop_assert_eq!(&again, &r.queue);
        }
    }

    #[test]
    fn different_seeds_shuffle_differently(cases in 6usize..14, s1 in any::<u64>(), s2 in any::<u64>()) {
        prop_assume!(s1 != s2);
        let cands = candidates(cases, 2, 1, &[false; 14]);
        let config = QueueConfig { raters_per_comparison: 1, ..QueueConfig::default() };
        let q1 = assign("x", s1, &cands, &config, &[]);
        let q2 = assign("x", s2, &cands, &config, &[]);
        let order = |q: &[loupe::store::Assignment]| q.iter().map(|a| a.comparison.clone()).collect::<Vec<_>>();
        // 12! orders at least: two seeds agreeing on all of them would mean no shuffle.
        prop_assert_ne!(order(&q1), order(&q2));
    }
}
