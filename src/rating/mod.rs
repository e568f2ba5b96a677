//! Human rating sessions, the domain side: which comparisons a rater gets and in what
//! order and placement ([`queue`]), what is hidden from them ([`mask`]), what the owner
//! learns from the ratings ([`owner`]), and the rows `loupe ratings` prints ([`rows`]).
//!
//! No terminal here: the rating screen is `tui::rate`, the store records are
//! `store::ratings`.

pub mod labels;
pub mod mask;
pub mod owner;
pub mod queue;
pub mod rows;

use std::collections::HashMap;

use crate::sanitize::sanitize;
use crate::session::Session;
use crate::store::{Assignment, RaterRecord, RatingRecord, Store, now_ms};

/// One comparison as the rating screen shows it: already sanitised and masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub assignment: Assignment,
    pub left_text: String,
    pub right_text: String,
    /// The case's variables as `(name, value)` text.
    pub inputs: Vec<(String, String)>,
    /// In the session's calibration sample (rated first; kept first when the adaptive
    /// schedule orders the queue again).
    pub calibration: bool,
}

impl Item {
    pub fn right(&self) -> &str {
        queue::right_of(&self.assignment)
    }
}

/// A rater's place in a session, ready to show.
#[derive(Debug, Clone)]
pub struct Opened {
    pub record: RaterRecord,
    pub items: Vec<Item>,
    /// The rater's ratings so far, oldest first.
    pub ratings: Vec<RatingRecord>,
    /// Comparisons of the run left out because an output is missing or failed.
    pub left_out: usize,
    /// Whether the rater's queue was made just now.
    pub new: bool,
    /// `rating.schedule: adaptive`: the rest of the queue is put in order again after each
    /// rating (see [`reorder`]).
    pub adaptive: bool,
}

/// Under `rating.schedule: adaptive`, orders what the rater has left by what the session's
/// ratings so far say is still undecided (see [`queue::order_adaptively`]).
fn schedule(
    q: &mut [Assignment],
    rated: &std::collections::HashSet<crate::store::ComparisonKey>,
    candidates: &[queue::Candidate],
    config: &queue::QueueConfig,
    ratings: &[RatingRecord],
) {
    if !config.adaptive {
        return;
    }
    let sample = queue::calibration_sample(candidates, config.calibration_share);
    order_by_ratings(q, rated, &sample, ratings);
}

/// [`queue::order_adaptively`] on the ratings of the queue's run: another run's ratings of
/// the same pair say nothing about which of these comparisons is still needed. Returns the
/// pairs the owner may already stop on.
fn order_by_ratings(
    q: &mut [Assignment],
    rated: &std::collections::HashSet<crate::store::ComparisonKey>,
    sample: &std::collections::HashSet<crate::store::ComparisonKey>,
    ratings: &[RatingRecord],
) -> std::collections::HashSet<(String, String)> {
    let alpha = crate::eval::verdicts::AnalyseOptions::default().alpha;
    let runs: std::collections::HashSet<&str> =
        q.iter().map(|a| a.comparison.run_id.as_str()).collect();
    let ratings: Vec<RatingRecord> = ratings
        .iter()
        .filter(|r| runs.contains(r.comparison.run_id.as_str()))
        .cloned()
        .collect();
    queue::order_adaptively(q, rated, sample, &ratings, alpha)
}

/// The adaptive order of `rater`'s queue now (`queue`: its comparisons in the order they
/// were shown, `sample`: those of the calibration sample), from every rating of the session
/// in the store, the other raters' included: the rating screen asks for it after each of
/// the rater's ratings and whenever others' arrive. Only the order of the regular unrated
/// comparisons changes (as at [`open_rater`]): membership, placement and gold items stay.
pub fn reorder(
    store: &Store,
    session: &Session,
    rater: &str,
    queue: &[Assignment],
    sample: &std::collections::HashSet<crate::store::ComparisonKey>,
) -> Result<Reordered, crate::store::StoreError> {
    let ratings = store
        .ratings(&session.file.name)
        .collect::<Result<Vec<_>, _>>()?;
    let rated: std::collections::HashSet<_> = ratings
        .iter()
        .filter(|r| r.rater == rater)
        .map(|r| r.comparison.clone())
        .collect();
    let mut q = queue.to_vec();
    let settled = order_by_ratings(&mut q, &rated, sample, &ratings);
    Ok(Reordered {
        comparisons: q.into_iter().map(|a| a.comparison).collect(),
        settled,
    })
}

/// An adaptive queue's order (see [`reorder`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reordered {
    /// The queue's comparisons, first to be shown first.
    pub comparisons: Vec<crate::store::ComparisonKey>,
    /// Pairs `(a, b)` whose sequential test already lets the owner stop: a comparison of
    /// one is worth less to the decision than any of a pair still open.
    pub settled: std::collections::HashSet<(String, String)>,
}

/// Opens `rater`'s queue in `session`: the stored one, or a new one on `run` (default:
/// the latest complete run of the session). Errors are sentences for the rater.
pub fn open_rater(
    store: &Store,
    session: &Session,
    rater: &str,
    run: Option<&str>,
) -> anyhow::Result<Opened> {
    let name = &session.file.name;
    let rater = rater.trim();
    if rater.is_empty() || rater.contains('\0') {
        anyhow::bail!("the rater name {rater:?} is empty or has a NUL: pass --rater NAME");
    }
    // From reading the others' queues to storing this one, no other opening may run.
    let turn = store.queue_lock();
    let existing = store.rater(name, rater)?;
    if let (Some(rec), Some(run)) = (&existing, run)
        && rec.run_id != run
    {
        anyhow::bail!(
            "rater {rater} is rating run {} of {name}; finish that (leave out --run), or rate as another name",
            rec.run_id
        );
    }
    let run_id = match (&existing, run) {
        (Some(rec), _) => rec.run_id.clone(),
        (None, Some(run)) => run.to_owned(),
        (None, None) => match store.latest_run(Some(name), true)? {
            Some(r) => r.id,
            None => anyhow::bail!(
                "no complete run of session {name} in the store {}: `loupe run {}` first, or pass --run",
                store.path().display(),
                session.path.display()
            ),
        },
    };
    let run = store.run(&run_id)?;
    if run.session_name != *name {
        anyhow::bail!(
            "run {run_id} belongs to session {}, not {name}",
            run.session_name
        );
    }
    let outputs = store.outputs(&run_id).collect::<Result<Vec<_>, _>>()?;
    let offer = queue::candidates(session, &run, &outputs).map_err(anyhow::Error::msg)?;
    // The queue is worked out again at every opening from what still needs raters: what
    // others hold (rated, or reserved while they are active) and the session's k now.
    let now = now_ms();
    let all_ratings = store.ratings(name).collect::<Result<Vec<_>, _>>()?;
    let release_after = queue::release_after_ms(session);
    let others: Vec<RaterRecord> = store
        .raters(name)
        .filter(|r| r.as_ref().map_or(true, |r| r.rater != rater))
        .map(|r| r.map(|r| queue::held(&r, &all_ratings, now, release_after)))
        .collect::<Result<Vec<_>, _>>()?;
    let config = queue::QueueConfig::of(session);
    let (record, new) = if let Some(mut rec) = existing {
        let rated: std::collections::HashSet<_> = all_ratings
            .iter()
            .filter(|r| r.rater == rater)
            .map(|r| r.comparison.clone())
            .collect();
        rec.queue = queue::refresh(&rec, &rated, &offer.candidates, &config, &others);
        schedule(
            &mut rec.queue,
            &rated,
            &offer.candidates,
            &config,
            &all_ratings,
        );
        rec.active_ms = now;
        store.put_rater(&rec)?;
        (rec, false)
    } else {
        let seed = rand::random::<u64>();
        let mut rec = RaterRecord {
            session: name.clone(),
            rater: rater.to_owned(),
            run_id: run_id.clone(),
            seed,
            queue: queue::assign(rater, seed, &offer.candidates, &config, &others),
            created_ms: now,
            active_ms: now,
        };
        let none = std::collections::HashSet::new();
        schedule(
            &mut rec.queue,
            &none,
            &offer.candidates,
            &config,
            &all_ratings,
        );
        store.put_rater(&rec)?;
        (rec, true)
    };
    drop(turn);
    let sample = queue::calibration_sample(&offer.candidates, config.calibration_share);
    let masker = mask::Masker::for_run(session, &run)?;
    let texts: HashMap<(&str, &str, u32), &str> = outputs
        .iter()
        .map(|o| {
            (
                (o.variant.as_str(), o.case_id.as_str(), o.repeat),
                o.text.as_str(),
            )
        })
        .collect();
    let shown = |variant: &str, a: &Assignment| -> String {
        let c = &a.comparison;
        let raw = texts
            .get(&(variant, c.case_id.as_str(), c.repeat))
            .copied()
            .unwrap_or("(this output is no longer in the store)");
        masker.mask(&sanitize(raw)).into_owned()
    };
    let items = record
        .queue
        .iter()
        .map(|a| {
            let inputs = session
                .cases
                .iter()
                .find(|c| c.id == a.comparison.case_id)
                .map(|c| {
                    c.vars
                        .iter()
                        .map(|(k, v)| {
                            let text = match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), masker.mask(&sanitize(&text)).into_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Item {
                left_text: shown(&a.left, a),
                right_text: shown(queue::right_of(a), a),
                inputs,
                calibration: sample.contains(&a.comparison),
                assignment: a.clone(),
            }
        })
        .collect();
    let ratings = store
        .ratings_by(name, rater)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Opened {
        record,
        items,
        ratings,
        left_out: offer.left_out,
        new,
        adaptive: config.adaptive,
    })
}
