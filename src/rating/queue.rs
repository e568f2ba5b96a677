//! The rating queue: which comparisons a rater gets, in which order, and which variant is
//! shown on the left.
//!
//! - A comparison is one case (and repeat) of one run, answered by the two variants of a
//!   pair in the session's `rating.pairs`.
//! - Raters arrive one after another and their number is not known in advance, so a rater
//!   joining gets every regular comparison that has fewer than `raters_per_comparison` (k)
//!   raters so far: the first k raters share all of them, later ones get none. Each
//!   comparison ends up with k distinct raters and nobody gets one twice.
//! - Placement is balanced twice over: on each comparison, the new rater gets the side the
//!   earlier raters saw less (so its k raters split about evenly), and the comparisons
//!   where that is a draw are placed so that, within each pair, each variant is on the
//!   rater's left about half of the time.
//! - Gold items (a case whose `gold` names one of the pair) are not shared out: every rater
//!   gets them, mixed in at `gold_rate` of the queue (all of them when no rate is set).
//! - The queue is shuffled with the rater's seed, which is stored with the queue; the same
//!   seed and the same earlier raters give the same queue.
//! - A queue is not fixed at the first opening: each time a rater opens it, it is worked out
//!   again ([`refresh`]) from what still needs raters. What the rater rated stays; an unrated
//!   comparison stays theirs unless others have since given it its k ratings; comparisons
//!   still short of raters are added (so raising `raters_per_comparison` extends every
//!   queue, and a rater who once found nothing gets work when there is some).
//! - A calibration sample (`rating.calibration_share`) is a fixed share of each pair's
//!   regular comparisons, the same for every rater ([`calibration_sample`]): they come
//!   first among a rater's unrated comparisons, so that they get their k human ratings
//!   early and the session's judge (which judges every comparison of its pairs) can be
//!   checked against people on them.
//! - With `rating.schedule: adaptive` the regular unrated comparisons of a queue are put in
//!   the order that settles the session's decision soonest ([`order_adaptively`]) when
//!   the queue is opened, after each of the rater's ratings, and when others' ratings
//!   arrive (the rating screen asks `rating::reorder`); membership, placement and gold
//!   items stay as above.
//! - A reservation is an unrated comparison in someone's queue. It holds a place among the
//!   k only while its rater is active (rated or opened the queue within
//!   `rating.release_after_minutes`); after that it is released to others ([`held`]).

use std::collections::{BTreeMap, HashSet};

use crate::eval::stats::Rng;
use crate::session::Session;
use crate::store::{Assignment, ComparisonKey, OutputRecord, RaterRecord, RatingRecord, RunRecord};

/// A comparison that can be rated.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub comparison: ComparisonKey,
    /// The variant the session says is better here (a gold item).
    pub gold: Option<String>,
}

/// What a run offers for rating.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub candidates: Vec<Candidate>,
    /// Comparisons left out because an output is missing or is an error.
    pub left_out: usize,
}

/// How the session wants its comparisons shared out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueueConfig {
    pub raters_per_comparison: u32,
    pub gold_rate: Option<f64>,
    /// Share of each pair's regular comparisons in the calibration sample (0..1).
    pub calibration_share: Option<f64>,
    /// `rating.schedule: adaptive`: see [`order_adaptively`].
    pub adaptive: bool,
}

impl QueueConfig {
    pub fn of(session: &Session) -> Self {
        let spec = session.file.rating.as_ref();
        Self {
            raters_per_comparison: spec.map_or(1, |r| r.raters_per_comparison.max(1)),
            gold_rate: spec.and_then(|r| r.gold_rate),
            calibration_share: spec.and_then(|r| r.calibration_share),
            adaptive: spec.is_some_and(|r| r.schedule == crate::session::Schedule::Adaptive),
        }
    }
}

/// How long an idle rater's unrated comparisons stay reserved for them, in milliseconds.
pub fn release_after_ms(session: &Session) -> u64 {
    let minutes = session
        .file
        .rating
        .as_ref()
        .map_or(crate::session::DEFAULT_RELEASE_AFTER_MINUTES, |r| {
            r.release_after_minutes
        });
    minutes.saturating_mul(60_000)
}

/// When a rater last did something: opened the queue, or gave a rating.
pub fn last_active_ms(record: &RaterRecord, ratings: &[RatingRecord]) -> u64 {
    ratings
        .iter()
        .filter(|r| r.rater == record.rater && r.session == record.session)
        .map(|r| r.at_ms)
        .chain([record.created_ms, record.active_ms])
        .max()
        .unwrap_or(0)
}

/// What a rater's queue still holds against others at `now_ms`: the comparisons they rated,
/// and their unrated ones while they are active. Returned as a record whose queue has only
/// those, ready for [`assign`] and [`refresh`] as one of the `others`.
pub fn held(
    record: &RaterRecord,
    ratings: &[RatingRecord],
    now_ms: u64,
    release_after_ms: u64,
) -> RaterRecord {
    let rated: HashSet<&ComparisonKey> = ratings
        .iter()
        .filter(|r| r.rater == record.rater && r.session == record.session)
        .map(|r| &r.comparison)
        .collect();
    let active = now_ms.saturating_sub(last_active_ms(record, ratings)) < release_after_ms;
    let mut out = record.clone();
    out.queue
        .retain(|a| active || rated.contains(&a.comparison));
    out
}

/// A rater's regular comparisons not rated yet (their reservations, while they are active):
/// the owner's view shows this per rater.
pub fn reserved_unrated(record: &RaterRecord, ratings: &[RatingRecord]) -> usize {
    let rated: HashSet<&ComparisonKey> = ratings
        .iter()
        .filter(|r| r.rater == record.rater && r.session == record.session)
        .map(|r| &r.comparison)
        .collect();
    record
        .queue
        .iter()
        .filter(|a| !a.gold && !rated.contains(&a.comparison))
        .count()
}

/// A returning rater's queue, worked out again from what still needs raters.
///
/// `mine` is the rater's stored queue, `rated` the comparisons they have rated, `others`
/// what the other raters hold (see [`held`]). Kept, in their order: what the rater rated,
/// gold items, and unrated comparisons the others have not yet given k raters. Then the
/// comparisons still short of raters that the rater does not have, placed and shuffled as
/// [`assign`] does for a newcomer (with gold mixed in at the rate for the new part).
pub fn refresh(
    mine: &RaterRecord,
    rated: &HashSet<ComparisonKey>,
    candidates: &[Candidate],
    config: &QueueConfig,
    others: &[RaterRecord],
) -> Vec<Assignment> {
    let k = config.raters_per_comparison.max(1);
    let mut holders: BTreeMap<&ComparisonKey, u32> = BTreeMap::new();
    for record in others.iter().filter(|r| r.rater != mine.rater) {
        for a in record.queue.iter().filter(|a| !a.gold) {
            *holders.entry(&a.comparison).or_default() += 1;
        }
    }
    let offered: HashSet<&ComparisonKey> = candidates.iter().map(|c| &c.comparison).collect();
    let mut kept: Vec<Assignment> = mine
        .queue
        .iter()
        .filter(|a| {
            rated.contains(&a.comparison)
                || (offered.contains(&a.comparison)
                    && (a.gold || holders.get(&a.comparison).copied().unwrap_or(0) < k))
        })
        .cloned()
        .collect();
    let have: HashSet<&ComparisonKey> = kept.iter().map(|a| &a.comparison).collect();
    let rest: Vec<Candidate> = candidates
        .iter()
        .filter(|c| !have.contains(&c.comparison))
        .cloned()
        .collect();
    // A different stream for each extension, reproducible from the stored seed and the
    // queue's length at that moment.
    let seed = mine.seed ^ (kept.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let added = assign(&mine.rater, seed, &rest, config, others);
    kept.extend(added);
    let sample = calibration_sample(candidates, config.calibration_share);
    calibration_first(&mut kept, rated, &sample);
    kept
}

/// Every comparison of `run` for the session's rating pairs, in (pair, case, repeat) order.
/// Errors say what is wrong in words: no `rating:` section, a pair variant not in the run.
pub fn candidates(
    session: &Session,
    run: &RunRecord,
    outputs: &[OutputRecord],
) -> Result<Offer, String> {
    let Some(spec) = &session.file.rating else {
        return Err(format!(
            "{}: the session has no `rating:` section (pairs to compare, raters per comparison)",
            session.path.display()
        ));
    };
    if spec.pairs.is_empty() {
        return Err(format!(
            "{}: `rating.pairs` is empty: name the variant pairs to compare",
            session.path.display()
        ));
    }
    for [a, b] in &spec.pairs {
        for v in [a, b] {
            if run.variant(v).is_none() {
                return Err(format!(
                    "run {} has no variant {v:?} (rating pair {a} / {b}); run it first or pass --run",
                    run.id
                ));
            }
        }
        if a == b {
            return Err(format!(
                "{}: rating pair {a} / {b} compares a variant with itself",
                session.path.display()
            ));
        }
    }
    let usable: HashSet<(&str, &str, u32)> = outputs
        .iter()
        .filter(|o| o.run_id == run.id && o.error.is_none())
        .map(|o| (o.variant.as_str(), o.case_id.as_str(), o.repeat))
        .collect();
    let mut out = Offer {
        candidates: Vec::new(),
        left_out: 0,
    };
    for [a, b] in &spec.pairs {
        for case_id in &run.case_ids {
            let gold = session
                .cases
                .iter()
                .find(|c| &c.id == case_id)
                .and_then(|c| c.gold.clone())
                .filter(|g| g == a || g == b);
            for repeat in 0..run.repeats.max(1) {
                let both = usable.contains(&(a.as_str(), case_id.as_str(), repeat))
                    && usable.contains(&(b.as_str(), case_id.as_str(), repeat));
                if !both {
                    out.left_out += 1;
                    continue;
                }
                out.candidates.push(Candidate {
                    comparison: ComparisonKey {
                        run_id: run.id.clone(),
                        case_id: case_id.clone(),
                        repeat,
                        a: a.clone(),
                        b: b.clone(),
                    },
                    gold: gold.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// How many earlier raters have a comparison, and on which side they saw `a`.
#[derive(Default, Clone, Copy)]
struct Seen {
    raters: u32,
    a_left: u32,
    b_left: u32,
}

/// The queue of a rater joining now, after the raters in `others` (records of the same
/// session; the rater's own record, if there, is ignored).
pub fn assign(
    rater: &str,
    seed: u64,
    candidates: &[Candidate],
    config: &QueueConfig,
    others: &[RaterRecord],
) -> Vec<Assignment> {
    let mut rng = Rng::new(seed);
    let mut seen: BTreeMap<&ComparisonKey, Seen> = BTreeMap::new();
    for record in others.iter().filter(|r| r.rater != rater) {
        for a in record.queue.iter().filter(|a| !a.gold) {
            let s = seen.entry(&a.comparison).or_default();
            s.raters += 1;
            if a.left == a.comparison.a {
                s.a_left += 1;
            } else {
                s.b_left += 1;
            }
        }
    }
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|x, y| x.comparison.cmp(&y.comparison));
    sorted.dedup_by(|x, y| x.comparison == y.comparison);

    // Regular comparisons still short of raters, with the side earlier raters saw less.
    let mut regular: Vec<(&Candidate, Option<bool>)> = Vec::new();
    for c in sorted.iter().filter(|c| c.gold.is_none()) {
        let s = seen.get(&c.comparison).copied().unwrap_or_default();
        if s.raters >= config.raters_per_comparison.max(1) {
            continue;
        }
        let forced = match s.a_left.cmp(&s.b_left) {
            std::cmp::Ordering::Less => Some(true),
            std::cmp::Ordering::Greater => Some(false),
            std::cmp::Ordering::Equal => None,
        };
        regular.push((c, forced));
    }
    let mut queue = place(&regular, &mut rng, false);

    let mut golds: Vec<(&Candidate, Option<bool>)> = sorted
        .iter()
        .filter(|c| c.gold.is_some())
        .map(|c| (*c, None))
        .collect();
    shuffle(&mut golds, &mut rng);
    golds.truncate(gold_count(queue.len(), golds.len(), config.gold_rate));
    queue.extend(place(&golds, &mut rng, true));

    shuffle(&mut queue, &mut rng);
    let sample = calibration_sample(candidates, config.calibration_share);
    calibration_first(&mut queue, &HashSet::new(), &sample);
    queue
}

/// The calibration sample: for each pair, `share` of its regular (not gold) comparisons,
/// rounded up. Chosen by a hash of each comparison, not by a seed, so that every rater,
/// the owner's view and a later opening all name the same comparisons, and a comparison
/// stays in the sample when the run gains cases.
pub fn calibration_sample(candidates: &[Candidate], share: Option<f64>) -> HashSet<ComparisonKey> {
    let share = match share {
        Some(s) if s > 0.0 && s.is_finite() => s.min(1.0),
        _ => return HashSet::new(),
    };
    let mut by_pair: BTreeMap<(&str, &str), Vec<(blake3::Hash, &ComparisonKey)>> = BTreeMap::new();
    for c in candidates.iter().filter(|c| c.gold.is_none()) {
        let k = &c.comparison;
        let mut h = blake3::Hasher::new();
        for part in [
            k.run_id.as_str(),
            k.case_id.as_str(),
            k.a.as_str(),
            k.b.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        h.update(&k.repeat.to_le_bytes());
        by_pair
            .entry((k.a.as_str(), k.b.as_str()))
            .or_default()
            .push((h.finalize(), k));
    }
    let mut out = HashSet::new();
    for (_, mut keys) in by_pair {
        keys.sort_by(|x, y| x.0.as_bytes().cmp(y.0.as_bytes()).then(x.1.cmp(y.1)));
        keys.dedup_by(|x, y| x.1 == y.1);
        let take = ((keys.len() as f64) * share).ceil() as usize;
        out.extend(keys.into_iter().take(take).map(|(_, k)| k.clone()));
    }
    out
}

/// Sorts the regular unrated comparisons of a queue among their own slots (stably, by
/// `order`), so that what was rated and every gold item stay where they are: the queue's
/// membership, placements and the spread of its gold items do not change.
fn reorder_unrated(
    queue: &mut [Assignment],
    rated: &HashSet<ComparisonKey>,
    order: impl Fn(&Assignment, &Assignment) -> std::cmp::Ordering,
) {
    let slots: Vec<usize> = (0..queue.len())
        .filter(|&i| !queue[i].gold && !rated.contains(&queue[i].comparison))
        .collect();
    let mut unrated: Vec<Assignment> = slots.iter().map(|&i| queue[i].clone()).collect();
    unrated.sort_by(order);
    for (slot, a) in slots.into_iter().zip(unrated) {
        queue[slot] = a;
    }
}

/// Moves the calibration comparisons to the front of the regular unrated ones.
fn calibration_first(
    queue: &mut [Assignment],
    rated: &HashSet<ComparisonKey>,
    sample: &HashSet<ComparisonKey>,
) {
    if sample.is_empty() {
        return;
    }
    reorder_unrated(queue, rated, |x, y| {
        (!sample.contains(&x.comparison)).cmp(&!sample.contains(&y.comparison))
    });
}

/// How much the next judgement of each pair brings the session to its decision, from the
/// pairs' decisive judgements so far (`(wins of the first variant, losses)`, in the pairs'
/// order); 0 for a pair whose sequential test (Holm across the pairs, as the owner's view
/// shows it) already allows stopping.
///
/// For an open pair it is the inverse of the judgements it still needs: the evidence it
/// lacks, `ln(m/alpha) - ln(e-value)` with `m` the pairs still open (Holm's threshold
/// for the next of them to stop), divided by what one judgement adds on average, about
/// `2 d^2` for a win rate `1/2 + d`. The effect `d` is taken one and a half standard
/// errors larger than observed, so that a pair rated little is explored before it is
/// judged hopeless, and a pair whose variants are close (no decision in sight) falls
/// behind the ones about to be settled instead of taking the raters' time. (One standard
/// error, as first shipped, needed about half a point more judgements in the simulation
/// of `benches/adaptive.rs` on three independent seeds; none gave about five more.)
pub fn pair_priorities(tallies: &[(u64, u64)], alpha: f64) -> Vec<f64> {
    let tests = crate::eval::stats::sequential_tests(tallies, alpha);
    priorities_given(tallies, &tests, alpha)
}

/// [`pair_priorities`] with the pairs' sequential tests already worked out.
fn priorities_given(
    tallies: &[(u64, u64)],
    tests: &[crate::eval::stats::SequentialTest],
    alpha: f64,
) -> Vec<f64> {
    let open = tests.iter().filter(|t| !t.may_stop).count().max(1);
    let threshold = (open as f64 / alpha).ln();
    tallies
        .iter()
        .zip(tests)
        .map(|(&(wins, losses), test)| {
            if test.may_stop {
                return 0.0;
            }
            let n = (wins + losses) as f64;
            let rate = (wins as f64 + 0.5) / (n + 1.0);
            let d = ((rate - 0.5).abs() + 0.75 / (n + 1.0).sqrt()).min(0.5);
            let gap = (threshold - test.e_value.max(f64::MIN_POSITIVE).ln()).max(1e-3);
            2.0 * d * d / gap
        })
        .collect()
}

/// Decisive judgements per pair `(a, b)` of a session: (wins of `a`, wins of `b`); gold
/// items, ties and "both bad" aside.
pub fn pair_tallies(ratings: &[RatingRecord]) -> BTreeMap<(String, String), (u64, u64)> {
    let mut out: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for r in ratings.iter().filter(|r| !r.gold) {
        let c = &r.comparison;
        let Some(p) = r.preferred() else {
            continue;
        };
        let e = out.entry((c.a.clone(), c.b.clone())).or_default();
        if p == c.a {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    out
}

/// The adaptive schedule (`rating.schedule: adaptive`): the regular unrated comparisons of
/// a queue ordered by their pair's [`pair_priorities`] given every rating of the session so
/// far, highest first (the calibration sample still first; within a pair, the shuffled
/// order). Only the order changes: who rates what, on which side, and the gold items are
/// the fixed queue's.
///
/// Returns the pairs whose sequential test (Holm across the queue's pairs) already allows
/// the owner to stop: their comparisons come last, and one on a rater's screen may give
/// way to a pair still open (the rating screen's `give_way`).
pub fn order_adaptively(
    queue: &mut [Assignment],
    rated: &HashSet<ComparisonKey>,
    sample: &HashSet<ComparisonKey>,
    ratings: &[RatingRecord],
    alpha: f64,
) -> HashSet<(String, String)> {
    let mut tallies = pair_tallies(ratings);
    for a in queue.iter() {
        tallies
            .entry((a.comparison.a.clone(), a.comparison.b.clone()))
            .or_default();
    }
    let counts: Vec<(u64, u64)> = tallies.values().copied().collect();
    let tests = crate::eval::stats::sequential_tests(&counts, alpha);
    let settled: HashSet<(String, String)> = tallies
        .keys()
        .zip(&tests)
        .filter(|(_, t)| t.may_stop)
        .map(|(pair, _)| pair.clone())
        .collect();
    let ranked: BTreeMap<&(String, String), f64> = tallies
        .keys()
        .zip(priorities_given(&counts, &tests, alpha))
        .collect();
    let of = |a: &Assignment| {
        ranked
            .get(&(a.comparison.a.clone(), a.comparison.b.clone()))
            .copied()
            .unwrap_or(0.0)
    };
    reorder_unrated(queue, rated, |x, y| {
        (!sample.contains(&x.comparison))
            .cmp(&!sample.contains(&y.comparison))
            .then(of(y).total_cmp(&of(x)))
    });
    settled
}

/// Gold items to mix into a queue of `regular` comparisons so that they make `rate` of it.
pub fn gold_count(regular: usize, available: usize, rate: Option<f64>) -> usize {
    if regular == 0 {
        return 0;
    }
    let wanted = match rate {
        None => available,
        Some(r) if r.is_nan() || r <= 0.0 => 0,
        Some(r) if r >= 1.0 => available,
        Some(r) => (regular as f64 * r / (1.0 - r)).round() as usize,
    };
    wanted.min(available)
}

/// Chooses the left side of each comparison: forced ones as given, the free ones (in a
/// shuffled order) so that each pair's running count of `a` on the left stays even.
fn place(items: &[(&Candidate, Option<bool>)], rng: &mut Rng, gold: bool) -> Vec<Assignment> {
    let mut balance: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (c, forced) in items {
        if let Some(a_left) = forced {
            *balance
                .entry((c.comparison.a.as_str(), c.comparison.b.as_str()))
                .or_default() += if *a_left { 1 } else { -1 };
        }
    }
    let mut free: Vec<usize> = (0..items.len()).filter(|&i| items[i].1.is_none()).collect();
    shuffle(&mut free, rng);
    let mut a_left = vec![false; items.len()];
    for (i, (_, forced)) in items.iter().enumerate() {
        if let Some(f) = forced {
            a_left[i] = *f;
        }
    }
    for i in free {
        let c = &items[i].0.comparison;
        let bal = balance.entry((c.a.as_str(), c.b.as_str())).or_default();
        let left_a = match (*bal).cmp(&0) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => rng.below(2) == 0,
        };
        *bal += if left_a { 1 } else { -1 };
        a_left[i] = left_a;
    }
    items
        .iter()
        .zip(a_left)
        .map(|((c, _), left_a)| Assignment {
            comparison: c.comparison.clone(),
            left: if left_a {
                c.comparison.a.clone()
            } else {
                c.comparison.b.clone()
            },
            gold,
        })
        .collect()
}

/// Fisher–Yates with the seeded generator, so a stored seed reproduces the order.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// The variant shown on the right of an assignment.
pub fn right_of(a: &Assignment) -> &str {
    a.comparison.other(&a.left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(case: &str, gold: Option<&str>) -> Candidate {
        Candidate {
            comparison: ComparisonKey {
                run_id: "r".into(),
                case_id: case.into(),
                repeat: 0,
                a: "x".into(),
                b: "y".into(),
            },
            gold: gold.map(str::to_owned),
        }
    }

    #[test]
    fn gold_rate_sets_the_share_of_gold_items() {
        assert_eq!(gold_count(9, 5, Some(0.1)), 1);
        assert_eq!(gold_count(8, 5, Some(0.2)), 2);
        assert_eq!(gold_count(8, 1, Some(0.5)), 1);
        assert_eq!(gold_count(8, 3, None), 3);
        assert_eq!(gold_count(0, 3, None), 0);
        assert_eq!(gold_count(8, 3, Some(0.0)), 0);
    }

    #[test]
    fn the_second_rater_sees_the_other_side() {
        let cands: Vec<_> = (0..6).map(|i| cand(&format!("c{i}"), None)).collect();
        let config = QueueConfig {
            raters_per_comparison: 2,
            ..QueueConfig::default()
        };
        let q1 = assign("ana", 1, &cands, &config, &[]);
        let rec = |rater: &str, queue| RaterRecord {
            session: "s".into(),
            rater: rater.into(),
            run_id: "r".into(),
            seed: 1,
            queue,
            created_ms: 0,
            active_ms: 0,
        };
        let first = rec("ana", q1.clone());
        let q2 = assign("bo", 2, &cands, &config, std::slice::from_ref(&first));
        assert_eq!(q2.len(), 6);
        for a in &q2 {
            let earlier = q1.iter().find(|b| b.comparison == a.comparison);
            assert_ne!(earlier.map(|b| &b.left), Some(&a.left));
        }
        let q3 = assign("cy", 3, &cands, &config, &[first, rec("bo", q2)]);
        assert!(q3.is_empty());
        assert_eq!(assign("ana", 1, &cands, &config, &[]), q1);
    }
}
