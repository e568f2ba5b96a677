//! A variant with `enforce_schema` sends its template's output schema as the response
//! format, so the schema is part of the request hash an export checks each prompt against.
//! The stored template version sorts the schema's keys (its canonical form); the export
//! must still rebuild the request exactly as sent, key order included.

#![allow(clippy::unwrap_used)]

use std::path::Path;

mod common;

use common::planned;
use loupe::store::{EnforceRecord, Store};

// The schema's keys are not in sorted order, at the top and inside.
const SESSION: &str = r#"name: schema-export
models:
  m:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny
templates:
  t:
    system: "Reply with JSON."
    user: "Evaluate: {{ text }}"
    output_schema:
      type: object
      required: [risk]
      properties:
        risk: { type: string, enum: [low, medium, high] }
        title: { type: string }
variants:
  - { name: strict, template: t, model: m, enforce_schema: { retries: 1 } }
  - { name: loose, template: t, model: m }
cases:
  - { id: c1, text: "Rotate the certificate." }
  - { id: c2, text: "Drop the orders table." }
checks:
  - json_valid
"#;

/// Plans and fills a complete run; `keep_schema: false` writes the template versions as
/// stores did before they kept the schema as sent.
fn build(dir: &Path, keep_schema: bool) -> Store {
    std::fs::write(dir.join("s.yaml"), SESSION).unwrap();
    let session = loupe::session::load(&dir.join("s.yaml")).unwrap();
    let store = Store::open(&dir.join("store")).unwrap();
    let plan = planned::plan(&session, &store);
    if !keep_schema {
        for v in &plan.run.variants {
            let mut rec = store
                .template_version(&v.template_version)
                .unwrap()
                .unwrap();
            rec.output_schema = None;
            store.put_template_version(&rec).unwrap();
        }
    }
    planned::complete(&store, &plan, |cell| {
        let k = &cell.key;
        let text = format!(
            "{{\"risk\":\"low\",\"title\":\"{} {}\"}}",
            k.variant, k.case_id
        );
        planned::answer(cell, text, vec![planned::passed("json_valid")])
    });
    store
}

fn export_sft(dir: &Path) -> serde_json::Value {
    let out = dir.join("sft");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(dir.join("store"))
        .arg("export")
        .arg(dir.join("s.yaml"))
        .args(["--format", "sft", "--valid", "0", "--out"])
        .arg(&out)
        .env_remove("LOUPE_STORE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("sft.manifest.json")).unwrap()).unwrap()
}

#[test]
fn schema_enforced_outputs_export_with_their_prompts() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), true);
    let m = export_sft(dir.path());
    assert_eq!(m["counts"]["rows_out"], 4, "{}", m["counts"]);
    assert_eq!(m["counts"]["dropped"], serde_json::json!({}));
}

#[test]
fn older_template_versions_use_the_sessions_schema_while_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), false);
    let m = export_sft(dir.path());
    assert_eq!(m["counts"]["rows_out"], 4, "{}", m["counts"]);
}

/// Rewrites the stored run's record of each variant's `enforce_schema` (the store handle is
/// the one the run was built with: the export opens it once that is dropped).
#[allow(clippy::needless_pass_by_value)] // taken so the handle is closed before the export opens the store
fn set_enforce(store: Store, f: impl Fn(&str) -> EnforceRecord) {
    let mut run = store.runs().unwrap().pop().unwrap();
    for v in &mut run.variants {
        v.enforce_schema = f(&v.name);
    }
    store.put_run(&run).unwrap();
}

#[test]
fn a_run_records_whether_each_variant_sent_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = build(dir.path(), true);
    let run = store.runs().unwrap().pop().unwrap();
    let strict = run.variant("strict").unwrap();
    assert_eq!(strict.enforce_schema, EnforceRecord::On { retries: 1 });
    assert_eq!(strict.sent_schema(), Some(true));
    assert_eq!(run.variant("loose").unwrap().sent_schema(), Some(false));
}

#[test]
fn the_export_rebuilds_the_one_request_the_run_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = build(dir.path(), true);
    // Recorded as not sending the schema, the strict variant's requests no longer match
    // what was sent: the export does not fall back to guessing the other request.
    set_enforce(store, |_| EnforceRecord::Off);
    let m = export_sft(dir.path());
    assert_eq!(m["counts"]["rows_out"], 2, "{}", m["counts"]);
    assert_eq!(
        m["counts"]["dropped"]["prompt_changed_since_run"], 2,
        "{}",
        m["counts"]
    );
}

#[test]
fn runs_stored_before_the_record_still_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = build(dir.path(), true);
    set_enforce(store, |_| EnforceRecord::Unrecorded);
    let m = export_sft(dir.path());
    assert_eq!(m["counts"]["rows_out"], 4, "{}", m["counts"]);
}
