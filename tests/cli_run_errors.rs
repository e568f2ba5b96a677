//! Runs that say what went wrong, through the real binary: failed cells grouped by cause
//! with a count and an example in `loupe run` and `loupe report`, exit 1 when a cell failed,
//! and SIGHUP or SIGTERM ending a CLI run as interrupted and resumable.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cli::{loupe_store as loupe, spawn_run};
use common::http::free_port;
use common::mock_openai;
use loupe::store::{RunStatus, Store};

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

fn write_session(dir: &Path, base_url: &str, cases: usize) -> PathBuf {
    let mut yaml = format!(
        r#"name: failing
models:
  main:
    provider: openai
    base_url: {base_url}
    model: smollm2-135m
    concurrency: 2
    retries: 0
templates:
  ask:
    user: "What is {{{{ thing }}}}?"
variants:
  - {{ name: plain, template: ask, model: main }}
  - {{ name: again, template: ask, model: main }}
cases:
"#
    );
    for i in 0..cases {
        yaml.push_str(&format!("  - {{ id: c{i}, thing: \"thing {i}\" }}\n"));
    }
    let path = dir.join("failing.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_run_whose_cells_failed_says_why_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let session = write_session(dir.path(), &format!("http://127.0.0.1:{port}/v1"), 2);
    let store = dir.path().join("store");
    let out = loupe(&store, &["run", session.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!id.is_empty(), "{err}");
    assert!(err.contains("4 failed cells by cause:"), "{err}");
    assert!(
        err.contains(&format!("4 x cannot connect to http://127.0.0.1:{port}/v1")),
        "{err}"
    );
    assert!(err.contains("(e.g. variant again, case c0)"), "{err}");
    // Each cause names the model it came from.
    assert!(
        err.contains(" from main (e.g. variant again, case c0)"),
        "{err}"
    );
    assert!(err.contains("finished with 4 failed cells of 4"), "{err}");
    assert!(!err.contains(" complete;"), "{err}");

    // `loupe runs`: every column's header starts (or, for the count, ends) where its values do.
    let runs = loupe(&store, &["runs"]);
    let text = String::from_utf8_lossy(&runs.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for word in ["session", "status", "started", "variants"] {
        let at = lines[0].find(word).unwrap();
        let value = lines[1][at..].split("  ").next().unwrap();
        assert!(
            !value.starts_with(' ') && !value.is_empty(),
            "{word} misaligned:\n{text}"
        );
    }
    assert_eq!(lines[0].len(), lines[1].len(), "{text}");

    // The hint works when pasted into a shell, from anywhere.
    let hint = err
        .split("see `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap();
    let report = Command::new("sh")
        .args(["-c", hint])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0), "{hint}");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("4 failed cells by cause:"), "{text}");
    assert!(text.contains("(e.g. variant again, case c0)"), "{text}");

    let json = loupe(&store, &["report", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["errors"][0]["count"], 4);
    assert_eq!(v["errors"][0]["example"]["case_id"], "c0");
    assert!(
        v["errors"][0]["cause"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect to")
    );
    // An interval of no passes starts at exactly 0, not at a rounding error above it.
    assert_eq!(v["variants"][0]["pass_all"]["interval"]["low"], 0.0);
}

/// Starts a run against a slow server, sends `signal` once some cells are done, and
/// checks the run ends interrupted, recorded, and resumable.
fn signal_interrupts(signal: &str) {
    let server = mock_openai::start_in_thread(Duration::from_millis(150));
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &server.base_url(), 40);
    let store_dir = dir.path().join("store");
    let child = spawn_run(&store_dir, &session, Stdio::piped());
    server.wait_requests(6);
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{signal}: {err}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let store = Store::open(&store_dir).unwrap();
    let run = store.run(&id).unwrap();
    assert_eq!(run.status, RunStatus::Interrupted, "{signal}: {err}");
    drop(store);
    let runs = loupe(&store_dir, &["runs"]);
    assert!(
        String::from_utf8_lossy(&runs.stdout).contains("interrupted"),
        "{}",
        String::from_utf8_lossy(&runs.stdout)
    );
    let resumed = loupe(
        &store_dir,
        &["run", session.to_str().unwrap(), "--resume", &id],
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

#[test]
fn sighup_ends_a_cli_run_as_interrupted() {
    signal_interrupts("-HUP");
}

#[test]
fn sigterm_ends_a_cli_run_as_interrupted() {
    signal_interrupts("-TERM");
}

#[test]
fn help_names_the_store_variable_without_markdown() {
    let out = Command::new(LOUPE).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("$LOUPE_STORE,"), "{help}");
    assert!(!help.contains("$`"), "{help}");
}
