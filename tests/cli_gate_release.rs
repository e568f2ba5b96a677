//! A release says exactly what was frozen, or is not recorded: when the candidate's template
//! version is not in the store, `loupe gate` refuses to record a release without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cli::loupe_store;
use common::planned;
use loupe::runner::Plan;
use loupe::session::Session;
use loupe::store::Store;

/// The rating session of [`common::rating::write_session`] with 30 cases, in a new folder,
/// and where its store goes.
fn thirty_cases() -> (tempfile::TempDir, Session, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let session_path = common::rating::write_session(dir.path(), 30, 1, &[]);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.path().join("store");
    (dir, session, store_dir)
}

#[test]
fn a_release_without_its_template_content_is_refused() {
    let (_dir, session, store_dir) = thirty_cases();
    let run_id = {
        let store = Store::open(&store_dir).unwrap();
        let mut plan = planned::plan(&session, &store);
        // The run names a template version the store does not hold.
        for v in &mut plan.run.variants {
            if v.name == "plain" {
                v.template_version = "0".repeat(64);
            }
        }
        // plain passes on every case, the others on none.
        complete_with(&store, &plan, 30, 0)
    };
    let out = gate(&store_dir, &run_id, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("is not in the store"), "{err}");
    assert!(err.contains("nothing recorded"), "{err}");
    let list = loupe_store(&store_dir, &["gate", "--list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}

/// Stores `plan` complete, plain winning `wins` cases, losing `losses` and tying the rest
/// (by `contains`): the run's id.
fn complete_with(store: &Store, plan: &Plan, wins: usize, losses: usize) -> String {
    let run = planned::complete(store, plan, |cell| {
        let i: usize = cell.key.case_id[1..].parse().unwrap();
        let pass = match cell.key.variant.as_str() {
            "plain" => i < wins,
            "grounded" => i >= wins && i < wins + losses,
            _ => false,
        };
        planned::answer(
            cell,
            "answer".into(),
            vec![planned::check("contains", pass)],
        )
    });
    run.id
}

/// A run where plain wins `wins` cases, loses `losses` and ties the rest (by `contains`).
fn run_with(store: &Store, session: &Session, wins: usize, losses: usize) -> String {
    complete_with(store, &planned::plan(session, store), wins, losses)
}

/// `loupe gate RUN --candidate plain --baseline grounded EXTRA`.
fn gate(store_dir: &Path, run: &str, extra: &[&str]) -> Output {
    let args = [
        "gate",
        run,
        "--candidate",
        "plain",
        "--baseline",
        "grounded",
    ];
    loupe_store(store_dir, &[&args[..], extra].concat())
}

#[test]
fn a_sequential_gate_decides_with_the_anytime_valid_test_and_the_release_says_so() {
    let (_dir, session, store_dir) = thirty_cases();
    let (narrow, clear) = {
        let store = Store::open(&store_dir).unwrap();
        (
            run_with(&store, &session, 9, 1),
            run_with(&store, &session, 20, 0),
        )
    };
    // 9 won, 1 lost: the fixed-sample sign test passes (p = 0.021) ...
    let fixed = gate(&store_dir, &narrow, &["--format", "json"]);
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    // ... but a gate that may have been run at every earlier look does not (E = 3.96).
    let seq = gate(&store_dir, &narrow, &["--sequential"]);
    let text = String::from_utf8_lossy(&seq.stdout);
    assert_eq!(seq.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[FAIL] sequential test (anytime-valid) p = 0.2523"),
        "{text}"
    );
    // 20 won, none lost: both pass, and the release records the sequential decision.
    let seq = gate(&store_dir, &clear, &["--sequential", "--format", "json"]);
    assert_eq!(
        seq.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&seq.stderr)
    );
    let list = loupe_store(&store_dir, &["gate", "--list", "--format", "json"]);
    let releases: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let releases = releases.as_array().unwrap();
    assert_eq!(releases.len(), 2, "{releases:?}");
    let by_run = |run: &str| releases.iter().find(|r| r["run_id"] == run).unwrap();
    assert_eq!(
        by_run(&narrow)["evidence"]["decision"]["test"],
        "fixed_sample"
    );
    let decision = &by_run(&clear)["evidence"]["decision"];
    assert_eq!(decision["test"], "sequential");
    assert!(
        decision["sequential"]["e_value"].as_f64().unwrap() > 20.0,
        "{decision}"
    );
    assert_eq!(decision["sequential"]["may_stop"], true);
}
