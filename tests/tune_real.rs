//! A tiny real fine-tune through `loupe tune` (8 hand-written requests, 1 epoch, 256-token
//! windows): llama.cpp's trainer built by `scripts/tune.sh`, the tuned model served by
//! `scripts/model.sh` on its own port and run as a variant beside the base model, and its
//! lineage in the store (`loupe tunes`), the report, and a gate release.
//!
//! The trainer and the F32 base come from `scripts/tune.sh install` (cached under .loupe/;
//! `scripts/test.sh` runs it first). `LOUPE_SKIP_MODEL=1` skips, loudly.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::cli::references_export_args;
use common::http::free_port;
use common::model_server;
use loupe::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_loupe");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn loupe(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!(
        "loupe {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The trainer and the F32 base, built and made once by `scripts/tune.sh install`.
fn tools() -> (PathBuf, PathBuf) {
    // `scripts/tune.sh STEP`: the path it prints.
    let tune_sh = |step: &str| {
        let o = Command::new("bash")
            .arg(format!("{ROOT}/scripts/tune.sh"))
            .arg(step)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "scripts/tune.sh {step} failed (see above)"
        );
        PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
    };
    let (trainer, base) = (tune_sh("install"), tune_sh("base"));
    assert!(
        trainer.is_file() && base.is_file(),
        "{} {}",
        trainer.display(),
        base.display()
    );
    (trainer, base)
}

/// The demo's short prompt for the tuned model, the few-shot prompt for the base model.
fn session(base_url: &str, tuned_port: u16) -> String {
    format!(
        r#"name: tune-real
models:
  local:
    provider: openai
    base_url: {base_url}/v1
    model: smollm2-135m
    params: {{ temperature: 0, max_tokens: 48, seed: 7 }}
  tuned:
    provider: openai
    base_url: http://127.0.0.1:{tuned_port}/v1
    model: "tuned:tiny"
    params: {{ temperature: 0, max_tokens: 48, seed: 7 }}
templates:
  short:
    system: |
      You are a precise change-management assistant. Reply with JSON only:
      {{"title": string, "risk": "low" | "medium" | "high", "rationale": string}}
    user: "Evaluate the following change request:\n<request>{{{{ text }}}}</request>"
  few-shot:
    inherits: short
    examples:
      - user: "Evaluate the following change request:\n<request>Rename the log field req_id to request_id.</request>"
        assistant: '{{"title":"Rename log field","risk":"low","rationale":"Cosmetic."}}'
variants:
  - {{ name: few-shot, template: few-shot, model: local }}
  - {{ name: fine-tuned, template: short, model: tuned }}
cases: {{ file: cases.jsonl }}
checks:
  - json_valid
"#
    )
}

#[test]
fn a_tiny_real_fine_tune_is_served_run_reported_and_released_with_its_lineage() {
    let Some(base_url) = model_server::server() else {
        model_server::skip_note("a_tiny_real_fine_tune_is_served_run_reported_and_released");
        return;
    };
    let (trainer, base) = tools();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tuned_port = free_port();
    std::fs::write(d.join("s.yaml"), session(base_url, tuned_port)).unwrap();
    // The demo's evaluation cases, and 8 of its hand-written training requests.
    std::fs::copy(
        format!("{ROOT}/sessions/cases/change-risk.jsonl"),
        d.join("cases.jsonl"),
    )
    .unwrap();
    let train: Vec<String> =
        std::fs::read_to_string(format!("{ROOT}/sessions/training/change-risk-train.jsonl"))
            .unwrap()
            .lines()
            .take(8)
            .map(str::to_owned)
            .collect();
    std::fs::write(d.join("train.jsonl"), train.join("\n") + "\n").unwrap();

    let o = loupe(
        d,
        &references_export_args("train.jsonl", "exp", &["--valid", "0.2"]),
    );
    assert!(o.status.success());

    let tune_args = [
        "tune",
        "s.yaml",
        "--data",
        "exp",
        "--base",
        base.to_str().unwrap(),
        "--name",
        "tiny",
        "--epochs",
        "1",
        "--ctx",
        "256",
        "--trainer",
        trainer.to_str().unwrap(),
    ];
    let o = loupe(d, &tune_args);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for shown in ["epoch 1/1 step 1/", "loss", "tokens/s", "ETA", "val loss"] {
        assert!(err.contains(shown), "progress lacks {shown:?}: {err}");
    }
    // What it prints is the file to serve: the Q8_0 copy of the F32 model the trainer wrote.
    let model = d.join(String::from_utf8_lossy(&o.stdout).trim());
    assert!(model.ends_with(".loupe/tuned/tiny.q8_0.gguf"), "{model:?}");
    let f32_model = d.join(".loupe/tuned/tiny.gguf");

    // The training run in the store names its data, base, hyperparameters and output.
    let o = loupe(d, &["--store", ".loupe/store", "tunes", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = &runs[0];
    assert_eq!(run["status"]["state"], "finished", "{run}");
    assert_eq!(
        run["data"]["manifest_sha256"],
        sha256(&d.join("exp/sft.manifest.json"))
    );
    assert_eq!(
        run["data"]["rows_train"].as_u64().unwrap() + run["data"]["rows_valid"].as_u64().unwrap(),
        8
    );
    assert_eq!(run["data"]["source"], "references");
    assert!(run["data"]["tokens"].as_u64().unwrap() > 512, "{run}");
    assert_eq!(run["base"]["sha256"], sha256(&base));
    assert_eq!(run["output"]["sha256"], sha256(&f32_model));
    assert_eq!(run["served"]["sha256"], sha256(&model));
    assert!(
        std::fs::metadata(&model).unwrap().len() * 3 < std::fs::metadata(&f32_model).unwrap().len(),
        "the Q8_0 copy is under a third of the F32 model"
    );
    assert_eq!(run["hyper"]["epochs"], 1);
    assert_eq!(run["hyper"]["context"], 256);
    assert_eq!(run["epochs"].as_array().unwrap().len(), 1);
    assert!(run["epochs"][0]["train_loss"].as_f64().unwrap() > 0.0);
    assert!(run["epochs"][0]["val_loss"].as_f64().is_some(), "{run}");
    assert!(run["wall_ms"].as_u64().unwrap() > 0);

    // Again with the same inputs: nothing is trained.
    let o = loupe(d, &tune_args);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already trained"));
    assert_eq!(
        sha256(&f32_model),
        run["output"]["sha256"].as_str().unwrap()
    );
    assert_eq!(sha256(&model), run["served"]["sha256"].as_str().unwrap());

    // Served on its own port and run as a variant beside the base model.
    let o = Command::new("bash")
        .arg(format!("{ROOT}/scripts/model.sh"))
        .args([
            "start",
            &tuned_port.to_string(),
            model.to_str().unwrap(),
            "tuned:tiny",
        ])
        .env("LOUPE_MODEL_WATCH_PID", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scripts/model.sh start failed (see above)"
    );
    let o = loupe(
        d,
        &[
            "run",
            "s.yaml",
            "--variant",
            "few-shot",
            "--variant",
            "fine-tuned",
            "--case",
            "drop-column",
            "--case",
            "kernel-upgrade",
            "--case",
            "friday",
        ],
    );
    let stop = || {
        let _ = Command::new("bash")
            .arg(format!("{ROOT}/scripts/model.sh"))
            .args(["stop", &tuned_port.to_string()])
            .output();
    };
    stop();
    assert!(o.status.code().is_some_and(|c| c < 2));
    let run_id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let o = loupe(
        d,
        &[
            "--store",
            ".loupe/store",
            "report",
            &run_id,
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tuned = report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["variant"] == "fine-tuned")
        .unwrap();
    assert_eq!(tuned["model"], "tuned:tiny");
    assert_eq!(tuned["n"], 3);
    assert_eq!(tuned["errors"], 0, "{report}");
    assert!(tuned["tokens_out"].as_u64().unwrap() > 0);
    let lineage = &report["training"][0];
    assert_eq!(lineage["variant"], "fine-tuned");
    assert_eq!(lineage["training_run"], "tiny");
    assert_eq!(
        lineage["record"]["output"]["sha256"],
        run["output"]["sha256"]
    );
    assert_eq!(
        lineage["record"]["served"]["sha256"],
        run["served"]["sha256"]
    );
    let o = loupe(d, &["--store", ".loupe/store", "report", &run_id]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("fine-tuned models (lineage)")
            && table.contains("training run tune-")
            && table.contains("served as Q8_0")
            && table.contains("prompt tokens per request: few-shot "),
        "{table}"
    );

    // A release of the fine-tuned variant freezes its training run. The gate needs a clear
    // win, which three real cases cannot give: a complete run of every case is stored
    // through the store API (the real planner's cells) with the tuned model's answers valid
    // and the base model's not.
    let session = loupe::session::load(&d.join("s.yaml")).unwrap();
    let gated = {
        let store = Store::open(&d.join(".loupe/store")).unwrap();
        let plan = common::planned::plan(&session, &store);
        common::planned::complete(&store, &plan, |cell| {
            let ok = cell.key.variant == "fine-tuned";
            let mut check = common::planned::passed("json_valid");
            check.pass = ok;
            common::planned::answer(cell, if ok { "{}" } else { "no" }.into(), vec![check])
        })
        .id
    };
    let o = loupe(
        d,
        &[
            "--store",
            ".loupe/store",
            "gate",
            &gated,
            "--candidate",
            "fine-tuned",
            "--baseline",
            "few-shot",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = loupe(
        d,
        &[
            "--store",
            ".loupe/store",
            "gate",
            "--list",
            "--format",
            "json",
        ],
    );
    let releases: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let training = &releases[0]["training"];
    assert_eq!(training["name"], "tiny");
    assert_eq!(
        training["data"]["manifest_sha256"],
        run["data"]["manifest_sha256"]
    );
    assert_eq!(training["output"]["sha256"], run["output"]["sha256"]);
    // From the release back to the rows: the manifest it names lists every row's source.
    let rows = std::fs::read_to_string(d.join("exp/sft.rows.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 8);
    assert!(
        rows.lines()
            .all(|l| l.contains(r#""cases_file":"train.jsonl""#))
    );
}
