//! The judge phase against a scripted in-process judge: both orders are asked, agreement
//! counts, disagreement (position bias, an unreadable answer) becomes a tie, both raw
//! answers are stored, and a resumed run asks nothing again.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use common::mock_judge;
use loupe::eval::judge::{JudgeVerdict, Pick};
use loupe::runner::{self, RunOptions, Selection};
use loupe::store::{JudgementRecord, RunStatus, Store};

const CASES: [&str; 5] = ["agree-1", "agree-2", "bias-1", "tie-1", "junk-1"];

/// Runs `plan` to its end; `no_cache` sends every request even when cached.
fn execute(store: &Store, plan: runner::Plan, no_cache: bool) -> RunStatus {
    let opts = RunOptions {
        no_cache,
        deltas: false,
    };
    common::execute::to_end(store, plan, opts)
}

#[test]
fn judge_asks_both_orders_counts_agreement_and_is_not_asked_again() {
    let server = mock_judge::start_in_thread();
    let dir = tempfile::tempdir().unwrap();
    let path = mock_judge::write_session(dir.path(), &server.base_url(), &CASES);
    let session = loupe::session::load(&path).unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();

    let plan = runner::plan_new_run(&session, &store, &Selection::default(), false).unwrap();
    let run_id = plan.run.id.clone();
    assert_eq!(plan.judges.len(), 1);
    assert_eq!(plan.judges[0].id, "judge@referee");
    assert_eq!(execute(&store, plan, false), RunStatus::Complete);

    let state = &server.state;
    assert_eq!(
        state.variant_requests.load(Ordering::SeqCst),
        2 * CASES.len()
    );
    assert_eq!(
        state.judge_requests.load(Ordering::SeqCst),
        2 * CASES.len(),
        "two orders per case"
    );
    for case in CASES {
        assert_eq!(
            server.judged(case, "good"),
            1,
            "{case}: good shown as A once"
        );
        assert_eq!(server.judged(case, "bad"), 1, "{case}: bad shown as A once");
    }

    let judgements: HashMap<String, JudgementRecord> = store
        .judgements(&run_id)
        .map(|j| {
            let j = j.unwrap();
            (j.case_id.clone(), j)
        })
        .collect();
    assert_eq!(judgements.len(), CASES.len());
    for j in judgements.values() {
        assert_eq!((j.a.as_str(), j.b.as_str()), ("good", "bad"));
        assert_eq!(
            (j.ab.shown_a.as_str(), j.ab.shown_b.as_str()),
            ("good", "bad")
        );
        assert_eq!(
            (j.ba.shown_a.as_str(), j.ba.shown_b.as_str()),
            ("bad", "good")
        );
        assert!(j.error.is_none(), "{j:?}");
        assert!(!j.template_version.is_empty());
    }

    // Both orders named the good output: it wins. Both raw answers are kept.
    let agree = &judgements["agree-1"];
    assert_eq!((agree.verdict, agree.agreed), (JudgeVerdict::A, true));
    assert_eq!(agree.ab.answer, "A");
    assert_eq!(agree.ba.answer, r#"{"winner": "B"}"#);
    assert_eq!(
        (agree.ab.pick, agree.ba.pick),
        (Some(Pick::A), Some(Pick::B))
    );
    assert!(agree.reason.starts_with("good wins"), "{}", agree.reason);

    // "A" whatever is shown first: the orders disagree, so it is a tie.
    let bias = &judgements["bias-1"];
    assert_eq!((bias.verdict, bias.agreed), (JudgeVerdict::Tie, false));
    assert_eq!(
        (bias.ab.answer.as_str(), bias.ba.answer.as_str()),
        ("A", "A")
    );
    assert!(bias.reason.contains("disagree"), "{}", bias.reason);

    let tie = &judgements["tie-1"];
    assert_eq!((tie.verdict, tie.agreed), (JudgeVerdict::Tie, true));

    let junk = &judgements["junk-1"];
    assert_eq!((junk.verdict, junk.agreed), (JudgeVerdict::Tie, false));
    assert_eq!(junk.ab.pick, None);
    assert_eq!(junk.ab.answer, "Both answers have merits.");

    // Resuming the finished run, with the cache off so that only the stored judgements can
    // prevent asking: nothing is asked again.
    let before = state.requests.load(Ordering::SeqCst);
    let plan = runner::plan_resume(&session, &store, &run_id).unwrap();
    assert_eq!(execute(&store, plan, true), RunStatus::Complete);
    assert_eq!(
        state.requests.load(Ordering::SeqCst),
        before,
        "a resumed run asks neither the variants nor the judge again"
    );
    assert_eq!(store.judgements(&run_id).count(), CASES.len());
}

#[test]
fn judgements_missing_from_a_run_are_asked_on_resume() {
    let server = mock_judge::start_in_thread();
    let dir = tempfile::tempdir().unwrap();
    let path = mock_judge::write_session(dir.path(), &server.base_url(), &CASES);
    // First without the judge: outputs only.
    let text = std::fs::read_to_string(&path).unwrap();
    let without = text
        .lines()
        .filter(|l| !l.contains("judge: {"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, &without).unwrap();
    let session = loupe::session::load(&path).unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let plan = runner::plan_new_run(&session, &store, &Selection::default(), false).unwrap();
    assert!(plan.judges.is_empty());
    let run_id = plan.run.id.clone();
    execute(&store, plan, false);
    assert_eq!(server.state.judge_requests.load(Ordering::SeqCst), 0);
    assert_eq!(store.judgements(&run_id).count(), 0);

    // The judge is added and the run resumed: only the judge is asked, once per order.
    std::fs::write(&path, &text).unwrap();
    let session = loupe::session::load(&path).unwrap();
    let plan = runner::plan_resume(&session, &store, &run_id).unwrap();
    execute(&store, plan, true);
    assert_eq!(
        server.state.variant_requests.load(Ordering::SeqCst),
        2 * CASES.len(),
        "outputs were not asked again"
    );
    assert_eq!(
        server.state.judge_requests.load(Ordering::SeqCst),
        2 * CASES.len()
    );
    assert_eq!(store.judgements(&run_id).count(), CASES.len());
}
