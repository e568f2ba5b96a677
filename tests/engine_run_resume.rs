//! Resume: the real binary is killed with SIGKILL mid-run, then resumed; every cell ends up
//! in the store exactly once and no cell that was already stored is requested again.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::cli::{loupe_store, spawn_run};
use common::mock_openai;
use loupe::store::{CellKey, Store};

const CASES: usize = 80;

fn write_session(dir: &Path, base_url: &str) -> std::path::PathBuf {
    let yaml = format!(
        r#"name: resume
models:
  mock:
    provider: openai
    base_url: {base_url}
    model: mock
    concurrency: 4
templates:
  t:
    user: "case {{{{ n }}}}: {{{{ text }}}}"
variants:
  - {{ name: v, template: t, model: mock }}
cases: {{ file: cases.jsonl }}
checks:
  - json_valid
"#
    );
    common::jsonl::write(
        &dir.join("cases.jsonl"),
        (0..CASES).map(|n| serde_json::json!({"id": format!("c{n}"), "n": n, "text": format!("rotate key {n}")})),
    );
    let path = dir.join("resume.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn prompt(n: usize) -> String {
    format!("case {n}: rotate key {n}")
}

#[test]
fn killed_run_resumes_without_repeating_finished_cells() {
    let server = mock_openai::start_in_thread(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &server.base_url());
    let store_dir = dir.path().join("store");

    let mut child = spawn_run(&store_dir, &session, Stdio::null());
    // Kill once a good part, but not all, of the run has been served.
    server.wait_requests(CASES / 3);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Requests in flight at the kill are counted when the mock answers them; let them land
    // before the counts are taken, so none of them is mistaken for a request of the resume.
    std::thread::sleep(Duration::from_millis(300));

    let (run_id, stored_before) = {
        let store = Store::open(&store_dir).unwrap();
        let run = store.latest_run(Some("resume"), false).unwrap().unwrap();
        let stored: HashSet<String> = store.outputs(&run.id).map(|o| o.unwrap().case_id).collect();
        (run.id, stored)
    };
    assert!(
        stored_before.len() < CASES,
        "the kill came too late to test anything"
    );
    let served_before = server.state.by_prompt.lock().unwrap().clone();
    server.state.by_prompt.lock().unwrap().clear();

    let out = loupe_store(
        &store_dir,
        &["run", session.to_str().unwrap(), "--resume", &run_id],
    );
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = Store::open(&store_dir).unwrap();
    let outputs: Vec<_> = store.outputs(&run_id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), CASES, "every cell present");
    let ids: HashSet<&str> = outputs.iter().map(|o| o.case_id.as_str()).collect();
    assert_eq!(ids.len(), CASES, "each cell once");
    assert!(outputs.iter().all(|o| o.error.is_none()));
    let asked_again = server.state.by_prompt.lock().unwrap().clone();
    for n in 0..CASES {
        let id = format!("c{n}");
        let again = asked_again.get(&prompt(n)).copied().unwrap_or(0);
        if stored_before.contains(&id) {
            assert_eq!(
                again, 0,
                "{id} was finished before the kill but was requested again"
            );
        } else if served_before.get(&prompt(n)).copied().unwrap_or(0) == 0 {
            assert_eq!(
                again, 1,
                "{id} was never asked before and must be asked once on resume"
            );
        }
        assert!(
            store
                .has_output(&CellKey {
                    run_id: run_id.clone(),
                    variant: "v".into(),
                    case_id: id,
                    repeat: 0
                })
                .unwrap()
        );
    }
    assert_eq!(
        store.run(&run_id).unwrap().status,
        loupe::store::RunStatus::Complete
    );
}
