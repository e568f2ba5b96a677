//! A model server that goes away mid-run: its cells pause instead of failing, the run says
//! the model is unreachable and when it will try again, other models' cells go on, and
//! every cell completes once the server is back; a server that stays down ends the run
//! interrupted (resumable) after the give-up time, with no cell recorded as an error.
//! The server is an in-process one that streams like llama.cpp and fails on cue. The same
//! outage is also shown through the real `loupe run` (its stderr) and the workbench's Run
//! screen (the App on a `TestBackend`).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::outage_server::OutageServer;
use loupe::providers::{ModelPool, ReachPolicy};
use loupe::runner::{self, RunEvent, RunOptions, RunSummary, Selection};
use loupe::store::{RunRecord, RunStatus, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const FLAKY_CASES: usize = 10;

/// Two models on two servers: `flaky` (the one that goes away) and `steady`.
fn write_session(dir: &Path, flaky: &str, steady: &str) -> loupe::session::Session {
    let mut yaml = format!(
        r#"name: outage
models:
  flaky:
    provider: openai
    base_url: {flaky}
    model: smollm2-135m
    concurrency: 2
    retries: 1
  steady:
    provider: openai
    base_url: {steady}
    model: smollm2-135m
    concurrency: 1
    retries: 0
templates:
  ask:
    user: "Say something about {{{{ thing }}}}"
variants:
  - {{ name: f, template: ask, model: flaky }}
  - {{ name: s, template: ask, model: steady }}
cases:
"#
    );
    for i in 0..FLAKY_CASES {
        yaml.push_str(&format!("  - {{ id: c{i}, thing: \"thing {i}\" }}\n"));
    }
    let path = dir.join("outage.yaml");
    std::fs::write(&path, yaml).unwrap();
    loupe::session::load(&path).unwrap()
}

/// Probes 100 ms apart at first, capped at 300 ms; `give_up` as the test needs.
fn policy(give_up: Duration) -> ReachPolicy {
    ReachPolicy {
        threshold: 3,
        probe_first: Duration::from_millis(100),
        probe_cap: Duration::from_millis(300),
        give_up,
    }
}

struct Seen {
    events: Vec<RunEvent>,
    summary: RunSummary,
}

/// Runs `session` to its end on `pool`, calling `on_event` with every event as it comes.
async fn run_session(
    store: &Store,
    pool: &ModelPool,
    session: &loupe::session::Session,
    resume: Option<&str>,
    mut on_event: impl FnMut(&RunEvent) + Send + 'static,
) -> (RunRecord, Seen) {
    let plan = match resume {
        Some(id) => runner::plan_resume(session, store, id).unwrap(),
        None => runner::plan_new_run(session, store, &Selection::default(), true).unwrap(),
    };
    let endpoints = runner::endpoints(pool, &plan).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listen = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(ev) = rx.recv().await {
            on_event(&ev);
            events.push(ev);
        }
        events
    });
    let opts = RunOptions {
        no_cache: true,
        deltas: false,
    };
    let cancel = CancellationToken::new();
    let run = tokio::time::timeout(
        Duration::from_mins(2),
        runner::execute(store, plan, &endpoints, opts, &cancel, &tx),
    )
    .await
    .expect("the run ends (no hang)")
    .unwrap();
    drop(tx);
    let events = listen.await.unwrap();
    let summary = events
        .iter()
        .find_map(|e| match e {
            RunEvent::Summary(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a summary before the end");
    (run, Seen { events, summary })
}

fn flaky_done(ev: &RunEvent) -> bool {
    matches!(ev, RunEvent::CellDone { key, .. } if key.variant == "f")
}

/// What the tests start from: `flaky` answering in about 0.3 s token by token, `steady`
/// with `steady_tokens` tokens `steady_gap` apart, and the session over both in `dir`.
struct Setup {
    flaky: Arc<OutageServer>,
    _steady: OutageServer,
    dir: tempfile::TempDir,
    session: loupe::session::Session,
}

fn setup(steady_tokens: usize, steady_gap: Duration) -> Setup {
    let flaky = Arc::new(OutageServer::start(10, Duration::from_millis(30)));
    let steady = OutageServer::start(steady_tokens, steady_gap);
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &flaky.base_url(), &steady.base_url());
    Setup {
        flaky,
        _steady: steady,
        dir,
        session,
    }
}

impl Setup {
    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("store")).unwrap()
    }
}

/// What a run listener signals: the second flaky cell is done (time for the outage), and
/// each time the run says flaky is unreachable.
struct Signals {
    second_cell: mpsc::UnboundedReceiver<()>,
    unreachable: mpsc::UnboundedReceiver<()>,
}

fn signals() -> (impl FnMut(&RunEvent) + Send + 'static, Signals) {
    let (cell_tx, second_cell) = mpsc::unbounded_channel();
    let (unreachable_tx, unreachable) = mpsc::unbounded_channel();
    let mut flaky_seen = 0;
    let on_event = move |ev: &RunEvent| {
        if flaky_done(ev) {
            flaky_seen += 1;
            if flaky_seen == 2 {
                let _ = cell_tx.send(());
            }
        }
        if matches!(ev, RunEvent::Unreachable { model, .. } if model == "flaky") {
            let _ = unreachable_tx.send(());
        }
    };
    (
        on_event,
        Signals {
            second_cell,
            unreachable,
        },
    )
}

/// Stops `flaky` (off the async threads: it waits for the port to refuse).
async fn stop(flaky: &Arc<OutageServer>) {
    let f = flaky.clone();
    tokio::task::spawn_blocking(move || f.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_mid_run_pauses_its_cells_and_they_all_complete() {
    // The steady model's ten answers, one at a time, take about 2 s: they span the outage.
    let setup = setup(10, Duration::from_millis(20));
    let (flaky, session, store) = (&setup.flaky, &setup.session, setup.store());
    let pool = ModelPool::with_reach_policy(policy(Duration::from_mins(1)));

    // After the second flaky cell, the server goes away (two more are streaming then) and
    // comes back once the run has said so and a few probes have failed.
    let (on_event, mut signals) = signals();
    let outage = {
        let flaky = flaky.clone();
        tokio::spawn(async move {
            signals.second_cell.recv().await.unwrap();
            stop(&flaky).await;
            let stopped = Instant::now();
            signals.unreachable.recv().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1200)).await;
            flaky.start_again();
            stopped.elapsed()
        })
    };
    let (run, seen) = run_session(&store, &pool, session, None, on_event).await;
    let down_for = outage.await.unwrap();

    assert_eq!(run.status, RunStatus::Complete);
    let outputs: Vec<_> = store.outputs(&run.id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 2 * FLAKY_CASES);
    let errors: Vec<_> = outputs.iter().filter_map(|o| o.error.as_deref()).collect();
    assert!(errors.is_empty(), "cells recorded as errors: {errors:?}");
    for o in &outputs {
        assert!(
            o.text.starts_with("Answer to Say something about thing"),
            "{o:?}"
        );
    }

    // The pause was reported with the wait before the next probe, then the resumption.
    let unreachable: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Unreachable {
                model,
                retry_in_ms,
                error,
                ..
            } => Some((model.clone(), *retry_in_ms, error.clone())),
            _ => None,
        })
        .collect();
    assert!(!unreachable.is_empty());
    assert!(
        unreachable.iter().all(|(m, ..)| m == "flaky"),
        "{unreachable:?}"
    );
    assert!(
        unreachable.iter().all(|(_, ms, _)| *ms <= 300),
        "{unreachable:?}"
    );
    assert!(
        unreachable
            .iter()
            .any(|(.., e)| e.contains(&flaky.addr.to_string())),
        "{unreachable:?}"
    );
    let back = seen
        .events
        .iter()
        .position(|e| matches!(e, RunEvent::Reachable { model, .. } if model == "flaky"))
        .expect("the model is said to answer again");
    // Flaky cells finished after it came back: the paused ones resumed.
    assert!(seen.events[back..].iter().any(flaky_done));
    // The steady model's cells went on during the outage.
    let down = seen
        .events
        .iter()
        .position(|e| matches!(e, RunEvent::Unreachable { .. }))
        .unwrap();
    assert!(
        seen.events[down..back]
            .iter()
            .any(|e| matches!(e, RunEvent::CellDone { key, .. } if key.variant == "s")),
        "no steady cell finished while flaky was down"
    );
    assert!(!seen.events[down..back].iter().any(flaky_done));

    // The summary: nothing failed; flaky was unreachable about as long as it was down.
    let s = &seen.summary;
    assert!(s.failed.is_empty(), "{s:?}");
    assert_eq!(s.outages.len(), 1, "{s:?}");
    let o = &s.outages[0];
    assert_eq!(o.model, "flaky");
    assert!(o.pauses >= 1 && !o.gave_up && o.not_run == 0, "{o:?}");
    assert!(
        o.down_ms >= 1000 && o.down_ms <= down_for.as_millis() as u64 + 1000,
        "{o:?} down for {down_for:?}"
    );
    let lines = s.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("model flaky was unreachable for ")
            && lines[0].contains("its cells waited and ran once it answered"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_down_ends_the_run_interrupted_and_resumable() {
    let setup = setup(4, Duration::from_millis(10));
    let (flaky, session, store) = (&setup.flaky, &setup.session, setup.store());
    // A give-up of 1.5 s stands for the user's 15 minutes.
    let pool = ModelPool::with_reach_policy(policy(Duration::from_millis(1500)));

    let (on_event, mut signals) = signals();
    {
        let flaky = flaky.clone();
        tokio::spawn(async move {
            signals.second_cell.recv().await.unwrap();
            stop(&flaky).await;
        });
    }
    let t0 = Instant::now();
    let (run, seen) = run_session(&store, &pool, session, None, on_event).await;
    assert!(t0.elapsed() < Duration::from_mins(1), "{:?}", t0.elapsed());

    assert_eq!(run.status, RunStatus::Interrupted);
    let outputs: Vec<_> = store.outputs(&run.id).map(Result::unwrap).collect();
    let errors: Vec<_> = outputs.iter().filter_map(|o| o.error.as_deref()).collect();
    assert!(errors.is_empty(), "cells recorded as errors: {errors:?}");
    // The steady model's cells all ran; flaky's stopped unrecorded.
    assert_eq!(
        outputs.iter().filter(|o| o.variant == "s").count(),
        FLAKY_CASES
    );
    let flaky_done = outputs.iter().filter(|o| o.variant == "f").count();
    assert!((2..FLAKY_CASES).contains(&flaky_done), "{flaky_done}");
    let s = &seen.summary;
    assert!(s.failed.is_empty(), "{s:?}");
    assert_eq!(s.outages.len(), 1, "{s:?}");
    let o = &s.outages[0];
    assert!(o.gave_up, "{o:?}");
    assert_eq!(o.not_run, FLAKY_CASES - flaky_done, "{o:?}");
    let lines = s.lines();
    assert!(
        lines[0].contains(&format!(
            "gave up waiting: {} of its cells not run",
            o.not_run
        )) && lines[0].contains("the run is interrupted"),
        "{lines:?}"
    );
    assert!(matches!(
        seen.events.last(),
        Some(RunEvent::Finished {
            status: RunStatus::Interrupted,
            ..
        })
    ));

    // Back up: resuming the run asks only for the missing cells, and it completes.
    flaky.start_again();
    let (resumed, seen) = run_session(&store, &pool, session, Some(&run.id), |_| {}).await;
    assert_eq!(resumed.status, RunStatus::Complete);
    let outputs: Vec<_> = store.outputs(&run.id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 2 * FLAKY_CASES);
    assert!(outputs.iter().all(|o| o.error.is_none()));
    assert!(seen.summary.is_empty(), "{:?}", seen.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_never_reached_fails_its_cells_at_once_as_before() {
    // Nothing listens there: a wrong base_url is said at once, not waited on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let steady = OutageServer::start(4, Duration::from_millis(5));
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(
        dir.path(),
        &format!("http://127.0.0.1:{port}/v1"),
        &steady.base_url(),
    );
    let store = Store::open(&dir.path().join("store")).unwrap();
    let pool = ModelPool::with_reach_policy(policy(Duration::from_mins(1)));
    let (run, seen) = run_session(&store, &pool, &session, None, |_| {}).await;
    assert_eq!(run.status, RunStatus::Complete);
    assert!(
        !seen
            .events
            .iter()
            .any(|e| matches!(e, RunEvent::Unreachable { .. }))
    );
    let s = &seen.summary;
    assert!(s.outages.is_empty(), "{s:?}");
    assert_eq!(s.failed.len(), 1, "{s:?}");
    assert_eq!(s.failed[0].model, "flaky");
    assert_eq!(s.failed[0].count, FLAKY_CASES);
    let line = &s.lines()[0];
    assert!(
        line.starts_with(&format!(
            "{FLAKY_CASES} cells failed: {FLAKY_CASES} x cannot connect to http://127.0.0.1:{port}/v1"
        )) && line.ends_with(" from flaky"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_paused_run_ends_it_interrupted_with_no_error_recorded() {
    let setup = setup(2, Duration::from_millis(5));
    let (flaky, store) = (&setup.flaky, setup.store());
    let pool = ModelPool::with_reach_policy(policy(Duration::from_mins(1)));
    let plan = runner::plan_new_run(&setup.session, &store, &Selection::default(), true).unwrap();
    let endpoints = runner::endpoints(&pool, &plan).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    // The user stops the run (Ctrl-C, `x`) once it says the model is unreachable.
    let stopper = {
        let (cancel, flaky) = (cancel.clone(), flaky.clone());
        tokio::spawn(async move {
            let mut flaky_seen = 0;
            let mut events = Vec::new();
            while let Some(ev) = rx.recv().await {
                if flaky_done(&ev) {
                    flaky_seen += 1;
                    if flaky_seen == 2 {
                        stop(&flaky).await;
                    }
                }
                if matches!(ev, RunEvent::Unreachable { .. }) {
                    cancel.cancel();
                }
                events.push(ev);
            }
            events
        })
    };
    let opts = RunOptions {
        no_cache: true,
        deltas: false,
    };
    let run = tokio::time::timeout(
        Duration::from_mins(1),
        runner::execute(&store, plan, &endpoints, opts, &cancel, &tx),
    )
    .await
    .expect("the run ends (no hang)")
    .unwrap();
    drop(tx);
    let events = stopper.await.unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let outputs: Vec<_> = store.outputs(&run.id).map(Result::unwrap).collect();
    assert!(outputs.len() < 2 * FLAKY_CASES);
    assert!(outputs.iter().all(|o| o.error.is_none()), "{outputs:?}");
    let summary = events
        .iter()
        .find_map(|e| match e {
            RunEvent::Summary(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert!(summary.failed.is_empty(), "{summary:?}");
    assert_eq!(summary.outages.len(), 1, "{summary:?}");
    assert!(!summary.outages[0].gave_up, "{summary:?}");
}

/// Waits until `server` has answered `n` requests in full.
fn wait_answered(server: &OutageServer, n: usize) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while server.answered.load(std::sync::atomic::Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "the server answered too few requests"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn loupe_run_says_the_model_is_unreachable_and_completes_when_it_is_back() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};

    let flaky = OutageServer::start(10, Duration::from_millis(30));
    let steady = OutageServer::start(2, Duration::from_millis(5));
    let dir = tempfile::tempdir().unwrap();
    write_session(dir.path(), &flaky.base_url(), &steady.base_url());
    let mut child = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .current_dir(dir.path())
        .args(["run", "outage.yaml", "--store", "store"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (pipe, stderr) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let line = line.unwrap();
                let mut s = stderr.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    let said = |needle: &str| stderr.lock().unwrap().contains(needle);

    wait_answered(&flaky, 2);
    flaky.stop();
    let deadline = Instant::now() + Duration::from_mins(1);
    while !said("model flaky unreachable, retrying in ") {
        assert!(
            Instant::now() < deadline,
            "no unreachable line: {}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    flaky.start_again();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let err = stderr.lock().unwrap().clone();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(" complete; see "), "{err}");
    assert!(!err.contains("failed"), "{err}");
    assert!(err.contains("model flaky answers again after "), "{err}");
    // Without a terminal: one line per probe (1 s, 2 s, ... apart), not one a second.
    let lines = err.matches("model flaky unreachable, retrying in ").count();
    assert!((1..=4).contains(&lines), "{lines} lines: {err}");
    assert!(
        err.contains("model flaky was unreachable for ")
            && err.contains("its cells waited and ran once it answered"),
        "{err}"
    );
    let store = Store::open(&dir.path().join("store")).unwrap();
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let outputs: Vec<_> = store.outputs(&id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 2 * FLAKY_CASES);
    assert!(outputs.iter().all(|o| o.error.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_screen_shows_the_paused_model_and_the_summary() {
    use common::tui_harness::App;
    use loupe::services::Services;
    use loupe::tui::app::AppConfig;
    use loupe::tui::keymap::Keymap;
    use loupe::tui::theme::Theme;

    let setup = setup(2, Duration::from_millis(5));
    let flaky = &setup.flaky;
    let session = Arc::new(setup.session.clone());
    let services = Services::new(setup.store());
    let config = AppConfig {
        theme: Theme::default(),
        keymap: Keymap::default(),
        ascii: false,
        clipboard: None,
    };
    let app = App::spawn_with(services.clone(), session, config, 120, 30);
    app.screen.wait_for("no run yet").await;
    app.char('r');
    {
        let flaky = flaky.clone();
        tokio::task::spawn_blocking(move || {
            wait_answered(&flaky, 2);
            flaky.stop();
        })
        .await
        .unwrap();
    }
    let paused = app
        .screen
        .wait_for("model flaky unreachable, retrying in")
        .await;
    assert!(
        paused.contains("its cells wait") || paused.contains("(cannot connect"),
        "{paused}"
    );
    flaky.start_again();
    let end = app.screen.wait_for("model flaky was unreachable for").await;
    assert!(!end.contains("unreachable, retrying in"), "{end}");
    let run = services
        .store()
        .latest_run(Some("outage"), true)
        .unwrap()
        .unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    let outputs: Vec<_> = services
        .store()
        .outputs(&run.id)
        .map(Result::unwrap)
        .collect();
    assert_eq!(outputs.len(), 2 * FLAKY_CASES);
    assert!(outputs.iter().all(|o| o.error.is_none()));
}
