//! Work is never lost or ambiguous (issue 14 items 1-4, and drafts over `loupe serve`): the
//! whole App headless on a real store, as one person or several, each App started the way
//! `loupe serve` starts one per login (`run_app_on` with the user's name).

#![allow(clippy::unwrap_used)]

mod common;

use common::workbench::{self, Fixture, config, reload};
use common::{mock_script, tui_harness};

use std::sync::Arc;

use loupe::tui::input::KeyCode;
use mock_script::{Reply, Script};
use tui_harness::App;

const SESSION: &str = workbench::SESSION;

async fn fixture() -> Fixture {
    let script: Script = Arc::new(|_| Reply::split("{\"ok\": true}", 2));
    workbench::fixture(script, &[("one", "first change")]).await
}

/// Opens the editor on the selected template's User part and types `text` at its end.
async fn type_at_end(app: &App, text: &str) {
    app.char('e');
    app.screen.wait_for("editing").await;
    app.edit_user_section();
    app.key(KeyCode::End);
    app.type_text(text);
    app.screen.wait_for(text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsaved_edits_survive_a_dropped_connection_as_that_users_draft() {
    let fx = fixture().await;
    let mut olu = fx.open("olu").await;
    type_at_end(&olu, " OLU-WAS-HERE").await;
    // The connection drops mid-edit: no quit, no save.
    olu.hang_up();
    olu.finished().await.unwrap();
    let draft = fx
        .store
        .draft(SESSION, "terse", "olu")
        .unwrap()
        .expect("a draft");
    assert_eq!(
        draft.spec.user.as_deref(),
        Some("T: {{ text }} OLU-WAS-HERE")
    );

    // Another person sees the template as saved, not olu's draft.
    let mut ana = fx.open("ana").await;
    // The User section (the Templates screen opens on System, the first).
    ana.key(KeyCode::Left);
    let screen = ana.screen.wait_for("T: {{ text }}").await;
    assert!(!screen.contains("OLU-WAS-HERE"), "{screen}");
    ana.char('q');
    ana.finished().await.unwrap();

    // olu logs in again: the draft is back, marked as one, and said so.
    let mut olu = fx.open("olu").await;
    olu.key(KeyCode::Left);
    let screen = olu.screen.wait_for("T: {{ text }} OLU-WAS-HERE").await;
    assert!(screen.contains("draft"), "{screen}");
    assert!(screen.contains("terse *"), "{screen}");
    // Saving it makes it a version and the draft is gone.
    olu.ctrl('s');
    olu.screen.wait_for("saved terse as version").await;
    assert!(fx.store.draft(SESSION, "terse", "olu").unwrap().is_none());
    olu.char('q');
    olu.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_with_unsaved_edits_says_so_once_and_keeps_a_draft() {
    let fx = fixture().await;
    let mut app = fx.open("ana").await;
    type_at_end(&app, " KEEP-ME").await;
    app.key(KeyCode::Esc);
    app.screen
        .wait_text("the editor closed", |t| !t.contains("editing"))
        .await;
    app.char('q');
    let screen = app.screen.wait_for("q again quits").await;
    assert!(screen.contains("kept as your draft"), "{screen}");
    // The first q asked and wrote the draft; it reaches the disk before any second q.
    let deadline = std::time::Instant::now() + tui_harness::timeout();
    loop {
        let draft = fx.store.draft(SESSION, "terse", "ana").unwrap();
        if draft.is_some_and(|d| d.spec.user.unwrap().contains("KEEP-ME")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no draft written");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.char('q');
    app.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workbench_opens_on_the_newest_saved_version_and_says_the_file_differs() {
    let fx = fixture().await;
    let mut app = fx.open("ana").await;
    let screen = app.screen.wait_for("(session file)").await;
    assert!(!screen.contains("differs"), "{screen}");
    type_at_end(&app, " SAVED-V2").await;
    app.ctrl('s');
    app.screen.wait_for("saved terse as version").await;
    app.key(KeyCode::Esc);
    app.char('q');
    app.finished().await.unwrap();

    // Reopened: the saved version, not the session file's text; the title says which.
    let mut app = fx.open("ana").await;
    let screen = app.screen.wait_for("SAVED-V2").await;
    assert!(screen.contains("file differs"), "{screen}");
    let head = fx.store.template_head(SESSION, "terse").unwrap().unwrap();
    assert!(screen.contains(&head.hash[..8]), "{screen}");
    // `W` writes it; then the file holds the version shown.
    app.char('W');
    app.screen.wait_for("wrote").await;
    app.screen.wait_for("(session file)").await;
    app.char('q');
    app.finished().await.unwrap();
    let written = std::fs::read_to_string(fx.dir.path().join("s.yaml")).unwrap();
    assert!(written.contains("SAVED-V2"), "{written}");

    let session = reload(fx.dir.path());
    let mut app = App::spawn_as(fx.services.clone(), session, config(), (80, 24), "ana");
    let screen = app.screen.wait_for("(session file)").await;
    assert!(screen.contains("SAVED-V2"), "{screen}");
    app.char('q');
    app.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_versions_list_has_the_file_version_before_any_run_and_times_stay() {
    let fx = fixture().await;
    let mut app = fx.open("ana").await;
    app.char('v');
    let screen = app.screen.wait_for("Versions of terse").await;
    assert!(screen.contains("(shown, session file)"), "{screen}");
    app.key(KeyCode::Esc);

    // A run records the version; recording it again later keeps its first time.
    app.char('2');
    app.screen.wait_for("Variants").await;
    app.char('r');
    app.screen.wait_for("complete").await;
    let first = fx.store.template_history(SESSION, "terse").unwrap();
    assert_eq!(first.len(), 1);
    app.char('r');
    app.screen
        .wait_text("a second run complete", |t| {
            t.matches("complete").count() >= 1
        })
        .await;
    loop {
        let runs = fx.store.runs().unwrap();
        if runs.len() == 2
            && runs
                .iter()
                .all(|r| r.status == loupe::store::RunStatus::Complete)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again = fx.store.template_history(SESSION, "terse").unwrap();
    assert_eq!(
        again, first,
        "a second run changes neither the list nor the time"
    );
    app.char('q');
    app.finished().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_an_unsaved_draft_says_so_and_records_it_as_a_version() {
    let fx = fixture().await;
    let mut app = fx.open("ana").await;
    type_at_end(&app, " RUN-ME").await;
    app.key(KeyCode::Esc);
    app.char('2');
    let screen = app.screen.wait_for("Variants").await;
    assert!(screen.contains("unsaved draft"), "{screen}");
    app.char('r');
    let screen = app.screen.wait_for("ran the unsaved terse").await;
    assert!(screen.contains("saved it as version"), "{screen}");
    app.screen.wait_for("complete").await;
    let history = fx.store.template_history(SESSION, "terse").unwrap();
    let head = fx.store.template_head(SESSION, "terse").unwrap().unwrap();
    assert!(history.iter().any(|v| v.hash == head.hash));
    assert_eq!(
        history.last().unwrap().content["user"],
        "T: {{ text }} RUN-ME"
    );
    let run = fx.store.latest_run(Some(SESSION), false).unwrap().unwrap();
    let terse = run.variants.iter().find(|v| v.name == "terse").unwrap();
    assert_eq!(
        terse.template_version, head.hash,
        "the run names the saved version"
    );
    // Now saved: the Run screen names the version, and quitting asks nothing.
    let screen = app
        .screen
        .wait_text("the version named", |t| {
            t.contains(&format!("version {}", &head.hash[..8]))
        })
        .await;
    assert!(!screen.contains("unsaved draft"), "{screen}");
    app.char('q');
    app.finished().await.unwrap();
}
