//! Runs with `--repeats` above 1 (issue 14 item 8a): the Results grid, its failed and
//! differing filters, the latency histogram and Compare count every repeat, as the variant
//! table does; Compare steps through the repeats. Through the whole App on a real store
//! holding a three-repeat run whose check results Loupe computed from the texts.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::mock_script::{Asked, Reply, Script};
use common::records;
use common::workbench::{self, Fixture};
use loupe::providers::Usage;
use loupe::store::{OutputRecord, RunRecord};
use loupe::tui::input::KeyCode;

const RUN: &str = "20261205-040000-rep3";
const VALID: &str = "{\"a\": 1}";

/// Each cell's three repeats as (text, latency ms). `steady` answers the same every time;
/// `flaky`'s terse answer is not JSON in its second repeat only; `drift`'s wordy answer
/// changes in its third repeat only. The first repeat is quick and alike everywhere, so
/// a view of the first repeat alone sees no failure, no difference and no slow answer.
fn repeats(variant: &str, case: &str) -> [(&'static str, u64); 3] {
    match (variant, case) {
        ("terse", "flaky") => [(VALID, 300), ("not json at all", 2_400), (VALID, 2_300)],
        ("wordy", "drift") => [(VALID, 300), (VALID, 2_200), ("{\"a\": 2}", 2_400)],
        _ => [(VALID, 300), (VALID, 2_100), (VALID, 2_200)],
    }
}

async fn fixture() -> Fixture {
    // No request reaches the model: the run is already in the store.
    let script: Script = Arc::new(|_: &Asked| Reply::split(VALID, 1));
    let fx = workbench::fixture(
        script,
        &[("steady", "one"), ("flaky", "two"), ("drift", "three")],
    )
    .await;
    let session = &fx.session;
    let variants = ["terse", "wordy"];
    fx.store
        .put_run(&RunRecord {
            session_path: "s.yaml".into(),
            created_ms: 1_796_000_000_000,
            finished_ms: Some(1_796_000_010_000),
            repeats: 3,
            ..records::complete_run(
                session,
                RUN,
                &variants,
                session.cases.iter().map(|c| c.id.clone()).collect(),
            )
        })
        .unwrap();
    for v in variants {
        for case in &session.cases {
            for (repeat, (text, latency_ms)) in repeats(v, &case.id).into_iter().enumerate() {
                let out = OutputRecord {
                    repeat: repeat as u32,
                    usage: Usage {
                        input_tokens: 20,
                        output_tokens: 8,
                        estimated: false,
                    },
                    latency_ms,
                    ttft_ms: Some(latency_ms / 3),
                    finished_ms: 1_796_000_001_000 + repeat as u64,
                    finish_reason: Some("stop".into()),
                    request_hash: format!("{v}{}#{repeat}", case.id),
                    ..records::output(RUN, v, &case.id, text)
                };
                let out = common::checks::with_checks(session, v, out, &[]);
                fx.store.put_output(&out).unwrap();
            }
        }
    }
    fx
}

/// The grid's row for `case` on screen.
fn row<'a>(screen: &'a str, case: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(case) && l.contains("/3"))
        .unwrap_or_else(|| panic!("no row for {case}:\n{screen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_results_grid_and_its_filters_count_every_repeat() {
    let fx = fixture().await;
    let app = fx.open("ana").await;
    app.char('4');
    let screen = app.screen.wait_for("Cases × variants").await;
    // Each cell: how many of its three repeats passed every check.
    assert!(screen.contains("repeats passed/3"), "{screen}");
    let flaky = row(&screen, "flaky");
    assert!(flaky.contains("✗ 2/3"), "{screen}");
    assert!(flaky.contains("✓ 3/3"), "{screen}");
    assert!(
        row(&screen, "steady").matches("✓ 3/3").count() == 2,
        "{screen}"
    );
    // The histogram takes every repeat's latency: the slow later repeats put the axis in
    // seconds, up to the slowest (2.4 s).
    assert!(screen.contains("Latency, s"), "{screen}");
    assert!(screen.contains("2.4"), "{screen}");

    // Failed: a case fails if any repeat failed.
    app.char('f');
    let screen = app.screen.wait_for("shown, failed").await;
    assert!(screen.contains("(1 shown, failed"), "{screen}");
    row(&screen, "flaky");
    assert!(!screen.contains("drift"), "{screen}");
    app.char('f');
    // Differing: any two outputs of the case differ, in any repeat.
    app.char('D');
    let screen = app.screen.wait_for("shown, differing").await;
    assert!(screen.contains("(2 shown, differing"), "{screen}");
    row(&screen, "flaky");
    row(&screen, "drift");
    assert!(!screen.contains("steady"), "{screen}");
    app.char('q');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_steps_through_the_repeats_and_names_the_one_shown() {
    let fx = fixture().await;
    let app = fx.open("ana").await;
    app.char('4');
    app.screen.wait_for("Cases × variants").await;
    app.char('f');
    app.screen.wait_for("shown, failed").await;
    app.key(KeyCode::Enter);
    let screen = app.screen.wait_for("terse · repeat 1/3").await;
    assert!(screen.contains("flaky"), "{screen}");
    assert!(screen.contains("wordy · repeat 1/3"), "{screen}");
    // The key is in the status bar.
    assert!(screen.contains(" . repeat"), "{screen}");
    app.char('.');
    let screen = app.screen.wait_for("terse · repeat 2/3").await;
    assert!(screen.contains("wordy · repeat 2/3"), "{screen}");
    // The second repeat's own text and its own checks.
    app.screen.wait_for("not json at all").await;
    let screen = app.screen.wait_for("1 of 1 checks failed").await;
    assert!(screen.contains("terse: 1 of 1 checks failed"), "{screen}");
    app.char('.');
    app.screen.wait_for("terse · repeat 3/3").await;
    app.char('.');
    app.screen.wait_for("terse · repeat 1/3").await;
    // Back a step wraps to the last repeat.
    app.char(',');
    app.screen.wait_for("terse · repeat 3/3").await;
    // The other case's differing repeat: `drift` differs only in its third.
    app.char('n');
    let screen = app.screen.wait_for("\"a\": 2").await;
    assert!(
        screen.contains("drift") && screen.contains("repeat 3/3"),
        "{screen}"
    );
    // Help names both keys.
    app.char('?');
    let screen = app.screen.wait_for("next repeat").await;
    assert!(
        screen.contains("Show the previous repeat of both outputs"),
        "{screen}"
    );
    app.key(KeyCode::Esc);
    app.char('q');
}
