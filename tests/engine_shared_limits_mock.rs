//! One process, one model, one limit: two Apps and a `loupe run`-style run at once, each
//! on its own session but all naming the same model with `concurrency: 2`, share the
//! process's services; the in-process server never sees more than 2 requests in flight.

#![allow(clippy::unwrap_used)]

mod common;

use common::tui_harness::config;
use common::{mock_openai, tui_harness};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use loupe::runner::{self, RunOptions, Selection};
use loupe::services::Services;
use loupe::session::Session;
use loupe::store::{RunStatus, Store};
use tokio_util::sync::CancellationToken;
use tui_harness::App;

const CASES: usize = 12;

/// A session named `name` whose one model (called `model_name` here: the name does not
/// matter, the spec does) is the mock at `base_url` with `concurrency: 2`.
fn write_session(dir: &Path, name: &str, model_name: &str, base_url: &str) -> Arc<Session> {
    let yaml = format!(
        r#"name: {name}
models:
  {model_name}:
    provider: openai
    base_url: {base_url}
    model: mock
    concurrency: 2
    retries: 0
templates:
  t:
    user: "{name}: {{{{ text }}}}"
variants:
  - {{ name: v, template: t, model: {model_name} }}
cases: {{ file: {name}.jsonl }}
checks:
  - json_valid
"#
    );
    common::jsonl::write(
        &dir.join(format!("{name}.jsonl")),
        (0..CASES)
            .map(|i| serde_json::json!({"id": format!("c{i}"), "text": format!("request {i}")})),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    Arc::new(loupe::session::load(&path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_and_a_cli_run_share_one_models_concurrency() {
    // Long enough that the three runs overlap many times over.
    let server = mock_openai::start_in_thread(Duration::from_millis(25));
    let dir = tempfile::tempdir().unwrap();
    let base = server.base_url();
    let first = write_session(dir.path(), "first", "small", &base);
    let second = write_session(dir.path(), "second", "mock", &base);
    let third = write_session(dir.path(), "third", "same", &base);
    let services = Services::new(Store::open(&dir.path().join("store")).unwrap());

    let a = App::spawn_with(services.clone(), first, config(), 100, 30);
    let b = App::spawn_with(services.clone(), second, config(), 100, 30);
    a.screen.wait_for("no run yet").await;
    b.screen.wait_for("no run yet").await;

    let plan = runner::plan_new_run(&third, services.store(), &Selection::default(), true).unwrap();
    let endpoints = runner::endpoints(services.models(), &plan).unwrap();
    let opts = RunOptions {
        no_cache: true,
        deltas: false,
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    a.char('r');
    b.char('r');
    let cli = runner::execute(services.store(), plan, &endpoints, opts, &cancel, &tx);
    let (cli, _, _) = tokio::join!(
        cli,
        a.screen.wait_for("complete"),
        b.screen.wait_for("complete"),
    );
    assert_eq!(cli.unwrap().status, RunStatus::Complete);

    // Every cell of the three runs was asked for (no cache shared between the sessions).
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 3 * CASES);
    let store = services.store();
    for session in ["first", "second", "third"] {
        let run = store.latest_run(Some(session), true).unwrap().unwrap();
        let outputs: Vec<_> = store.outputs(&run.id).map(Result::unwrap).collect();
        assert_eq!(outputs.len(), CASES, "{session}");
        assert!(outputs.iter().all(|o| o.error.is_none()), "{session}");
    }
    // The limit held for the process, and was reached (the runs did overlap).
    assert_eq!(server.state.max_in_flight.load(Ordering::SeqCst), 2);
}
