//! Every run reachable (issue 14 items 5-7): the run picker on Results and Compare, the
//! earlier run for the regression view chosen and named, and resuming an interrupted run,
//! through the whole App on a real store.

#![allow(clippy::unwrap_used)]

mod common;

use common::workbench::{self, SESSION};
use common::{mock_script, tui_harness};

use std::sync::Arc;

use loupe::store::RunStatus;
use loupe::tui::input::KeyCode;
use mock_script::{Asked, Reply, Script};
use tui_harness::App;

/// Waits until the store has `n` finished runs of the session, and returns them oldest first.
async fn runs_finished(store: &loupe::store::Store, n: usize) -> Vec<loupe::store::RunRecord> {
    let deadline = std::time::Instant::now() + tui_harness::timeout();
    loop {
        let runs: Vec<_> = store
            .runs()
            .unwrap()
            .into_iter()
            .filter(|r| r.session_name == SESSION && r.status != RunStatus::Running)
            .collect();
        if runs.len() >= n {
            let mut runs = runs;
            runs.sort_by_key(|r| r.created_ms);
            return runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} runs did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
}

async fn run_and_wait(app: &App, store: &loupe::store::Store, n: usize) {
    app.char('r');
    let runs = runs_finished(store, n).await;
    let id = &runs[n - 1].id;
    app.screen.wait_for(&format!("run {id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_run_with_more_variants_stays_reachable_from_results_and_compare() {
    let script: Script = Arc::new(|a: &Asked| {
        let text = if a.user.starts_with("T:") {
            "{\"v\": \"terse answer\"}"
        } else {
            "{\"v\": \"wordy answer\"}"
        };
        Reply::split(text, 2)
    });
    let fx = workbench::fixture(script, &[("one", "first"), ("two", "second")]).await;
    let mut app = fx.open_sized("ana", (120, 40)).await;
    app.char('2');
    app.screen.wait_for("Variants").await;
    run_and_wait(&app, &fx.store, 1).await;
    // The second run leaves `wordy` out.
    app.key(KeyCode::Down);
    app.char(' ');
    run_and_wait(&app, &fx.store, 2).await;
    let runs = runs_finished(&fx.store, 2).await;
    let (first, second) = (&runs[0].id, &runs[1].id);

    app.char('4');
    let screen = app.screen.wait_for("Variants (sorted by").await;
    assert!(screen.contains(&format!("run {second}")), "{screen}");
    assert!(!screen.contains("wordy"), "{screen}");
    app.char('R');
    let screen = app.screen.wait_for("cells  0 err").await;
    // Each run with what a user needs to choose: its id, time, status, cells, errors,
    // variants.
    assert!(
        screen.contains(first) && screen.contains(second),
        "{screen}"
    );
    assert!(screen.contains("complete  4/4 cells  0 err"), "{screen}");
    assert!(screen.contains("complete  2/2 cells  0 err"), "{screen}");
    assert!(
        screen.contains(&format!("{first}  terse, wordy")),
        "{screen}"
    );
    assert!(screen.contains(&format!("{second}  terse")), "{screen}");
    app.key(KeyCode::Down);
    app.key(KeyCode::Enter);
    let screen = app
        .screen
        .wait_text("the older run shown", |t| {
            t.contains(&format!("{SESSION} · run {first}")) && t.contains("wordy")
        })
        .await;
    assert!(screen.contains("Variants (sorted by"), "{screen}");

    // On Compare too, and `E` compares against an earlier run the user picks, named on
    // screen: here the newer run is shown, the older one chosen.
    app.char('3');
    app.screen.wait_for("word diff").await;
    app.char('R');
    app.screen.wait_for("cells  0 err").await;
    app.key(KeyCode::Home);
    app.key(KeyCode::Enter);
    app.screen
        .wait_for(&format!("{SESSION} · run {second}"))
        .await;
    app.char('E');
    let screen = app
        .screen
        .wait_text("the earlier runs listed", |t| {
            t.contains("Compare with which other run") && t.contains("cells")
        })
        .await;
    assert!(screen.contains(first), "{screen}");
    app.key(KeyCode::Enter);
    let screen = app.screen.wait_for(&format!("@ {first}")).await;
    assert!(screen.contains("terse answer"), "{screen}");
    app.char('q');
    app.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_resumes_from_the_workbench() {
    // The second case's answers hold until released: the run is cancelled with them open.
    let script: Script = Arc::new(|a: &Asked| {
        let reply = Reply::split("{\"ok\": true}", 2);
        if a.user.contains("second") {
            reply.held()
        } else {
            reply
        }
    });
    let fx = workbench::fixture(script, &[("one", "first"), ("two", "second")]).await;
    let mut app = fx.open("ana").await;
    app.char('2');
    app.screen.wait_for("Variants").await;
    app.char('r');
    app.screen.wait_for("2/4 done").await;
    app.char('x');
    let screen = app.screen.wait_for("interrupted").await;
    assert!(screen.contains("u on the Run screen resumes"), "{screen}");
    let run = runs_finished(&fx.store, 1).await.remove(0);
    assert_eq!(run.status, RunStatus::Interrupted);

    fx.server.release();
    app.char('u');
    app.screen.wait_for("complete").await;
    let run = fx.store.run(&run.id).unwrap();
    assert_eq!(run.status, RunStatus::Complete);
    let outputs: Vec<_> = fx.store.outputs(&run.id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 4);
    assert!(outputs.iter().all(|o| o.error.is_none()), "{outputs:?}");
    // Only the missing cells were asked again: 4 cells, the two held ones asked twice.
    assert!(fx.server.requests() <= 6, "{}", fx.server.requests());
    app.char('q');
    app.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stepping_through_compare_never_draws_a_computing_diff_frame_for_a_seen_case() {
    let script: Script = Arc::new(|a: &Asked| {
        let text = if a.user.starts_with("T:") {
            format!("{{\"v\": \"terse {}\"}}", a.user.len())
        } else {
            format!("{{\"v\": \"wordy {}\"}}", a.user.len())
        };
        Reply::split(&text, 2)
    });
    let cases: Vec<(String, String)> = (0..6)
        .map(|i| (format!("c{i}"), "x".repeat(i + 1)))
        .collect();
    let cases: Vec<(&str, &str)> = cases
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let fx = workbench::fixture(script, &cases).await;
    let mut app = fx.open("ana").await;
    app.char('2');
    app.screen.wait_for("Variants").await;
    run_and_wait(&app, &fx.store, 1).await;
    app.char('3');
    app.screen.wait_for("Case 1/6").await;
    // Once round every case: each diff computed once.
    for i in 2..=6 {
        app.char('n');
        app.screen.wait_for(&format!("Case {i}/6")).await;
    }
    app.char('n');
    app.screen.wait_for("Case 1/6").await;
    // Round again: every diff is cached and drawn with its case, no placeholder frame.
    app.screen.watch("computing diff");
    for i in 2..=6 {
        app.char('n');
        app.screen
            .wait_text("the case and its diff", |t| {
                t.contains(&format!("Case {i}/6")) && t.contains(&format!("terse {}", 3 + i))
            })
            .await;
    }
    assert_eq!(app.screen.frames_with("computing diff"), 0);
    app.char('q');
    app.finished().await.unwrap();
}
