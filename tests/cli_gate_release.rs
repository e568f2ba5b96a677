//! A release says exactly what was frozen, or is not recorded: when the candidate's template
//! version is not in the store, `loupe gate` refuses to record a release without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use loupe::eval::spec::CheckResult;
use loupe::store::Store;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn a_release_without_its_template_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let session_path = common::rating::write_session(dir.path(), 30, 1, &[]);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.path().join("store");
    let run_id = {
        let store = Store::open(&store_dir).unwrap();
        let mut plan = common::planned::plan(&session, &store);
        // The run names a template version the store does not hold.
        for v in &mut plan.run.variants {
            if v.name == "plain" {
                v.template_version = "0".repeat(64);
            }
        }
        let run = common::planned::complete(&store, &plan, |cell| {
            let pass = cell.key.variant == "plain";
            let check = CheckResult {
                name: "contains".into(),
                pass,
                score: None,
                reason: String::new(),
            };
            common::planned::answer(cell, "answer".into(), vec![check])
        });
        run.id
    };
    let out = Command::new(LOUPE)
        .arg("--store")
        .arg(&store_dir)
        .args([
            "gate",
            &run_id,
            "--candidate",
            "plain",
            "--baseline",
            "grounded",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("is not in the store"), "{err}");
    assert!(err.contains("nothing recorded"), "{err}");
    let list = Command::new(LOUPE)
        .arg("--store")
        .arg(&store_dir)
        .args(["gate", "--list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}

/// A run where plain wins `wins` cases, loses `losses` and ties the rest (by `contains`).
fn run_with(
    store: &Store,
    session: &loupe::session::Session,
    wins: usize,
    losses: usize,
) -> String {
    let plan = common::planned::plan(session, store);
    let run = common::planned::complete(store, &plan, |cell| {
        let i: usize = cell.key.case_id[1..].parse().unwrap();
        let pass = match cell.key.variant.as_str() {
            "plain" => i < wins,
            "grounded" => i >= wins && i < wins + losses,
            _ => false,
        };
        let check = CheckResult {
            name: "contains".into(),
            pass,
            score: None,
            reason: String::new(),
        };
        common::planned::answer(cell, "answer".into(), vec![check])
    });
    run.id
}

fn gate(store_dir: &std::path::Path, run: &str, extra: &[&str]) -> std::process::Output {
    Command::new(LOUPE)
        .arg("--store")
        .arg(store_dir)
        .args([
            "gate",
            run,
            "--candidate",
            "plain",
            "--baseline",
            "grounded",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_sequential_gate_decides_with_the_anytime_valid_test_and_the_release_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let session_path = common::rating::write_session(dir.path(), 30, 1, &[]);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.path().join("store");
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
    let list = Command::new(LOUPE)
        .arg("--store")
        .arg(&store_dir)
        .args(["gate", "--list", "--format", "json"])
        .output()
        .unwrap();
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
