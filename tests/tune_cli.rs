//! `loupe export --from references` and `loupe tune`'s refusals, through the real binary:
//! a folder without a manifest, a base that is not a GGUF (or not F32), an export with no
//! rows after hygiene, a trainer killed mid-run and a `loupe tune` killed mid-run. None of
//! these needs the real trainer: the faults are produced by a stand-in script on demand.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::cli::{assert_refused, references_export_args};
use common::export_fixture::manifest;

const BIN: &str = env!("CARGO_BIN_EXE_loupe");

fn loupe(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("LOUPE_TRAINER")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

use common::cli::stderr;

const SESSION: &str = r#"name: tune-cli
models:
  local: { provider: openai, base_url: "http://127.0.0.1:9/v1", model: m }
  tuned: { provider: openai, base_url: "http://127.0.0.1:9/v1", model: "tuned:risk" }
templates:
  short:
    system: "Reply with JSON only."
    user: "Evaluate the following change request:\n<request>{{ text }}</request>"
  few-shot:
    inherits: short
    examples:
      - { user: "Evaluate: rename a log field", assistant: '{"risk":"low"}' }
variants:
  - { name: few-shot, template: few-shot, model: local }
  - { name: fine-tuned, template: short, model: tuned }
cases: { file: cases.jsonl }
"#;

/// A session whose evaluation cases are two requests, and a training file of `rows`
/// hand-written requests (the last one copying an evaluation case's text).
fn setup(rows: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.yaml"), SESSION).unwrap();
    std::fs::write(
        d.join("cases.jsonl"),
        concat!(
            r#"{"id": "drop", "text": "Drop the legacy orders table in production tonight.", "reference": "{\"risk\":\"high\"}", "split": "eval"}"#,
            "\n",
            r#"{"id": "kernel", "text": "Upgrade the kernel on every database host at once.", "reference": "{\"risk\":\"high\"}", "split": "eval"}"#,
            "\n"
        ),
    )
    .unwrap();
    let mut train = String::new();
    for i in 0..rows {
        train.push_str(&format!(
            "{{\"id\": \"t{i}\", \"text\": \"Rename the metric number {i} in the billing dashboard.\", \"reference\": \"{{\\\"risk\\\":\\\"low\\\"}}\"}}\n"
        ));
    }
    train.push_str(
        r#"{"id": "copy", "text": "Drop the legacy orders table in production tonight.", "reference": "{\"risk\":\"high\"}"}"#,
    );
    train.push('\n');
    std::fs::write(d.join("train.jsonl"), train).unwrap();
    let p = d.to_owned();
    (dir, p)
}

/// [`setup`] with 4 rows, the training file exported to `exp`, and a stand-in F32 base
/// model at `base.gguf`: all `loupe tune` needs but a trainer.
fn ready_to_tune() -> (tempfile::TempDir, PathBuf) {
    let (tmp, d) = setup(4);
    assert!(export(&d, "train.jsonl", "exp").status.success());
    fake_f32_gguf(&d.join("base.gguf"));
    (tmp, d)
}

/// The references in `train` exported for the fine-tuned variant into `out`.
fn export(d: &Path, train: &str, out: &str) -> Output {
    loupe(d, &references_export_args(train, out, &[]))
}

/// A GGUF header with the keys `loupe tune` checks (F32, `ChatML` template).
fn fake_f32_gguf(path: &Path) {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend_from_slice(&(t.len() as u64).to_le_bytes());
        b.extend_from_slice(t.as_bytes());
    };
    s(&mut b, "general.file_type");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    s(&mut b, "tokenizer.chat_template");
    b.extend_from_slice(&8u32.to_le_bytes());
    s(&mut b, "{{'<|im_start|>' + message['role']}}");
    std::fs::write(path, b).unwrap();
}

/// A fake `llama-finetune`: reads `-o OUT` from its arguments into `$out`, then runs `body`.
fn fake_trainer(path: &Path, body: &str) {
    script(
        path,
        &format!(
            "out=\"\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = \"-o\" ] && out=\"$2\"; shift; done\n{body}"
        ),
    );
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `loupe tune` on the export `data` with the base `base` and `trainer`, one epoch, as run
/// `risk`.
fn tune_args_on(data: &str, base: &str, trainer: &Path) -> Vec<String> {
    [
        "tune",
        "s.yaml",
        "--data",
        data,
        "--base",
        base,
        "--name",
        "risk",
        "--epochs",
        "1",
        "--trainer",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([trainer.display().to_string()])
    .collect()
}

/// `loupe tune` on the export `exp` with the stand-in base and `trainer`, as run `risk`.
fn tune_args(trainer: &Path) -> Vec<String> {
    tune_args_on("exp", "base.gguf", trainer)
}

/// Runs `loupe tune` as [`tune_args`] says, then `extra`.
fn run_tune(d: &Path, trainer: &Path, extra: &[&str]) -> Output {
    let args = tune_args(trainer);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    loupe(d, &args)
}

/// `loupe tune` started in the background with `trainer`, returned once the trainer has
/// touched `marker` (so it is training).
fn spawn_tune_until(d: &Path, trainer: &Path, marker: &Path) -> std::process::Child {
    let child = Command::new(BIN)
        .current_dir(d)
        .args(tune_args(trainer))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the trainer never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

fn tunes(d: &Path) -> serde_json::Value {
    let o = loupe(d, &["--store", ".loupe/store", "tunes", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn references_export_writes_curated_rows_with_hygiene_and_provenance() {
    let (_tmp, d) = setup(4);
    let o = export(&d, "train.jsonl", "exp");
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&d.join("exp"), "sft");
    assert_eq!(m["source"], "references");
    assert_eq!(m["references"]["variant"], "fine-tuned");
    assert_eq!(m["references"]["cases"]["rows"], 5);
    assert_eq!(m["counts"]["rows_in"], 5);
    assert_eq!(m["counts"]["rows_out"], 4);
    // The row copying an evaluation case's input never reaches training.
    assert_eq!(m["counts"]["dropped"]["matches_eval_case"], 1, "{m}");
    let train = std::fs::read_to_string(d.join("exp/sft.train.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(train.lines().next().unwrap()).unwrap();
    let msgs = first["messages"].as_array().unwrap();
    // The fine-tuned variant's short prompt (no examples), the reference as the answer.
    assert_eq!(msgs.len(), 3, "{first}");
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["content"], r#"{"risk":"low"}"#);
    let rows = std::fs::read_to_string(d.join("exp/sft.rows.jsonl")).unwrap();
    let prov: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(prov["source"], "reference");
    assert_eq!(prov["cases_file"], "train.jsonl");
    assert!(prov["cases_line"].as_u64().unwrap() >= 1, "{prov}");

    // A variant that retrieves cannot render references; a bad cases line is located.
    std::fs::write(
        d.join("bad.jsonl"),
        "{\"id\": \"a\", \"text\": \"x\"}\n{oops\n",
    )
    .unwrap();
    assert_refused(&export(&d, "bad.jsonl", "exp2"), &["bad.jsonl:2:"]);
    let o = loupe(
        &d,
        &[
            "export",
            "s.yaml",
            "--format",
            "dpo",
            "--from",
            "references",
            "--out",
            "exp3",
        ],
    );
    assert_refused(&o, &["--from references writes sft rows"]);
}

#[test]
fn bad_input_is_refused_with_exit_2_and_nothing_recorded() {
    let (_tmp, d) = ready_to_tune();
    let base = d.join("base.gguf");
    let trainer = d.join("trainer.sh");
    script(&trainer, "exit 0");
    let tune = |data: &str, base: &str| {
        let args = tune_args_on(data, base, &trainer);
        loupe(&d, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // An export folder without a manifest.
    std::fs::create_dir(d.join("empty")).unwrap();
    assert_refused(&tune("empty", "base.gguf"), &["no sft.manifest.json there"]);

    // A base model that is not a GGUF, and one that is quantized.
    std::fs::write(d.join("notes.txt"), "not a model").unwrap();
    assert_refused(&tune("exp", "notes.txt"), &["is not a GGUF model file"]);
    let mut q = std::fs::read(&base).unwrap();
    // general.file_type's value (after its key and type) becomes 3, Q4_1.
    let at = q
        .windows(17)
        .position(|w| w == b"general.file_type")
        .unwrap()
        + 17
        + 4;
    q[at] = 3;
    std::fs::write(d.join("q4.gguf"), q).unwrap();
    assert_refused(
        &tune("exp", "q4.gguf"),
        &["is Q4_1", "scripts/tune.sh base"],
    );

    // An export whose every row was dropped by hygiene (only the copy of an eval case).
    std::fs::write(
        d.join("only-copy.jsonl"),
        r#"{"id": "copy", "text": "Drop the legacy orders table in production tonight.", "reference": "{\"risk\":\"high\"}"}"#,
    )
    .unwrap();
    let o = export(&d, "only-copy.jsonl", "none");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_refused(
        &tune("none", "base.gguf"),
        &["the export has no rows", "matches_eval_case"],
    );

    // A data file changed after the export: the manifest no longer describes it.
    let train = d.join("exp/sft.train.jsonl");
    let text = std::fs::read_to_string(&train).unwrap();
    std::fs::write(&train, text.replace("billing", "payroll")).unwrap();
    assert_refused(&tune("exp", "base.gguf"), &["changed since the export"]);

    // Nothing was recorded by any of these.
    assert_eq!(tunes(&d), serde_json::json!([]));
}

#[test]
fn a_trainer_killed_mid_run_leaves_a_failed_run_and_no_model() {
    let (_tmp, d) = ready_to_tune();
    // Reports a step, starts writing the model, then dies as a killed trainer does.
    let trainer = d.join("trainer.sh");
    fake_trainer(
        &trainer,
        r#"echo "loupe-tokens 900"
echo "loupe-step train epoch=0 batch=1/4 tokens=256 loss=2.5 elapsed_ms=100"
echo "half a model" > "$out"
kill -9 $$"#,
    );
    assert_refused(&run_tune(&d, &trainer, &[]), &["was killed (signal 9)"]);
    let runs = tunes(&d);
    assert_eq!(runs[0]["name"], "risk");
    assert_eq!(runs[0]["status"]["state"], "failed", "{runs}");
    assert_eq!(runs[0]["output"], serde_json::Value::Null);
    let tuned = d.join(".loupe/tuned");
    assert!(!tuned.join("risk.gguf").exists());
    assert!(!tuned.join("risk.gguf.partial").exists());
    // The table says so too.
    let o = loupe(&d, &["--store", ".loupe/store", "tunes"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("risk") && table.contains("failed"),
        "{table}"
    );
}

#[test]
fn a_tune_killed_mid_run_is_shown_interrupted_and_a_rerun_trains_again() {
    let (_tmp, d) = ready_to_tune();
    let marker = d.join("started");
    let trainer = d.join("trainer.sh");
    script(&trainer, &format!("touch {}\nsleep 30", marker.display()));
    let mut child = spawn_tune_until(&d, &trainer, &marker);
    child.kill().unwrap();
    child.wait().unwrap();
    let runs = tunes(&d);
    assert_eq!(runs[0]["status"]["state"], "running", "{runs}");
    assert_eq!(runs[0]["shown_status"], "interrupted", "{runs}");
    assert_eq!(runs[0]["output"], serde_json::Value::Null);

    // Restarted with a trainer that finishes: the run is replaced and finished.
    let good = d.join("good.sh");
    fake_trainer(
        &good,
        r#"echo "loupe-epoch epoch=0 train_loss=1.5 val_loss=nan"
cp base.gguf "$out""#,
    );
    let o = run_tune(&d, &good, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs = tunes(&d);
    assert_eq!(runs[0]["status"]["state"], "finished", "{runs}");
    assert_eq!(runs[0]["epochs"][0]["train_loss"], 1.5);
    assert_eq!(runs[0]["epochs"][0]["val_loss"], serde_json::Value::Null);
    // What it prints is the file to serve: the Q8_0 copy beside the F32 model, both recorded.
    let out = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(out.ends_with(".loupe/tuned/risk.q8_0.gguf"), "{out}");
    let info = loupe::tune::gguf::read(&d.join(&out)).unwrap();
    assert_eq!(info.file_type_name(), "Q8_0");
    let model = d.join(".loupe/tuned/risk.gguf");
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(d.join("base.gguf")).unwrap()
    );
    assert!(
        runs[0]["output"]["path"]
            .as_str()
            .unwrap()
            .ends_with("risk.gguf")
    );
    assert!(runs[0]["served"]["path"].as_str().unwrap().ends_with(&out));
    assert!(!d.join(".loupe/tuned/risk.q8_0.gguf.partial").exists());

    // Asked again on another number of threads: the same training, nothing to do.
    let again = run_tune(&d, &good, &["--threads", "3"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already trained"),
        "{}",
        stderr(&again)
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), out);
}

#[test]
fn a_trained_file_that_cannot_be_quantized_fails_the_run_unless_no_copy_is_asked() {
    let (_tmp, d) = ready_to_tune();
    let trainer = d.join("trainer.sh");
    fake_trainer(
        &trainer,
        r#"echo "loupe-epoch epoch=0 train_loss=1.5 val_loss=1.75"
echo "model" > "$out""#,
    );
    assert_refused(
        &run_tune(&d, &trainer, &[]),
        &["quantizing the trained model", "not a GGUF"],
    );
    let runs = tunes(&d);
    assert_eq!(runs[0]["status"]["state"], "failed", "{runs}");
    assert!(!d.join(".loupe/tuned/risk.q8_0.gguf").exists());
    assert!(!d.join(".loupe/tuned/risk.q8_0.gguf.partial").exists());

    // Without a copy the F32 file is what is served.
    let o = run_tune(&d, &trainer, &["--quantize", "none"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(out.ends_with(".loupe/tuned/risk.gguf"), "{out}");
    assert_eq!(tunes(&d)[0]["served"], serde_json::Value::Null);
}

#[test]
fn a_store_opened_meanwhile_is_waited_for_so_the_finished_run_is_recorded() {
    let (_tmp, d) = ready_to_tune();
    let marker = d.join("started");
    let trainer = d.join("trainer.sh");
    fake_trainer(
        &trainer,
        &format!(
            r#"touch {}
sleep 1
echo "loupe-epoch epoch=0 train_loss=1.5 val_loss=1.75"
cp base.gguf "$out""#,
            marker.display()
        ),
    );
    let child = spawn_tune_until(&d, &trainer, &marker);
    // Someone opens the session's store while the model trains, and keeps it past the end.
    let held = loupe::store::Store::open(&d.join(".loupe/store")).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(held);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("waiting up to"), "{}", stderr(&o));
    let runs = tunes(&d);
    assert_eq!(runs[0]["status"]["state"], "finished", "{runs}");
    assert_eq!(runs[0]["epochs"][0]["val_loss"], 1.75);
}
