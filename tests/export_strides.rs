//! An export reads a run in strides of 5,000 outputs and looks outputs up 1,000 at a time,
//! closing and reopening the store between them (that is what keeps its memory flat). These
//! tests export more than one stride and more than one lookup batch through the real binary
//! and check that every output and every pair comes out exactly once.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

mod common;

use common::cli::export_manifest;
use common::jsonl::read as lines;
use common::planned;
use common::rating::{comparison, rating};
use loupe::store::{RatingRecord, Store, Winner};

/// 2 variants x 2,600 cases: 5,200 outputs, one stride and a part.
const CASES: usize = 2_600;
/// Rated comparisons: 1,200 lookups of outputs, one batch and a part.
const RATED: usize = 600;

const SESSION: &str = r#"name: strides
models:
  m:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny
templates:
  t:
    system: "You triage change requests."
    user: "Evaluate: {{ text }}"
variants:
  - { name: a, template: t, model: m }
  - { name: b, template: t, model: m }
cases: { file: cases.jsonl }
checks:
  - json_valid
rating:
  pairs: [[a, b]]
  raters_per_comparison: 1
"#;

fn build(dir: &Path) {
    std::fs::write(dir.join("s.yaml"), SESSION).unwrap();
    common::jsonl::write(
        &dir.join("cases.jsonl"),
        (0..CASES).map(|i| {
            let text = format!("Change {i}: move service {i} to a new cluster.");
            serde_json::json!({"id": format!("c{i:05}"), "text": text})
        }),
    );
    let session = loupe::session::load(&dir.join("s.yaml")).unwrap();
    let store = Store::open(&dir.join("store")).unwrap();
    let plan = planned::plan(&session, &store);
    let run = planned::complete(&store, &plan, |cell| {
        let k = &cell.key;
        let text = format!(
            "{{\"risk\":\"low\",\"case\":\"{}\",\"by\":\"{}\"}}",
            k.case_id, k.variant
        );
        planned::answer(cell, text, vec![planned::passed("json_valid")])
    });
    for i in 0..RATED {
        store
            .put_rating(&RatingRecord {
                at_ms: 1_000 + i as u64,
                ..rating(
                    "strides",
                    "ana",
                    comparison(&run.id, &format!("c{i:05}"), "a", "b"),
                    "a",
                    Winner::B,
                )
            })
            .unwrap();
    }
    store.flush().unwrap();
}

/// The `format` export of the session and store in `dir`, into `dir/FORMAT`: its manifest.
fn export(dir: &Path, format: &str) -> serde_json::Value {
    let (store, session) = (dir.join("store"), dir.join("s.yaml"));
    export_manifest(&store, &session, format, &dir.join(format))
}

#[test]
fn every_output_and_pair_comes_out_once_across_strides() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());

    let m = export(dir.path(), "raw");
    assert_eq!(m["counts"]["rows_in"], 2 * CASES);
    assert_eq!(m["counts"]["rows_out"], 2 * CASES);
    let rows = lines(&dir.path().join("raw/raw.jsonl"));
    let keys: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["case_id"].as_str().unwrap().to_owned(),
                r["variant"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 2 * CASES, "no output twice, none left out");
    let first = keys.first().unwrap();
    let last = keys.last().unwrap();
    assert_eq!((first.0.as_str(), last.0.as_str()), ("c00000", "c02599"));

    let m = export(dir.path(), "sft");
    assert_eq!(m["counts"]["rows_in"], 2 * CASES);
    // Sft keeps outputs that won their comparison or were never rated: b everywhere, a on
    // the cases nobody rated.
    assert_eq!(m["counts"]["rows_out"], 2 * CASES - RATED);

    let m = export(dir.path(), "dpo");
    assert_eq!(m["counts"]["rows_in"], RATED);
    assert_eq!(m["counts"]["rows_out"], RATED);
    // Split by case into train and valid.
    let mut pairs = lines(&dir.path().join("dpo/dpo.train.jsonl"));
    // An empty split is not written.
    let valid = dir.path().join("dpo/dpo.valid.jsonl");
    if valid.exists() {
        pairs.extend(lines(&valid));
    }
    let chosen: BTreeSet<String> = pairs
        .iter()
        .map(|p| p["chosen"][0]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(chosen.len(), RATED, "each pair once");
    assert!(chosen.iter().all(|c| c.contains("\"by\":\"b\"")));
}
