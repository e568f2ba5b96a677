//! Rating queues for a real team, through the real store: a rater who once found nothing to
//! rate gets work when a reservation is released or `raters_per_comparison` is raised, a
//! returning rater's queue drops what others finished, and the owner's view shows who
//! holds what unrated.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use loupe::rating::open_rater;
use loupe::session::Session;
use loupe::store::{RatingRecord, Store, Winner, now_ms};

const HOUR_MS: u64 = 3_600_000;

fn load(path: &Path) -> Session {
    loupe::session::load(path).unwrap()
}

/// Rates the first `n` unrated comparisons of `rater`'s queue, at time `at_ms`.
fn rate(store: &Store, session: &Session, rater: &str, n: usize, at_ms: u64) {
    let opened = open_rater(store, session, rater, None).unwrap();
    let rated: Vec<_> = opened
        .ratings
        .iter()
        .map(|r| r.comparison.clone())
        .collect();
    let todo = opened
        .items
        .iter()
        .filter(|i| !rated.contains(&i.assignment.comparison))
        .take(n);
    for (seq, item) in todo.enumerate() {
        let seq = u32::try_from(seq).unwrap();
        store
            .put_rating(&RatingRecord {
                at_ms,
                ..common::rating::verdict(
                    &session.file.name,
                    rater,
                    &item.assignment,
                    Winner::A,
                    seq,
                )
            })
            .unwrap();
    }
}

/// (queue length, rated) for `rater` when they open the queue now.
fn opens(store: &Store, session: &Session, rater: &str) -> (usize, usize) {
    let opened = open_rater(store, session, rater, None).unwrap();
    (opened.items.len(), opened.ratings.len())
}

/// Moves `rater`'s last opening `hours` into the past, as if they had walked away then.
fn idle_since(store: &Store, session: &Session, rater: &str, hours: u64) {
    let mut rec = store.rater(&session.file.name, rater).unwrap().unwrap();
    rec.created_ms = now_ms() - hours * HOUR_MS;
    rec.active_ms = rec.created_ms;
    store.put_rater(&rec).unwrap();
}

fn reserved(store: &Store, session: &Session) -> BTreeMap<String, usize> {
    loupe::tui::screens::rate::host::owner_report(store, session)
        .unwrap()
        .raters
        .iter()
        .map(|p| (p.rater.clone(), p.reserved))
        .collect()
}

#[test]
fn nobody_is_stranded_when_reservations_lapse_or_k_grows() {
    let dir = tempfile::tempdir().unwrap();
    // 12 cases x 2 pairs = 24 comparisons, two raters each.
    let (session_path, store_dir) = common::rating::setup(dir.path(), 12, 2, &[]);
    let session = load(&session_path);
    let store = Store::open(&store_dir).unwrap();
    let old = now_ms() - 3 * HOUR_MS;

    rate(&store, &session, "ana", 24, now_ms());
    // bo rated 14 long ago and has not been back since.
    rate(&store, &session, "bo", 14, old);
    assert_eq!(opens(&store, &session, "bo"), (24, 14));

    // bo has just opened the queue: the 10 unrated are still bo's.
    assert_eq!(opens(&store, &session, "cy"), (0, 0));
    assert_eq!(reserved(&store, &session)["bo"], 10);

    // bo walked away (the default release is two hours): cy, who found nothing before,
    // now gets bo's 10 unrated comparisons.
    idle_since(&store, &session, "bo", 3);
    assert_eq!(opens(&store, &session, "cy"), (10, 0));
    let held = reserved(&store, &session);
    assert_eq!((held["ana"], held["cy"]), (0, 10));
    rate(&store, &session, "cy", 10, now_ms());

    // bo comes back: what cy finished is no longer in bo's queue.
    assert_eq!(opens(&store, &session, "bo"), (14, 14));
    assert_eq!(reserved(&store, &session)["bo"], 0);

    // The owner raises raters_per_comparison to 3: every queue grows by what the others
    // rated and the rater did not.
    let yaml = std::fs::read_to_string(&session_path)
        .unwrap()
        .replace("raters_per_comparison: 2", "raters_per_comparison: 3");
    std::fs::write(&session_path, yaml).unwrap();
    let session = load(&session_path);
    assert_eq!(opens(&store, &session, "bo"), (24, 14));
    assert_eq!(opens(&store, &session, "cy"), (24, 10));
    assert_eq!(opens(&store, &session, "ana"), (24, 24));
    // A newcomer now finds nothing: every comparison has three raters holding it.
    assert_eq!(opens(&store, &session, "dan"), (0, 0));
}

#[test]
fn the_release_time_is_the_sessions_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 4, 1, &[]);
    common::rating::add_rating_setting(&session_path, "release_after_minutes: 600");
    let session = load(&session_path);
    let store = Store::open(&store_dir).unwrap();
    assert_eq!(opens(&store, &session, "ana"), (8, 0));
    idle_since(&store, &session, "ana", 3);
    // Three hours is within the session's ten: ana's comparisons stay hers.
    assert_eq!(opens(&store, &session, "bo"), (0, 0));
    idle_since(&store, &session, "ana", 11);
    assert_eq!(opens(&store, &session, "bo"), (8, 0));
}

#[test]
fn raters_see_no_family_vendor_key_or_provider_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::rating::write_session(dir.path(), 2, 1, &[]);
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("model: tiny-1b", "model: smollm2-135m")
        .replace("service 0", "service 0, as ChatGPT suggested")
        .replace("mask: [SecretCorp]", "mask: [SecretCorp]\n  unmask: [big]");
    std::fs::write(&path, yaml).unwrap();
    let session = load(&path);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let plan = common::planned::plan(&session, &store);
    common::planned::complete(&store, &plan, |cell| {
        let text = format!(
            "{}: I am SmolLM2 (the small model), not Claude by Anthropic nor an OpenAI GPT; a big change, metadata.",
            cell.key.case_id
        );
        common::planned::answer(cell, text, Vec::new())
    });
    let opened = open_rater(&store, &session, "ana", None).unwrap();
    assert!(!opened.items.is_empty());
    for item in &opened.items {
        for text in [&item.left_text, &item.right_text] {
            assert!(
                text.ends_with(
                    "I am [masked] (the [masked] model), not [masked] by [masked] nor an [masked] [masked]; a big change, metadata."
                ),
                "{text}"
            );
        }
        for (_, value) in &item.inputs {
            assert!(!value.contains("ChatGPT"), "{value}");
        }
    }
    assert!(opened.items.iter().any(|i| {
        i.inputs
            .iter()
            .any(|(_, v)| v.contains("as [masked] suggested"))
    }));
}

/// A judgement of `key` as the run's judging stores it: both orders asked, `a` preferred.
fn judgement(key: &loupe::store::ComparisonKey) -> loupe::store::JudgementRecord {
    let ask = |shown_a: &str, shown_b: &str| loupe::store::JudgeAsk {
        shown_a: shown_a.into(),
        shown_b: shown_b.into(),
        answer: "A".into(),
        pick: None,
        error: None,
        request_hash: String::new(),
        cached: false,
        latency_ms: 1,
        usage: loupe::providers::Usage::default(),
        p_first: None,
    };
    loupe::store::JudgementRecord {
        run_id: key.run_id.clone(),
        judge: "judge@m".into(),
        template: "judge".into(),
        template_version: String::new(),
        model_name: "m".into(),
        a: key.a.clone(),
        b: key.b.clone(),
        case_id: key.case_id.clone(),
        repeat: key.repeat,
        ab: ask(&key.a, &key.b),
        ba: ask(&key.b, &key.a),
        verdict: loupe::spec::JudgeVerdict::A,
        agreed: false,
        p_a: None,
        reason: String::new(),
        error: None,
        finished_ms: 0,
    }
}

#[test]
fn the_calibration_sample_is_rated_first_and_counted_in_the_owners_view() {
    let dir = tempfile::tempdir().unwrap();
    // 12 cases x 2 pairs; a quarter of each pair's comparisons (3 + 3) is the sample.
    let (session_path, store_dir) = common::rating::setup(dir.path(), 12, 2, &[]);
    common::rating::add_rating_setting(&session_path, "calibration_share: 0.25");
    let session = load(&session_path);
    let store = Store::open(&store_dir).unwrap();
    let run = store
        .latest_run(Some(&session.file.name), true)
        .unwrap()
        .unwrap();
    let outputs = store
        .outputs(&run.id)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let offer = loupe::rating::queue::candidates(&session, &run, &outputs).unwrap();
    let sample = loupe::rating::queue::calibration_sample(&offer.candidates, Some(0.25));
    assert_eq!(sample.len(), 6);
    for pair in [("plain", "grounded"), ("grounded", "tuned")] {
        let n = sample
            .iter()
            .filter(|k| (k.a.as_str(), k.b.as_str()) == pair)
            .count();
        assert_eq!(n, 3, "{pair:?}");
    }

    // Every rater, new or returning, meets the sample first.
    for rater in ["ana", "bo"] {
        let opened = open_rater(&store, &session, rater, None).unwrap();
        let first: std::collections::HashSet<_> = opened.items[..6]
            .iter()
            .map(|i| i.assignment.comparison.clone())
            .collect();
        assert_eq!(first, sample, "{rater}");
    }
    let report = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    let c = report.calibration.unwrap();
    assert_eq!(
        (c.comparisons, c.human_rated, c.judged, c.both),
        (6, 0, 0, 0)
    );

    // ana rates her first six: the whole sample has human ratings.
    rate(&store, &session, "ana", 6, now_ms());
    let report = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    let c = report.calibration.unwrap();
    assert_eq!(
        (c.comparisons, c.human_rated, c.judged, c.both),
        (6, 6, 0, 0)
    );

    // The run's judging covers every comparison of its pairs: the judge's agreement with
    // people now rests on the six, and the owner's view says so.
    for cand in &offer.candidates {
        store.put_judgement(&judgement(&cand.comparison)).unwrap();
    }
    let report = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    let c = report.calibration.as_ref().unwrap();
    assert_eq!(
        (c.comparisons, c.human_rated, c.judged, c.both),
        (6, 6, 6, 6)
    );
    assert_eq!(report.judges.len(), 1);
    assert_eq!(report.judges[0].overlap, 6);
    let lines = loupe::tui::screens::owner::state::owner_lines(&report).join("\n");
    assert!(
        lines.contains(
            "Calibration sample (25% of each pair): 6 comparisons · 6 human-rated · 6 judged · 6 with both"
        ),
        "{lines}"
    );

    // The rest of the queue is unchanged in size: the sample adds no work.
    assert_eq!(opens(&store, &session, "ana"), (24, 6));
}

#[test]
fn the_adaptive_schedule_offers_the_pair_nearest_a_decision_first() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 12, 2, &[]);
    common::rating::set_adaptive(&session_path);
    let session = load(&session_path);
    let store = Store::open(&store_dir).unwrap();
    // ana prefers `plain` on ten plain/grounded comparisons, and rates nothing else yet.
    let opened = open_rater(&store, &session, "ana", None).unwrap();
    let plain: Vec<_> = opened
        .items
        .iter()
        .filter(|i| i.assignment.comparison.a == "plain")
        .take(10)
        .collect();
    for (seq, item) in (0u32..).zip(&plain) {
        store
            .put_rating(&common::rating::verdict(
                &session.file.name,
                "ana",
                &item.assignment,
                Winner::A,
                seq,
            ))
            .unwrap();
    }
    let ratings = store
        .ratings(&session.file.name)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let tallies = loupe::rating::queue::pair_tallies(&ratings);
    let pairs = [("plain", "grounded"), ("grounded", "tuned")];
    let counts: Vec<(u64, u64)> = pairs
        .iter()
        .map(|(a, b)| {
            tallies
                .get(&((*a).to_owned(), (*b).to_owned()))
                .copied()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(counts[0], (10, 0));
    let pri = loupe::rating::queue::pair_priorities(&counts, 0.05);
    assert!(pri[0] > pri[1], "{pri:?}");
    // bo joins: plain/grounded, ten judgements from a decision, comes before the pair
    // nobody has rated; bo still gets all 24 comparisons (k = 2), balanced as ever.
    let bo = open_rater(&store, &session, "bo", None).unwrap();
    assert_eq!(bo.items.len(), 24);
    let order: Vec<&str> = bo
        .items
        .iter()
        .map(|i| i.assignment.comparison.a.as_str())
        .collect();
    assert!(order[..12].iter().all(|a| *a == "plain"), "{order:?}");
    // ana, returning, finds her two unrated plain/grounded comparisons first.
    let ana = open_rater(&store, &session, "ana", None).unwrap();
    let rated: Vec<_> = ana.ratings.iter().map(|r| r.comparison.clone()).collect();
    let next: Vec<&str> = ana
        .items
        .iter()
        .filter(|i| !rated.contains(&i.assignment.comparison))
        .map(|i| i.assignment.comparison.a.as_str())
        .collect();
    assert_eq!(next.len(), 14);
    assert!(next[..2].iter().all(|a| *a == "plain"), "{next:?}");
}

#[test]
fn a_bad_calibration_share_or_schedule_is_named_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::rating::write_session(dir.path(), 2, 1, &[]);
    let good = std::fs::read_to_string(&path).unwrap();
    for (extra, says) in [
        ("calibration_share: 1.5", "calibration_share"),
        ("schedule: sometimes", "sometimes"),
    ] {
        let yaml = good.replace(
            "raters_per_comparison: 1",
            &format!("raters_per_comparison: 1\n  {extra}"),
        );
        std::fs::write(&path, &yaml).unwrap();
        let err = loupe::session::load(&path).unwrap_err().to_string();
        let line = yaml.lines().position(|l| l.contains(extra)).unwrap() + 1;
        assert!(err.contains(says), "{err}");
        assert!(err.contains(&format!("rate.yaml:{line}:")), "{err}");
    }
}
