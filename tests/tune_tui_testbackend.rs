//! The Results screen names where a fine-tuned variant's model came from: a run of the demo
//! session (its `fine-tuned` variant uses `model: tuned:change-risk`) in a real store with
//! the training run recorded, drawn on a `TestBackend`.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::tui_harness::{demo_session, load_run};
use loupe::store::{
    EpochLoss, ModelFile, Store, TrainingRunRecord, TuneData, TuneHyper, TuneStatus,
};
use loupe::tui::input::Key;
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::Msg;
use loupe::tui::state::State;
use loupe::tui::update::update;

fn screen(state: &State, (w, h): (u16, u16)) -> String {
    common::tui_harness::draw_state(state, w, h)
}

fn file(path: &str, c: char) -> ModelFile {
    ModelFile {
        path: path.into(),
        sha256: c.to_string().repeat(64),
        bytes: 1,
    }
}

fn training_run() -> TrainingRunRecord {
    TrainingRunRecord {
        name: "change-risk".into(),
        id: "tune-20261205-010000-abcd".into(),
        session: "change-risk".into(),
        status: TuneStatus::Finished,
        data: TuneData {
            dir: "sessions/.loupe/train-export".into(),
            export_id: "20261205-005900-abcd".into(),
            manifest_sha256: "d".repeat(64),
            rows_train: 29,
            rows_valid: 3,
            rows_in: 32,
            rows_out: 32,
            source: "references".into(),
            text_sha256: "t".repeat(64),
            tokens: Some(3674),
        },
        base: file("base.F32.gguf", 'b'),
        hyper: TuneHyper {
            epochs: 3,
            learning_rate: 3e-5,
            context: 256,
            val_split: 0.09,
            threads: 2,
            optimizer: "adamw".into(),
        },
        trainer: file("llama-finetune", 'f'),
        epochs: vec![EpochLoss {
            epoch: 1,
            train_loss: 1.234,
            val_loss: Some(1.5),
        }],
        tokens_per_s: Some(80.0),
        started_ms: 1,
        finished_ms: Some(2),
        output: Some(file("change-risk.gguf", 'e')),
        served: None,
    }
}

fn results(store: &Store, session: &Arc<loupe::session::Session>, size: (u16, u16)) -> String {
    let run = store.latest_run(None, true).unwrap().unwrap();
    let outputs = store
        .outputs(&run.id)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let mut report = loupe::report::build(&run, &outputs);
    report.training = loupe::tune::lineage(store, &run).unwrap();
    let mut state = State::new(session.clone());
    load_run(&mut state, run, outputs, report);
    update(&mut state, &Keymap::default(), Msg::Key(Key::char('4')));
    screen(&state, size)
}

/// The demo session with a complete run in a fresh store (every answer `{"risk":"low"}`).
fn demo_run() -> (tempfile::TempDir, Arc<loupe::session::Session>, Store) {
    let session = demo_session();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let plan = common::planned::plan(&session, &store);
    common::planned::complete(&store, &plan, |cell| {
        common::planned::answer(cell, r#"{"risk":"low"}"#.into(), Vec::new())
    });
    (dir, session, store)
}

#[test]
fn results_name_the_training_run_data_base_and_model_of_a_fine_tuned_variant() {
    let (_dir, session, store) = demo_run();

    // Before the model is trained in this store, the screen says so.
    let text = results(&store, &session, (120, 40));
    assert!(
        text.contains("fine-tuned: no training run \"change-risk\" in this store"),
        "{text}"
    );

    store.put_tune(&training_run()).unwrap();
    let text = results(&store, &session, (120, 40));
    assert!(
        text.contains("Fine-tuned (training run · data manifest sha256)"),
        "{text}"
    );
    assert!(
        text.contains(
            "fine-tuned: change-risk finished · data dddddddd (32 rows, references) · base \
             bbbbbbbb · model eeeeeeee · loss 1.234"
        ),
        "{text}"
    );
}

#[test]
fn at_80x24_the_grid_keeps_its_cases_and_says_what_a_taller_terminal_shows() {
    let (_dir, session, store) = demo_run();
    let mut run = training_run();
    run.served = Some(file("change-risk.q8_0.gguf", 'f'));
    store.put_tune(&run).unwrap();

    // With the retrieval and fine-tuned boxes the demo's grid had no case row left at 80x24
    // (this fixture has no retrieval records): the box goes, five cases show, the title
    // says what a taller terminal adds.
    let small = results(&store, &session, (80, 24));
    for case in session.cases.iter().take(5) {
        assert!(small.contains(case.id.as_str()), "{small}");
    }
    assert!(small.contains("taller shows fine-tuned lineage"), "{small}");
    assert!(!small.contains("Fine-tuned (training run"), "{small}");

    // With room, the lineage wraps rather than losing the served copy at the edge.
    let tall = results(&store, &session, (100, 50));
    assert!(tall.contains("served Q8_0 ffffffff"), "{tall}");
    assert!(!tall.contains("taller shows"), "{tall}");
}
