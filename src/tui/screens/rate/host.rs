//! The host side of rating effects: store work off the UI thread, reported back as
//! messages. A rating is reported `Saved` only after `Store::put_rating` has flushed it.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::{Order, RateEffect, RateMsg, Reorder};
use crate::eval::verdicts::AnalyseOptions;
use crate::session::Session;
use crate::store::{Store, now_ms};
use crate::tui::msg::Msg;

pub fn run(effect: RateEffect, store: Store, session: Arc<Session>, tx: UnboundedSender<Msg>) {
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(Msg::Rate(perform(effect, &store, &session)));
    });
}

/// Does the store work of one effect, blocking, and says how it went.
pub fn perform(effect: RateEffect, store: &Store, session: &Session) -> RateMsg {
    match effect {
        RateEffect::Open { rater, run } => {
            match crate::rating::open_rater(store, session, &rater, run.as_deref()) {
                Ok(opened) => RateMsg::Opened(Box::new(opened)),
                Err(e) => RateMsg::OpenFailed(format!("{e:#}")),
            }
        }
        RateEffect::Save(mut record, reorder) => {
            record.at_ms = now_ms();
            match store.put_rating(&record) {
                // The rating is flushed whatever becomes of the order: a failed read only
                // leaves the old order standing.
                Ok(()) => {
                    RateMsg::Saved(record, reorder.and_then(|r| order(&r, store, session).ok()))
                }
                Err(e) => RateMsg::SaveFailed(e.to_string()),
            }
        }
        RateEffect::Reorder(r) => match order(&r, store, session) {
            Ok(order) => RateMsg::Reordered(order),
            // Nothing the rater must act on: the order they have stands.
            Err(_) => RateMsg::Reordered(Order {
                ticket: r.ticket,
                comparisons: Vec::new(),
                settled: std::collections::HashSet::new(),
            }),
        },
        RateEffect::Undo(record) => match store.delete_rating(&record) {
            Ok(()) => RateMsg::Undone(record),
            Err(e) => RateMsg::UndoFailed(e.to_string()),
        },
        RateEffect::LoadOwner => match owner_report(store, session) {
            Ok(report) => RateMsg::OwnerLoaded(Box::new(report)),
            Err(e) => RateMsg::OwnerFailed(format!("{e:#}")),
        },
    }
}

/// An adaptive queue's order from the session's ratings now in the store.
fn order(r: &Reorder, store: &Store, session: &Session) -> anyhow::Result<Order> {
    let reordered = crate::rating::reorder(store, session, &r.rater, &r.queue, &r.sample)?;
    Ok(Order {
        ticket: r.ticket,
        comparisons: reordered.comparisons,
        settled: reordered.settled,
    })
}

/// The owner's view from the store.
pub fn owner_report(
    store: &Store,
    session: &Session,
) -> anyhow::Result<crate::rating::owner::OwnerReport> {
    let name = &session.file.name;
    let raters = store.raters(name).collect::<Result<Vec<_>, _>>()?;
    let ratings = store.ratings(name).collect::<Result<Vec<_>, _>>()?;
    // `loupe stats`'s own defaults, so the owner's view and `loupe stats` on
    // `loupe ratings --format stats` give one result.
    let options = AnalyseOptions::default();
    let mut report = crate::rating::owner::report(session, &raters, &ratings, &options);
    // The runs being rated: those of the raters' queues and of the ratings.
    let runs: std::collections::BTreeSet<&str> = ratings
        .iter()
        .map(|r| r.comparison.run_id.as_str())
        .chain(raters.iter().map(|r| r.run_id.as_str()))
        .collect();
    let mut judgements = Vec::new();
    for run in &runs {
        for j in store.judgements(run) {
            judgements.push(j?);
        }
    }
    if let Some(share) = session
        .file
        .rating
        .as_ref()
        .and_then(|r| r.calibration_share)
        .filter(|s| *s > 0.0)
    {
        let mut sample = std::collections::HashSet::new();
        for run in &runs {
            let record = store.run(run)?;
            let outputs = store.outputs(run).collect::<Result<Vec<_>, _>>()?;
            // A run whose variants no longer match the pairs has nothing to sample.
            if let Ok(offer) = crate::rating::queue::candidates(session, &record, &outputs) {
                sample.extend(crate::rating::queue::calibration_sample(
                    &offer.candidates,
                    Some(share),
                ));
            }
        }
        report.calibration = Some(crate::eval::calibration::sample_coverage(
            share,
            &sample,
            &judgements,
            &ratings,
        ));
    }
    report.judges = crate::eval::calibration::calibrate(
        &judgements,
        &ratings,
        1.0 - options.alpha,
        options.bootstrap_resamples,
        options.seed,
    );
    Ok(report)
}
