//! The workbench's RAG views on a `TestBackend`: the Results screen's retrieval table and
//! Compare's retrieval inspector (query, retrieved passages with scores, kept, cited,
//! each passage in full, the two variants' kept sets compared).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::records;
use common::tui_harness::{demo_session, load_run};
use loupe::store::{OutputRecord, PassageRecord, RetrievalRecord, ScoredPassage};
use loupe::tui::input::Key;
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::Msg;
use loupe::tui::state::State;
use loupe::tui::update::update;

const VARIANTS: [&str; 2] = ["few-shot", "prompt+rag"];

fn scored(id: &str, score: f64) -> ScoredPassage {
    ScoredPassage {
        id: id.into(),
        source: id.split('#').next().unwrap().into(),
        score,
    }
}

/// `variant`'s answer on `case` in run `r1`; prompt+rag's was given one passage.
fn output(variant: &str, case: &str, text: &str) -> OutputRecord {
    OutputRecord {
        latency_ms: 100,
        request_hash: format!("{variant}{case}"),
        passages: if variant == "prompt+rag" {
            vec![PassageRecord {
                id: "policy/freeze-windows.md#1".into(),
                text: "No deploys on Fridays.".into(),
                score: 0.9,
                source: "policy/freeze-windows.md".into(),
                headings: Vec::new(),
            }]
        } else {
            Vec::new()
        },
        ..records::output("r1", variant, case, text)
    }
}

fn screen(state: &State) -> String {
    common::tui_harness::draw_state(state, 120, 40)
}

fn key(state: &mut State, c: char) {
    update(state, &Keymap::default(), Msg::Key(Key::char(c)));
}

#[test]
fn results_and_the_inspector_show_what_retrieval_did() {
    let session = demo_session();
    let case = session.cases[0].id.clone();
    let run = records::complete_run(&session, "r1", &VARIANTS, vec![case.clone()]);
    let outputs = vec![
        output("few-shot", &case, r#"{"risk":"low"}"#),
        output(
            "prompt+rag",
            &case,
            r#"{"risk":"low","rationale":"Allowed [policy/freeze-windows.md#1] [policy/x.md#9]"}"#,
        ),
    ];
    let record = RetrievalRecord {
        config: "policy".into(),
        corpus: "c".into(),
        query: "Lower the log level".into(),
        rewritten: Some("log level change policy".into()),
        retrieved: vec![
            scored("policy/freeze-windows.md#1", 0.031),
            scored("policy/cosmetic-changes.md#1", 0.029),
        ],
        reranked: vec![
            scored("policy/freeze-windows.md#1", 0.7),
            scored("policy/cosmetic-changes.md#1", 0.1),
        ],
        kept: vec![scored("policy/freeze-windows.md#1", 0.7)],
        error: None,
        relevant: vec!["policy/cosmetic-changes.md".into()],
        citation_pattern: None,
    };
    let retrievals = vec![("prompt+rag".to_owned(), case.clone(), record)];
    let mut report = loupe::report::build(&run, &outputs);
    report.retrieval = loupe::report::retrieval_report(&run, &outputs, &retrievals);
    let km = Keymap::default();
    let mut state = State::new(session);
    load_run(&mut state, run, outputs, report);
    update(
        &mut state,
        &km,
        Msg::RetrievalsLoaded {
            run_id: "r1".into(),
            retrievals,
            texts: HashMap::from([
                (
                    "policy/freeze-windows.md#1".to_owned(),
                    "# Freeze windows\nNo deploys on Fridays.".to_owned(),
                ),
                (
                    "policy/cosmetic-changes.md#1".to_owned(),
                    "# Cosmetic\nLog levels are low risk.".to_owned(),
                ),
            ]),
        },
    );

    key(&mut state, '4');
    let results = screen(&state);
    assert!(results.contains("Retrieval (k = 2"), "{results}");
    // hit@2 1, recall 1, MRR 1/2, cited the non-relevant doc only: precision 0, recall 0.
    assert!(
        results.contains("prompt+rag") && results.contains("1/1    1.00   1.00      0.50"),
        "{results}"
    );

    key(&mut state, '3');
    key(&mut state, 'g');
    let inspector = screen(&state);
    for needle in [
        "Retrieval (g: back to the diff)",
        "only prompt+rag: policy/freeze-windows.md#1",
        "query: Lower the log level",
        "rewritten: log level change policy",
        "1. 0.0310  policy/freeze-windows.md#1 kept cited",
        "2. 0.0290  policy/cosmetic-changes.md#1 relevant",
        "Log levels are low risk.",
        "cited but not given: policy/x.md#9",
        "few-shot",
        "no retrieval: the variant has no `rag:` config",
    ] {
        assert!(
            inspector.contains(needle),
            "{needle:?} missing:\n{inspector}"
        );
    }
    key(&mut state, 'g');
    let diff = screen(&state);
    assert!(
        !diff.contains("Retrieval (g: back"),
        "g toggles back to the diff"
    );
    // Beside the diff, one line says how the two variants' passages differ.
    assert!(
        diff.contains(
            "passages only few-shot: - · only prompt+rag: policy/freeze-windows.md#1 · both: -"
        ),
        "{diff}"
    );
}
