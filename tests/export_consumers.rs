//! Real consumers accept the files: every format `loupe export` writes is loaded with the
//! Python `datasets` library and checked against the rules `OpenAI` and TRL document
//! (`tests/consumers/check_exports.py`, run by `common::consumers`). Only with its venv
//! absent and `LOUPE_SKIP_PYTHON=1` is the test skipped, saying so.

#![allow(clippy::unwrap_used)]

mod common;

use common::consumers::{check, python};
use common::export_fixture::{build, export};

#[test]
fn datasets_loads_every_format_and_the_rules_hold() {
    let Some(py) = python() else {
        println!(
            "SKIPPED: .loupe/venv-datasets is absent and LOUPE_SKIP_PYTHON=1; \
             run scripts/datasets-venv.sh to check the exports with Python datasets"
        );
        return;
    };
    let fx = build();
    let out = fx.dir.path().join("exports");
    let o = out.to_str().unwrap();
    for args in [
        &["--format", "sft", "--out", o, "--valid", "0.3"][..],
        &[
            "--format",
            "dpo",
            "--out",
            o,
            "--valid",
            "0.3",
            "--consensus",
            "1",
        ],
        &["--format", "openai-dpo", "--out", o, "--consensus", "1"],
        &["--format", "rubric", "--out", o],
        &["--format", "raw", "--out", o],
    ] {
        let r = export(&fx, args);
        assert!(
            r.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let r = check(&py, &fx.dir.path().join("hf-cache"), &out);
    let stdout = String::from_utf8_lossy(&r.stdout);
    let stderr = String::from_utf8_lossy(&r.stderr);
    println!("{stdout}");
    assert!(
        r.status.success(),
        "check_exports.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("every export loads"), "{stdout}");

    // The checker bites: an SFT row whose last turn is the user's, with a manifest that
    // matches the file, is refused.
    let sft = out.join("sft.train.jsonl");
    let bad = "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u\"}]}\n";
    std::fs::write(&sft, bad).unwrap();
    let manifest_path = out.join("sft.manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == "sft.train.jsonl" {
            f["sha256"] = loupe::export::files::sha256_file(&sft).unwrap().into();
            f["rows"] = 1.into();
        }
    }
    let valid = m["counts"]["valid"].as_u64().unwrap();
    m["counts"]["rows_out"] = (valid + 1).into();
    std::fs::write(&manifest_path, m.to_string()).unwrap();
    let r = check(&py, &fx.dir.path().join("hf-cache"), &out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        stderr.contains("the last message is not the assistant's"),
        "{stderr}"
    );
}
