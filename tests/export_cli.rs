//! `loupe export` through the real binary, on a store built with the store API (the run is
//! planned by the real planner, outputs and ratings are synthetic; see `common::export_fixture`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::export_fixture::{Fixture, KEY_VALUE, build, export, manifest, out_dir};
use common::jsonl::read as read_jsonl;
use sha2::{Digest, Sha256};

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    loupe::export::files::hex(&Sha256::digest(&bytes))
}

fn ok(o: &std::process::Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `loupe export --format FORMAT --out DIR ARGS` into the fixture's folder `name`, which
/// must succeed: the folder and the export's manifest.
fn exported(fx: &Fixture, name: &str, format: &str, args: &[&str]) -> (PathBuf, serde_json::Value) {
    let out = out_dir(fx, name);
    let mut all = vec!["--format", format, "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&export(fx, &all));
    let m = manifest(&out, format);
    (out, m)
}

fn dropped(m: &serde_json::Value) -> BTreeMap<String, u64> {
    serde_json::from_value(m["counts"]["dropped"].clone()).unwrap()
}

/// Every file the manifest lists exists with that sha256, size and row count; the counts
/// add up; nothing secret is in any file of the folder.
fn audit(dir: &Path, m: &serde_json::Value, redacted: bool) {
    let files = m["files"].as_array().unwrap();
    assert!(!files.is_empty());
    for f in files {
        let path = dir.join(f["path"].as_str().unwrap());
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            sha256(&path),
            "{}",
            path.display()
        );
        assert_eq!(
            f["bytes"].as_u64().unwrap(),
            std::fs::metadata(&path).unwrap().len()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count() as u64;
        let header = u64::from(path.extension().is_some_and(|e| e == "csv"));
        assert_eq!(
            f["rows"].as_u64().unwrap(),
            lines - header,
            "{}",
            path.display()
        );
    }
    let c = &m["counts"];
    let dropped: u64 = dropped(m).values().sum();
    assert_eq!(
        c["rows_in"].as_u64().unwrap(),
        c["rows_out"].as_u64().unwrap() + dropped,
        "every row in is written or dropped for a reason"
    );
    let format = m["format"].as_str().unwrap();
    let dropped_file = dir.join(format!("{format}.dropped.jsonl"));
    assert_eq!(read_jsonl(&dropped_file).len() as u64, dropped);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(KEY_VALUE), "API key in {}", path.display());
        assert!(
            !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(".partial")
        );
        if redacted {
            for pii in [
                "jane.doe@example.com",
                "GB82 WEST",
                "415 555 2671",
                "rater@example.org",
            ] {
                assert!(!text.contains(pii), "{pii} in {}", path.display());
            }
        }
    }
}

fn assert_chat(messages: &serde_json::Value) {
    let msgs = messages.as_array().unwrap();
    for m in msgs {
        assert!(["system", "user", "assistant"].contains(&m["role"].as_str().unwrap()));
        assert!(!m["content"].as_str().unwrap().trim().is_empty());
    }
    assert_eq!(msgs.last().unwrap()["role"], "assistant");
}

#[test]
fn sft_writes_chosen_outputs_with_an_auditable_manifest() {
    let fx = build();
    let out = out_dir(&fx, "sft");
    let o = export(&fx, &["--format", "sft", "--out", out.to_str().unwrap()]);
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        stdout.trim(),
        out.join("sft.manifest.json").display().to_string()
    );
    let m = manifest(&out, "sft");
    audit(&out, &m, true);

    assert_eq!(m["format"], "sft");
    assert_eq!(m["loupe_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        m["session"]["sha256"].as_str().unwrap(),
        sha256(&fx.session)
    );
    assert_eq!(m["runs"][0]["id"], fx.run_id.as_str());
    assert_eq!(m["filters"]["runs_from"], "latest complete run");
    assert_eq!(
        m["filters"]["consensus"], 2,
        "the session's raters_per_comparison"
    );
    assert_eq!(m["raters"], serde_json::json!(["ana", "bo"]));
    assert_eq!(m["variants"].as_array().unwrap().len(), 2);
    assert_eq!(m["template_versions"].as_object().unwrap().len(), 2);
    assert_eq!(m["variants"][0]["params"]["seed"], 7);
    assert!(m["variants"][0].get("api_key_env").is_none());
    assert_eq!(m["hygiene"]["redact"], true);
    assert_eq!(m["hygiene"]["no_redact"], false);
    assert_eq!(m["hygiene"]["eval_cases"], 1);
    assert_eq!(m["hygiene"]["split"]["seed"], 7);

    let c = &m["counts"];
    assert_eq!(c["rows_in"].as_u64().unwrap(), fx.outputs as u64);
    assert_eq!(c["rows_out"], 17);
    assert_eq!(
        c["rows_out"].as_u64().unwrap(),
        c["train"].as_u64().unwrap() + c["valid"].as_u64().unwrap()
    );
    let want: BTreeMap<String, u64> = [
        ("duplicate_exact", 4),
        ("duplicate_folded", 1),
        ("eval_split", 4),
        ("failed_checks", 1),
        ("lost_comparison", 2),
        ("matches_eval_case", 4),
        ("no_consensus", 6),
        ("output_error", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(dropped(&m), want);
    assert_eq!(
        m["duplicates_removed"],
        serde_json::json!({"exact": 4, "folded": 1})
    );
    let redactions: BTreeMap<String, u64> =
        serde_json::from_value(m["redactions"].clone()).unwrap();
    let want: BTreeMap<String, u64> = [
        ("api_key", 1),
        ("email", 2),
        ("iban", 2),
        ("ip", 1),
        ("phone", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(redactions, want);

    // Rows: OpenAI chat, few-shot turns as the template sends them, placeholders in place.
    let mut rows = read_jsonl(&out.join("sft.train.jsonl"));
    // An empty split is not written.
    if out.join("sft.valid.jsonl").exists() {
        rows.extend(read_jsonl(&out.join("sft.valid.jsonl")));
    }
    assert_eq!(rows.len(), 17);
    for r in &rows {
        assert_eq!(r.as_object().unwrap().len(), 1, "only `messages`: {r}");
        assert_chat(&r["messages"]);
    }
    let text = serde_json::to_string(&rows).unwrap();
    assert!(text.contains("[EMAIL]") && text.contains("[PHONE]") && text.contains("[IBAN]"));
    assert!(text.contains("key [SECRET] on [IP]"));
    let provenance = read_jsonl(&out.join("sft.rows.jsonl"));
    assert_eq!(provenance.len(), 17);
    for p in &provenance {
        assert!(!["e1", "c9"].contains(&p["case_id"].as_str().unwrap()));
        // Each provenance line points at the row it describes.
        let file = out.join(p["file"].as_str().unwrap());
        let line = p["line"].as_u64().unwrap() as usize;
        let row = &read_jsonl(&file)[line - 1];
        let msgs = row["messages"].as_array().unwrap();
        let few = p["variant"] == "few";
        assert_eq!(msgs.len(), if few { 5 } else { 3 }, "{row}");
        if few {
            assert_eq!(
                msgs[1]["content"],
                "Evaluate:\n<request>Rename a log field</request>"
            );
            assert_eq!(msgs[2]["role"], "assistant");
        }
    }

    // The store knows about the export, with the manifest's hash.
    let store = loupe::store::Store::open(&fx.store).unwrap();
    let exports: Vec<_> = store.exports().map(Result::unwrap).collect();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].format, "sft");
    assert_eq!(exports[0].rows_out, 17);
    assert_eq!(
        exports[0].manifest_sha256,
        sha256(&out.join("sft.manifest.json"))
    );
    assert_eq!(exports[0].manifest["export_id"], exports[0].id.as_str());
}

#[test]
fn no_redact_is_recorded_and_api_keys_still_never_leave() {
    let fx = build();
    let (out, m) = exported(&fx, "plain", "sft", &["--no-redact"]);
    audit(&out, &m, false);
    assert_eq!(m["hygiene"]["redact"], false);
    assert_eq!(m["hygiene"]["no_redact"], true);
    assert_eq!(m["redactions"], serde_json::json!({"api_key": 1}));
    let train = std::fs::read_to_string(out.join("sft.train.jsonl")).unwrap()
        + &std::fs::read_to_string(out.join("sft.valid.jsonl")).unwrap_or_default();
    assert!(train.contains("jane.doe@example.com"));
    assert!(train.contains("key [SECRET] on 10.0.0.7"));
}

#[test]
fn preference_pairs_need_k_agreeing_raters_and_no_tie() {
    let fx = build();
    let (out, m) = exported(&fx, "dpo", "dpo", &["--valid", "0"]);
    audit(&out, &m, true);
    assert_eq!(m["filters"]["runs_from"], "rated runs");
    assert_eq!(m["counts"]["rows_in"], 6, "six rated comparisons");
    assert_eq!(m["counts"]["rows_out"], 2);
    let want: BTreeMap<String, u64> = [
        ("eval_split", 1),
        ("raters_disagree", 1),
        ("tie", 1),
        ("too_few_raters", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(dropped(&m), want);
    assert!(m["notes"][0].as_str().unwrap().contains("prompts differ"));
    assert!(
        !out.join("dpo.valid.jsonl").exists(),
        "--valid 0 writes no valid file"
    );
    let rows = read_jsonl(&out.join("dpo.train.jsonl"));
    let prov = read_jsonl(&out.join("dpo.rows.jsonl"));
    for (r, p) in rows.iter().zip(&prov) {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["prompt", "chosen", "rejected"]);
        assert_eq!(
            r["prompt"].as_array().unwrap().last().unwrap()["role"],
            "user"
        );
        assert_eq!(r["chosen"][0]["role"], "assistant");
        assert_eq!(r["rejected"][0]["role"], "assistant");
        let chosen = p["chosen"].as_str().unwrap();
        assert!(
            r["chosen"][0]["content"]
                .as_str()
                .unwrap()
                .contains(&format!("by {chosen}"))
        );
        // The prompt is the one the chosen answer was produced with.
        let turns = r["prompt"].as_array().unwrap().len();
        assert_eq!(turns, if chosen == "few" { 4 } else { 2 });
        assert_eq!(p["raters"], 2);
    }
    let winners: Vec<(&str, &str)> = prov
        .iter()
        .map(|p| {
            (
                p["case_id"].as_str().unwrap(),
                p["chosen"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(winners, [("c1", "zero"), ("c2", "few")]);

    // One rater is enough with --consensus 1: c7 (rated by ana alone) joins.
    let (out1, m) = exported(
        &fx,
        "dpo1",
        "openai-dpo",
        &["--consensus", "1", "--valid", "0"],
    );
    audit(&out1, &m, true);
    assert_eq!(m["counts"]["rows_out"], 3);
    assert_eq!(m["filters"]["consensus"], 1);
    for r in read_jsonl(&out1.join("openai-dpo.train.jsonl")) {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["input", "preferred_output", "non_preferred_output"]);
        assert!(r["input"]["messages"].is_array());
        assert_eq!(r["preferred_output"].as_array().unwrap().len(), 1);
        assert_eq!(r["non_preferred_output"][0]["role"], "assistant");
        assert_ne!(r["preferred_output"], r["non_preferred_output"]);
    }
}

#[test]
fn rubric_rows_per_rater_and_output_in_jsonl_and_csv() {
    let fx = build();
    let (out, m) = exported(&fx, "rubric", "rubric", &[]);
    audit(&out, &m, true);
    assert_eq!(m["counts"]["rows_in"], 6);
    assert_eq!(m["counts"]["rows_out"], 6);
    let rows = read_jsonl(&out.join("rubric.jsonl"));
    let c7: Vec<_> = rows.iter().filter(|r| r["case_id"] == "c7").collect();
    assert_eq!(c7.len(), 1, "a rater's latest verdict only");
    assert_eq!(c7[0]["scores"]["accuracy"], 4);
    assert_eq!(c7[0]["mean"], 4.5);
    assert_eq!(c7[0]["note"], "reach me at [EMAIL]");
    assert_eq!(c7[0]["rater"], "ana");
    assert_eq!(c7[0]["preferred"], true);
    let csv = std::fs::read_to_string(out.join("rubric.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "comparison,run_id,case_id,repeat,variant,rater,clarity,accuracy,mean,output"
    );
    assert_eq!(lines.count(), 6);

    let (_, m) = exported(&fx, "rubric4", "rubric", &["--min-rubric", "accuracy=4"]);
    assert_eq!(m["counts"]["rows_out"], 3);
    assert_eq!(m["counts"]["dropped"]["below_min_rubric"], 3);
    assert_eq!(m["filters"]["min_rubric"]["accuracy"], 4.0);
}

#[test]
fn raw_keeps_every_output_with_its_messages() {
    let fx = build();
    let (out, m) = exported(&fx, "raw", "raw", &[]);
    audit(&out, &m, true);
    assert_eq!(m["counts"]["rows_out"].as_u64().unwrap(), fx.outputs as u64);
    assert_eq!(m["hygiene"]["decontaminate"], false);
    assert_eq!(m["hygiene"]["dedupe"], false);
    let rows = read_jsonl(&out.join("raw.jsonl"));
    assert!(
        rows.iter().all(|r| r["messages"].is_array()),
        "every prompt reproduced"
    );
    assert!(rows.iter().any(|r| r["split"] == "eval"));
    let err = rows
        .iter()
        .find(|r| r["case_id"] == "c4" && r["variant"] == "zero" && r["repeat"] == 0)
        .unwrap();
    assert_eq!(err["error"], "HTTP 503 from the server");
    assert_eq!(err["passed"], false);
}

#[test]
fn filters_select_variants_tags_and_rubric_minimums() {
    let fx = build();
    let run = |name: &str, extra: &[&str]| {
        let (out, m) = exported(&fx, name, "sft", extra);
        audit(&out, &m, true);
        (m, read_jsonl(&out.join("sft.rows.jsonl")))
    };
    let (m, rows) = run("zero", &["--variant", "zero"]);
    assert_eq!(m["counts"]["rows_out"], 8);
    assert_eq!(m["counts"]["dropped"]["filter_variant"], 20);
    assert!(rows.iter().all(|r| r["variant"] == "zero"));

    let (m, rows) = run("edge", &["--tag", "edge"]);
    assert_eq!(m["counts"]["rows_out"], 5);
    assert!(
        rows.iter()
            .all(|r| ["c6", "c8"].contains(&r["case_id"].as_str().unwrap()))
    );

    let (m, rows) = run("acc", &["--min-rubric", "accuracy=4"]);
    assert_eq!(m["counts"]["rows_out"], 1);
    assert_eq!(rows[0]["case_id"], "c1");
    assert_eq!(rows[0]["variant"], "zero");
    assert_eq!(m["counts"]["dropped"]["below_min_rubric"], 1);

    let (m, _) = run(
        "failing",
        &["--include-failing", "--no-dedupe", "--no-decontaminate"],
    );
    let d = dropped(&m);
    assert!(!d.contains_key("failed_checks") && !d.contains_key("eval_split"));
    assert!(!d.contains_key("duplicate_exact"));
    assert_eq!(m["hygiene"]["dedupe"], false);
    assert_eq!(m["hygiene"]["decontaminate"], false);
}

#[test]
fn the_split_is_the_same_for_the_same_seed() {
    let fx = build();
    let run = |name: &str, seed: &str| {
        let (out, _) = exported(&fx, name, "sft", &["--valid", "0.5", "--seed", seed]);
        let ids = |f: &str| -> Vec<String> {
            read_jsonl(&out.join("sft.rows.jsonl"))
                .iter()
                .filter(|r| r["file"] == f)
                .map(|r| r["case_id"].as_str().unwrap().to_owned())
                .collect()
        };
        (
            sha256(&out.join("sft.train.jsonl")),
            sha256(&out.join("sft.valid.jsonl")),
            ids("sft.train.jsonl"),
            ids("sft.valid.jsonl"),
        )
    };
    let a = run("s7a", "7");
    let b = run("s7b", "7");
    assert_eq!(a, b, "same seed, same files");
    assert!(
        !a.3.is_empty() && !a.2.is_empty(),
        "both files have rows at 0.5"
    );
    assert!(
        a.2.iter().all(|c| !a.3.contains(c)),
        "a case never straddles the files"
    );
    let c = run("s8", "8");
    assert_ne!((&a.2, &a.3), (&c.2, &c.3), "another seed, another split");
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let fx = build();
    let out = out_dir(&fx, "bad");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--format", "sft", "--out", o, "--valid", "1.5"],
            "--valid 1.5",
        ),
        (
            vec!["--format", "sft", "--out", o, "--min-rubric", "accuracy"],
            "expected DIM=N",
        ),
        (
            vec!["--format", "sft", "--out", o, "--min-rubric", "depth=4"],
            "no dimension \"depth\"",
        ),
        (
            vec!["--format", "sft", "--out", o, "--min-rubric", "accuracy=9"],
            "scored 1 to 5",
        ),
        (
            vec!["--format", "sft", "--out", o, "--variant", "ghost"],
            "no variant \"ghost\"",
        ),
        (
            vec!["--format", "sft", "--out", o, "--tag", "nope"],
            "no case",
        ),
        (
            vec!["--format", "dpo", "--out", o, "--consensus", "0"],
            "--consensus 0",
        ),
        (
            vec![
                "--format",
                "sft",
                "--out",
                o,
                "--run",
                "20990101-000000-0000",
            ],
            "no run 20990101-000000-0000",
        ),
        (
            vec!["--format", "raw", "--out", o, "--min-rubric", "accuracy=4"],
            "does not apply",
        ),
        (
            vec!["--format", "bogus", "--out", o],
            "invalid value 'bogus'",
        ),
        (vec!["--format", "sft"], "--out"),
    ] {
        let r = export(&fx, &args);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was written by the failed attempts.
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());

    // A file where the folder should be.
    let file = out_dir(&fx, "a-file");
    std::fs::write(&file, "x").unwrap();
    let r = export(&fx, &["--format", "sft", "--out", file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a folder"));

    // A session without a run.
    let empty = tempfile::tempdir().unwrap();
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args([
            "--store",
            empty.path().join("store").to_str().unwrap(),
            "export",
        ])
        .arg(&fx.session)
        .args(["--format", "sft", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no run of session \"exp\""));
}

#[test]
fn an_earlier_export_is_replaced_only_with_force() {
    let fx = build();
    let out = out_dir(&fx, "twice");
    let args = ["--format", "sft", "--out", out.to_str().unwrap()];
    ok(&export(&fx, &args));
    let first = sha256(&out.join("sft.train.jsonl"));
    let r = export(&fx, &args);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--force"));
    let mut forced = args.to_vec();
    forced.push("--force");
    ok(&export(&fx, &forced));
    assert_eq!(
        sha256(&out.join("sft.train.jsonl")),
        first,
        "deterministic rows"
    );
    // A dpo export beside it does not clash.
    ok(&export(
        &fx,
        &["--format", "dpo", "--out", out.to_str().unwrap()],
    ));
    let store = loupe::store::Store::open(&fx.store).unwrap();
    assert_eq!(store.exports().count(), 3);
}

#[test]
fn a_refused_export_leaves_nothing_behind() {
    let fx = build();
    // No store there: said, and none is created on the way.
    let nowhere = fx.dir.path().join("nowhere");
    let out = out_dir(&fx, "none");
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(&nowhere)
        .arg("export")
        .arg(&fx.session)
        .args(["--format", "sft", "--out", out.to_str().unwrap()])
        .env_remove("LOUPE_STORE")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no store at"));
    assert!(!nowhere.exists() && !out.exists());

    // A run nobody rated has no preference pairs: refused before the folder is made.
    let unrated = {
        let store = loupe::store::Store::open(&fx.store).unwrap();
        let session = loupe::session::load(&fx.session).unwrap();
        let plan = common::planned::plan(&session, &store);
        common::planned::complete(&store, &plan, |cell| {
            common::planned::answer(cell, "{\"risk\":\"low\"}".into(), Vec::new())
        })
        .id
    };
    let r = export(
        &fx,
        &[
            "--format",
            "dpo",
            "--run",
            &unrated,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no ratings"));
    assert!(!out.exists(), "no empty folder left");
}

#[test]
fn an_empty_split_is_not_written_and_the_summary_says_why() {
    let fx = build();
    let out = out_dir(&fx, "tiny-valid");
    let o = out.to_str().unwrap();
    let r = export(&fx, &["--format", "sft", "--out", o, "--valid", "0.0001"]);
    ok(&r);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!out.join("sft.valid.jsonl").exists(), "{err}");
    assert!(out.join("sft.train.jsonl").exists());
    assert!(
        err.contains("note: sft.valid.jsonl not written: the split is empty"),
        "{err}"
    );
    let m = manifest(&out, "sft");
    assert_eq!(m["counts"]["valid"], 0);
    assert!(
        m["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("sft.valid.jsonl not written")),
        "{m}"
    );
    assert!(
        !m["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "sft.valid.jsonl")
    );
    audit(&out, &m, true);

    // Formats without a split do not report one.
    let r = export(&fx, &["--format", "raw", "--out", o]);
    ok(&r);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("raw: ") && !err.contains("train,"), "{err}");
}
