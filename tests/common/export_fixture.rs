//! A small session with a run, outputs and ratings built through the store API, shared by
//! the export tests. Every output answers the request the runner would have sent (the run is
//! planned by the real planner, so the request hashes are the real ones).

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loupe::providers::Usage;
use loupe::store::{RatingRecord, Store, Winner};

use super::planned;
use super::rating::{comparison, rating};

/// The environment variable the fixture's model names for its key, and the key's value.
pub const KEY_ENV: &str = "LOUPE_TEST_EXPORT_KEY";
pub const KEY_VALUE: &str = "tk-live-7a7a7a7a7a7a7a7a7a7a";

const SESSION: &str = r#"name: exp
models:
  m:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny
    params: { temperature: 0.2, seed: 7 }
    api_key_env: LOUPE_TEST_EXPORT_KEY
templates:
  zero:
    system: "You triage change requests. Reply with JSON."
    user: "Evaluate:\n<request>{{ text }}</request>"
  few:
    inherits: zero
    examples:
      - { user: "Evaluate:\n<request>Rename a log field</request>", assistant: '{"risk":"low"}' }
variants:
  - { name: zero, template: zero, model: m }
  - { name: few, template: few, model: m }
cases: { file: cases.jsonl }
repeats: 2
checks:
  - json_valid
rubric:
  - { key: clarity, scale: 5 }
  - { key: accuracy, scale: 5 }
rating:
  pairs: [[zero, few]]
  raters_per_comparison: 2
"#;

/// (id, text, split, tags)
pub const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "c1",
        "Lower the log level of the search service to INFO.",
        "train",
        "common",
    ),
    (
        "c2",
        "Give jane.doe@example.com access to the billing dashboard, call +1 415 555 2671.",
        "train",
        "common",
    ),
    (
        "c3",
        "Rotate the TLS certificate on the public load balancer.",
        "train",
        "common",
    ),
    (
        "c4",
        "Enable the checkout flag for five percent of users.",
        "train",
        "common",
    ),
    (
        "c5",
        "Add an index on orders.customer_id during business hours.",
        "train",
        "common",
    ),
    (
        "c6",
        "Pay the vendor to GB82 WEST 1234 5698 7654 32 from the ops account.",
        "train",
        "edge",
    ),
    (
        "c7",
        "Migrate the cron jobs to the new scheduler next sprint.",
        "train",
        "common",
    ),
    (
        "c8",
        "Raise the connection pool size of the API gateway to 200.",
        "train",
        "edge",
    ),
    (
        "e1",
        "Drop the unused column users.fax_number in production.",
        "eval",
        "common",
    ),
    (
        "c9",
        "drop the unused column USERS.fax_number   in production.",
        "train",
        "common",
    ),
];

/// The session file, its store with the run, outputs and ratings, in a folder of their own.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub session: PathBuf,
    pub store: PathBuf,
    pub run_id: String,
    /// Outputs written, by (variant, case, repeat) order.
    pub outputs: usize,
}

fn answer(variant: &str, case: &str, repeat: u32) -> String {
    let risk = if case == "c3" || case == "c5" {
        "medium"
    } else {
        "low"
    };
    match (variant, case, repeat) {
        // Differs from repeat 0 only by case and spaces.
        ("zero", "c8", 1) => " {\"RISK\":\"LOW\",\"title\":\"C8  BY ZERO\"}\n".to_owned(),
        // Echoes the API key (a model must never make it leave) and an IP.
        ("few", "c8", 1) => format!(
            "{{\"risk\":\"low\",\"title\":\"c8 by few\",\"note\":\"key {KEY_VALUE} on 10.0.0.7\"}}"
        ),
        // Otherwise the model answered the same twice: an exact duplicate.
        _ => format!("{{\"risk\":\"{risk}\",\"title\":\"{case} by {variant}\"}}"),
    }
}

/// Writes the session and its cases, plans and stores a complete run of every variant on
/// every case and repeat, and stores the ratings the export tests count on.
pub fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let session_path = dir.path().join("exp.yaml");
    std::fs::write(&session_path, SESSION).unwrap();
    super::jsonl::write(
        &dir.path().join("cases.jsonl"),
        CASES.iter().map(|(id, text, split, tag)| {
            serde_json::json!({"id": id, "text": text, "split": split, "tags": [tag]})
        }),
    );
    let store_dir = dir.path().join("store");
    let session = loupe::session::load(&session_path).unwrap();
    let store = Store::open(&store_dir).unwrap();
    let plan = planned::plan(&session, &store);
    let run = planned::complete(&store, &plan, |cell| {
        let k = &cell.key;
        let mut o = planned::answer(
            cell,
            answer(&k.variant, &k.case_id, k.repeat),
            vec![planned::passed("json_valid")],
        );
        o.usage = Usage {
            input_tokens: 40,
            output_tokens: 12,
            estimated: false,
        };
        o.latency_ms = 120;
        o.ttft_ms = Some(30);
        match (k.variant.as_str(), k.case_id.as_str(), k.repeat) {
            ("zero", "c4", 0) => {
                o.error = Some("HTTP 503 from the server".to_owned());
                o.text = String::new();
                o.checks = Vec::new();
            }
            ("few", "c6", 0) => {
                o.checks[0].pass = false;
                o.checks[0].reason = "not JSON".into();
            }
            _ => {}
        }
        o
    });
    let outputs = plan.cells.len();

    let mut seq = 0;
    let mut rate = |case: &str, rater: &str, winner: Winner, scores: &[(&str, &[(&str, u8)])]| {
        seq += 1;
        store
            .put_rating(&RatingRecord {
                scores: scores
                    .iter()
                    .map(|(v, dims)| {
                        (
                            (*v).to_owned(),
                            dims.iter()
                                .map(|(d, n)| ((*d).to_owned(), *n))
                                .collect::<BTreeMap<_, _>>(),
                        )
                    })
                    .collect(),
                note: Some("reach me at rater@example.org".into()),
                elapsed_ms: 900,
                at_ms: 10_000 + seq,
                ..rating(
                    "exp",
                    rater,
                    comparison(&run.id, case, "zero", "few"),
                    "few",
                    winner,
                )
            })
            .unwrap();
    };
    // c1: both prefer zero (consensus A), with scores.
    rate(
        "c1",
        "ana",
        Winner::A,
        &[
            ("zero", &[("clarity", 5), ("accuracy", 5)]),
            ("few", &[("clarity", 2), ("accuracy", 3)]),
        ],
    );
    rate(
        "c1",
        "bo",
        Winner::A,
        &[
            ("zero", &[("clarity", 4), ("accuracy", 4)]),
            ("few", &[("clarity", 3), ("accuracy", 2)]),
        ],
    );
    // c2: both prefer few.
    rate(
        "c2",
        "ana",
        Winner::B,
        &[("few", &[("clarity", 4), ("accuracy", 3)])],
    );
    rate("c2", "bo", Winner::B, &[]);
    // c3: a tie.
    rate("c3", "ana", Winner::A, &[]);
    rate("c3", "bo", Winner::Tie, &[]);
    // c5: disagreement.
    rate("c5", "ana", Winner::A, &[]);
    rate("c5", "bo", Winner::B, &[]);
    // c7: one rater only (no consensus at K=2, a pair at K=1).
    rate(
        "c7",
        "ana",
        Winner::B,
        &[("few", &[("clarity", 5), ("accuracy", 5)])],
    );
    // e1: evaluation case, both agree: never exported.
    rate("e1", "ana", Winner::A, &[]);
    rate("e1", "bo", Winner::A, &[]);
    // ana changed her mind on c7 later: only the latest verdict counts.
    rate(
        "c7",
        "ana",
        Winner::B,
        &[("few", &[("clarity", 5), ("accuracy", 4)])],
    );
    drop(store);
    Fixture {
        session: session_path,
        store: store_dir,
        run_id: run.id,
        outputs,
        dir,
    }
}

/// Runs the real binary: `loupe --store STORE export SESSION ARGS...`, with the fixture's
/// API key set in its environment.
pub fn export(fx: &Fixture, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(&fx.store)
        .arg("export")
        .arg(&fx.session)
        .args(args)
        .env(KEY_ENV, KEY_VALUE)
        .env_remove("LOUPE_STORE")
        .output()
        .unwrap()
}

/// Where an export named `name` goes: a folder in the fixture's own.
pub fn out_dir(fx: &Fixture, name: &str) -> PathBuf {
    fx.dir.path().join(name)
}

/// The manifest of the `format` export written into `dir`.
pub fn manifest(dir: &Path, format: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{format}.manifest.json"))).unwrap(),
    )
    .unwrap()
}
