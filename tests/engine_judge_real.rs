//! The demo session's checks, the judge included, against the real local model
//! (llama.cpp with SmolLM2-135M-Instruct) on a few cases: every check kind runs and is
//! stored, the judge is asked in both orders and its raw answers kept, and resuming the
//! finished run does not judge again.
//!
//! The server is `LOUPE_TEST_BASE_URL` (as `scripts/test.sh` exports it); without it these
//! tests start one with `scripts/model.sh`. `LOUPE_SKIP_MODEL=1` skips them, loudly.

#![allow(clippy::unwrap_used)]

mod common;

use common::model_server;

use std::collections::BTreeSet;

use loupe::eval::judge;
use loupe::eval::spec::CHECK_NAMES;
use loupe::runner::{self, RunOptions, Selection};
use loupe::session::Session;
use loupe::store::{RunStatus, Store};

fn execute(store: &Store, plan: runner::Plan) -> RunStatus {
    common::execute::to_end(store, plan, RunOptions::default())
}

/// The demo session as it is (its cases, schemas and policy copied beside it), pointed at
/// the test server `base`, with `extra` appended to its YAML; loaded from a new folder.
fn demo_on(base: &str, extra: &str) -> (tempfile::TempDir, Session) {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let mut demo = std::fs::read_to_string(format!("{root}/sessions/demo.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8080/v1", &format!("{base}/v1"));
    demo.push_str(extra);
    std::fs::write(dir.path().join("demo.yaml"), demo).unwrap();
    for sub in ["cases", "schemas", "policy"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(format!("{root}/sessions/{sub}")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    let session = loupe::session::load(&dir.path().join("demo.yaml")).unwrap();
    (dir, session)
}

/// The first `n` cases of `session`, and a selection of zero-shot and few-shot on them.
fn zero_and_few_shot_on(session: &Session, n: usize) -> (Vec<String>, Selection) {
    let cases: Vec<String> = session.cases.iter().take(n).map(|c| c.id.clone()).collect();
    let selection = Selection {
        variants: vec!["zero-shot".into(), "few-shot".into()],
        case_ids: cases.clone(),
        ..Selection::default()
    };
    (cases, selection)
}

#[test]
fn demo_checks_and_judge_run_on_the_real_model() {
    let Some(base) = model_server::server() else {
        model_server::skip_note("the real-model judge test");
        return;
    };
    let (dir, session) = demo_on(base, "");
    let (cases, selection) = zero_and_few_shot_on(&session, 3);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let plan = runner::plan_new_run(&session, &store, &selection, false).unwrap();
    let run_id = plan.run.id.clone();
    assert_eq!(plan.judges.len(), 1, "the demo has one judge");
    assert_eq!(execute(&store, plan), RunStatus::Complete);

    // Every check kind but the judge is stored with every output.
    let outputs: Vec<_> = store.outputs(&run_id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 2 * cases.len());
    for o in &outputs {
        assert!(o.error.is_none(), "{:?}", o.error);
        let kinds: BTreeSet<&str> = o
            .checks
            .iter()
            .map(|c| c.name.split_whitespace().next().unwrap())
            .collect();
        // The judge runs after the run; `citations` belongs to the demo's RAG variant only.
        let expected: BTreeSet<&str> = CHECK_NAMES
            .iter()
            .copied()
            .filter(|k| !["judge", "citations"].contains(k))
            .collect();
        assert_eq!(kinds, expected, "{} / {}", o.variant, o.case_id);
    }

    // The judge: one judgement per case, both orders asked, raw answers kept.
    let judgements: Vec<_> = store.judgements(&run_id).map(Result::unwrap).collect();
    assert_eq!(judgements.len(), cases.len());
    for j in &judgements {
        assert!(j.error.is_none(), "{:?}", j.error);
        assert_eq!((j.a.as_str(), j.b.as_str()), ("zero-shot", "few-shot"));
        assert_eq!(j.ab.shown_a, "zero-shot");
        assert_eq!(j.ba.shown_a, "few-shot");
        assert_ne!(
            j.ab.request_hash, j.ba.request_hash,
            "two different questions"
        );
        assert!(!j.ab.cached && !j.ba.cached);
        assert_eq!(j.ab.pick, judge::parse_answer(&j.ab.answer));
        assert_eq!(j.ba.pick, judge::parse_answer(&j.ba.answer));
        assert_eq!((j.verdict, j.agreed), judge::combine(j.ab.pick, j.ba.pick));
        eprintln!(
            "{}: {:?} then {:?} -> {}",
            j.case_id, j.ab.answer, j.ba.answer, j.reason
        );
    }

    // Resuming the finished run leaves the judgements as they were.
    let plan = runner::plan_resume(&session, &store, &run_id).unwrap();
    assert_eq!(execute(&store, plan), RunStatus::Complete);
    let again: Vec<_> = store.judgements(&run_id).map(Result::unwrap).collect();
    assert_eq!(again, judgements, "nothing judged again");
}

/// With `judge.logprobs`, the judge reads the real model's token log-probabilities in both
/// orders: every judgement carries P(first better) for each placement and their average,
/// and its verdict follows the margin rule on that average (the text answers are kept).
#[test]
fn the_judge_reads_log_probabilities_from_the_real_model() {
    let Some(base) = model_server::server() else {
        model_server::skip_note("the real-model log-probability judge test");
        return;
    };
    let (dir, session) = demo_on(base, "\njudge:\n  logprobs: true\n  margin: 0.1\n");
    let (cases, selection) = zero_and_few_shot_on(&session, 4);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let plan = runner::plan_new_run(&session, &store, &selection, false).unwrap();
    assert_eq!(plan.judges[0].logprob_margin, Some(0.1));
    let run_id = plan.run.id.clone();
    assert_eq!(execute(&store, plan), RunStatus::Complete);
    let judgements: Vec<_> = store.judgements(&run_id).map(Result::unwrap).collect();
    assert_eq!(judgements.len(), cases.len());
    let mut decisive = 0;
    for j in &judgements {
        assert!(j.error.is_none(), "{:?}", j.error);
        let (ab, ba) = (j.ab.p_first.unwrap(), j.ba.p_first.unwrap());
        assert!(
            (0.0..=1.0).contains(&ab) && (0.0..=1.0).contains(&ba),
            "{ab} {ba}"
        );
        let p = j.p_a.unwrap();
        assert!((p - judge::average_over_placements(ab, ba)).abs() < 1e-12);
        assert_eq!(
            (j.verdict, j.agreed),
            judge::verdict_from_probability(p, 0.1, Some(ab), Some(ba))
        );
        decisive += usize::from(j.verdict != loupe::spec::JudgeVerdict::Tie);
        eprintln!(
            "{}: {} (answers {:?} / {:?})",
            j.case_id, j.reason, j.ab.answer, j.ba.answer
        );
    }
    eprintln!(
        "{decisive} of {} comparisons decisive by log-probabilities",
        judgements.len()
    );
}
