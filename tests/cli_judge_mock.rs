//! The judge phase from the command line (real binary, scripted judge on loopback): its
//! progress is shown while it works and its result, or its lack of agreement, is in
//! `loupe report`.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};

use common::mock_judge;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn the_judge_shows_progress_and_its_result_is_in_the_report() {
    let server = mock_judge::start_in_thread();
    let dir = tempfile::tempdir().unwrap();
    let cases = ["agree-1", "agree-2", "bias-1", "tie-1"];
    let session = mock_judge::write_session(dir.path(), &server.base_url(), &cases);
    let store = dir.path().join("store");
    let run = Command::new(LOUPE)
        .arg("--store")
        .arg(&store)
        .arg("run")
        .arg(&session)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    // Without a terminal the progress is a line; the last one is the summary.
    assert!(
        err.contains("4/4 compared, 3 agreed in both orders, 0 failed"),
        "{err}"
    );
    let id = String::from_utf8_lossy(&run.stdout).trim().to_owned();
    let report = Command::new(LOUPE)
        .arg("--store")
        .arg(&store)
        .args(["report", &id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains("good vs bad on 4 comparisons: 2 good won, 0 bad won, 2 ties (1 without agreement between the two orders)"),
        "{text}"
    );
    let json = Command::new(LOUPE)
        .arg("--store")
        .arg(&store)
        .args(["report", &id, "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["judges"][0]["a_wins"], 2);
    assert_eq!(v["judges"][0]["no_agreement"], 1);
}
