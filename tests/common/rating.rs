//! A rating session and a complete run of it, built through the store API (no model).

use std::path::{Path, PathBuf};

use loupe::providers::Usage;
use loupe::session::Session;
use loupe::store::{OutputRecord, RunRecord, RunStatus, RunVariant, Store};

/// Writes `rate.yaml` in `dir`: variants plain, grounded, tuned (plain on model `acme-7b`), pairs plain/grounded and grounded/tuned,
/// rubric clarity, accuracy, tone, `cases` cases; `gold` lists (case index, better variant).
pub fn write_session(dir: &Path, cases: usize, k: u32, gold: &[(usize, &str)]) -> PathBuf {
    let mut rows = String::new();
    for i in 0..cases {
        let g = gold
            .iter()
            .find(|(c, _)| *c == i)
            .map(|(_, v)| format!(", gold: {v}"))
            .unwrap_or_default();
        rows.push_str(&format!(
            "  - {{ id: c{i}, text: \"Rotate the key of service {i}\"{g} }}\n"
        ));
    }
    let yaml = format!(
        r#"name: rate-test
models:
  big:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: acme-7b
  small:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny-1b
templates:
  t:
    user: "Evaluate: {{{{ text }}}}"
variants:
  - {{ name: plain, template: t, model: big }}
  - {{ name: grounded, template: t, model: small }}
  - {{ name: tuned, template: t, model: small }}
cases:
{rows}rubric:
  - {{ key: clarity, scale: 5 }}
  - {{ key: accuracy, scale: 5 }}
  - {{ key: tone, scale: 5 }}
rating:
  pairs: [[plain, grounded], [grounded, tuned]]
  raters_per_comparison: {k}
  mask: [SecretCorp]
"#
    );
    let path = dir.join("rate.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// What variant `v` "answered" on case `case`: plain names its model, to test masking.
pub fn output_text(v: &str, case: &str) -> String {
    match v {
        "plain" => format!("As acme-7B by SecretCorp: {case} is low risk.\nRationale: routine."),
        "grounded" => format!("{case}: medium risk.\nRationale: a wrong key breaks clients."),
        _ => format!("{case}: high risk!\nRationale: \u{1b}[31mkeys\u{1b}[0m are critical."),
    }
}

/// Stores a complete run of every variant on every case of `session`.
pub fn complete_run(store: &Store, session: &Session, id: &str) -> RunRecord {
    let variants = session
        .file
        .variants
        .iter()
        .map(|v| RunVariant {
            name: v.name.clone(),
            template: v.template.clone(),
            template_version: "v1".into(),
            model_name: v.model.clone(),
            model: session.model_for(&v.name).unwrap().clone(),
            rag: None,
        })
        .collect();
    let run = RunRecord {
        id: id.into(),
        session_name: session.file.name.clone(),
        session_path: session.path.display().to_string(),
        session_hash: session.hash.clone(),
        created_ms: 1,
        finished_ms: Some(2),
        status: RunStatus::Complete,
        variants,
        case_ids: session.cases.iter().map(|c| c.id.clone()).collect(),
        repeats: 1,
        no_cache: false,
    };
    store.put_run(&run).unwrap();
    for v in &run.variants {
        for c in &run.case_ids {
            store
                .put_output(&OutputRecord {
                    run_id: run.id.clone(),
                    variant: v.name.clone(),
                    case_id: c.clone(),
                    repeat: 0,
                    text: output_text(&v.name, c),
                    usage: Usage::default(),
                    latency_ms: 10,
                    ttft_ms: None,
                    cost_usd: None,
                    cached: false,
                    attempts: 1,
                    finish_reason: None,
                    error: None,
                    request_hash: format!("{}-{c}", v.name),
                    checks: Vec::new(),
                    schema_attempts: Vec::new(),
                    passages: Vec::new(),
                    finished_ms: 2,
                })
                .unwrap();
        }
    }
    store.flush().unwrap();
    run
}

/// A session file with a store holding a complete run, in `dir`.
pub fn setup(dir: &Path, cases: usize, k: u32, gold: &[(usize, &str)]) -> (PathBuf, PathBuf) {
    let session_path = write_session(dir, cases, k, gold);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.join("store");
    let store = Store::open(&store_dir).unwrap();
    complete_run(&store, &session, "20260101-000000-0001");
    (session_path, store_dir)
}
