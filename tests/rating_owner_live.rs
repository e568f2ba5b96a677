//! The owner's view follows the team live: two Apps of one process (as two people on one
//! `loupe serve`), a rater rating and the owner watching, with no key pressed by the owner.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::tui_harness::{self, App};
use common::workbench::config;
use loupe::services::Services;
use loupe::store::Store;

/// Waits up to 20 s (not the harness's two minutes: a view that never refreshes is the
/// failure this test exists to catch).
async fn wait(app: &App, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let limit = Duration::from_secs(20).min(tui_harness::timeout());
    tokio::time::timeout(limit, app.screen.wait_text(what, pred))
        .await
        .unwrap_or_else(|_elapsed| panic!("timed out waiting for {what}:\n{}", app.screen.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_ratings_arrive_without_pressing_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 4, 1, &[]);
    let session = std::sync::Arc::new(loupe::session::load(&session_path).unwrap());
    let services = Services::new(Store::open(&store_dir).unwrap());

    let owner = App::spawn_with(services.clone(), session.clone(), config(), 100, 40);
    wait(&owner, "the workbench", |t| t.contains("Templates")).await;
    owner.char('5');
    let before = wait(&owner, "the owner's view", |t| t.contains("owner's view")).await;
    assert!(!before.contains("ana"), "nobody has rated yet:\n{before}");

    let ana = App::spawn_rater(services.clone(), session, config(), (100, 30), "ana");
    wait(&ana, "ana's queue", |t| t.contains("0/8 rated")).await;
    ana.char('h');
    wait(&ana, "the first rating saved", |t| t.contains("1/8 rated")).await;
    let after = wait(&owner, "ana's rating in the owner's view", |t| {
        t.lines().any(|l| l.contains("ana") && l.contains("1/"))
    })
    .await;
    assert!(after.contains("owner's view"), "{after}");

    // An undo is news too.
    ana.char('u');
    wait(&ana, "the undo", |t| t.contains("0/8 rated")).await;
    wait(&owner, "the undo in the owner's view", |t| {
        t.lines().any(|l| l.contains("ana") && l.contains("0/"))
    })
    .await;
}
