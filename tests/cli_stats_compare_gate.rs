//! `loupe compare`, `loupe gate` and `loupe stats` through the real binary: exit codes
//! 0 (answered, gate passed), 1 (gate not passed) and 2 (bad input, with what and where).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{assert_refused, loupe_store as loupe, stderr, stdout};
use common::mock_judge;
use serde_json::Value;

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// `loupe --store STORE ARGS` answered (exit 0): its JSON.
fn answered(store: &Path, args: &[&str]) -> Value {
    let out = loupe(store, args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json(&out)
}

/// `loupe --store STORE ARGS` refused as bad input: exit 2, and standard error says `what`.
fn refused(store: &Path, args: &[&str], what: &str) {
    assert_refused(&loupe(store, args), &[what]);
}

#[test]
fn compare_and_gate_a_judged_run() {
    let server = mock_judge::start_in_thread();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        "agree-1", "agree-2", "agree-3", "agree-4", "agree-5", "agree-6", "bias-1", "tie-1",
    ];
    let session = mock_judge::write_session(dir.path(), &server.base_url(), &cases);
    // The judge may decide a gate once it agrees with people on all eight comparisons.
    let mut yaml = std::fs::read_to_string(&session).unwrap();
    yaml.push_str("judge: { min_human_kappa: 0.6, min_overlap: 8 }\n");
    std::fs::write(&session, yaml).unwrap();
    let store = dir.path().join("store");

    let run = loupe(&store, &["run", session.to_str().unwrap()]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let run_id = stdout(&run).trim().to_owned();

    // By checks (pass-all): good passes `contains good-output` on every case, bad on none.
    let h = answered(
        &store,
        &["compare", &run_id, "good", "bad", "--format", "json"],
    );
    assert_eq!(h["by"], "pass_all");
    assert_eq!(
        (h["wins"].as_u64(), h["ties"].as_u64(), h["losses"].as_u64()),
        (Some(8), Some(0), Some(0))
    );
    // scipy.stats.binomtest(8, 8, 0.5).pvalue == 2 / 256
    assert!((h["sign_test_p"].as_f64().unwrap() - 0.007_812_5).abs() < 1e-12);
    assert_eq!(h["mean_difference"]["estimate"], 1.0);
    assert_eq!(h["per_case"].as_array().unwrap().len(), 8);

    // By the judge: six agreed wins; position bias and a tie are ties.
    let h = answered(
        &store,
        &[
            "compare", &run_id, "bad", "good", "--by", "judge", "--format", "json",
        ],
    );
    assert_eq!(h["by"], "judge judge@referee");
    assert_eq!(
        (h["wins"].as_u64(), h["ties"].as_u64(), h["losses"].as_u64()),
        (Some(0), Some(2), Some(6))
    );
    assert_eq!(h["win_rate"]["estimate"], 0.0);
    // scipy.stats.binomtest(0, 6, 0.5).pvalue == 2 / 64
    assert!((h["sign_test_p"].as_f64().unwrap() - 0.031_25).abs() < 1e-12);
    assert!(
        h["notes"][0].as_str().unwrap().contains("agreed on 7 of 8"),
        "{}",
        h["notes"]
    );

    // The table says how ties are handled.
    let out = loupe(
        &store,
        &["compare", &run_id, "good", "bad", "--by", "judge"],
    );
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("ties excluded"), "{text}");
    assert!(
        text.contains("good vs bad by judge judge@referee (8 cases)"),
        "{text}"
    );

    // A named check's score.
    let h = answered(
        &store,
        &[
            "compare", &run_id, "good", "bad", "--check", "contains", "--format", "json",
        ],
    );
    assert_eq!(h["by"], "check contains \"good-output\"");

    // Bad input: exit 2, saying what was wrong.
    refused(
        &store,
        &["compare", "no-such-run", "good", "bad"],
        "no run no-such-run",
    );
    refused(
        &store,
        &["compare", &run_id, "good", "nope"],
        "no variant \"nope\" (it has: good, bad)",
    );
    refused(
        &store,
        &["compare", &run_id, "good", "bad", "--check", "bleu"],
        "has a check named \"bleu\" (checks: contains \"good-output\")",
    );
    refused(
        &store,
        &[
            "compare", &run_id, "good", "bad", "--by", "judge", "--judge", "x@y",
        ],
        "no judge \"x@y\" (it has: judge@referee)",
    );

    // The gate: the worse variant does not pass (exit 1) and records nothing.
    let out = loupe(
        &store,
        &["gate", &run_id, "--candidate", "bad", "--baseline", "good"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gate: bad does not pass against good"),
        "{}",
        stdout(&out)
    );
    let list = loupe(&store, &["gate", "--list", "--format", "json"]);
    assert_eq!(json(&list), Value::Array(Vec::new()));

    // Too big an effect asked for: no pass either.
    let good_over_bad = ["gate", &run_id, "--candidate", "good", "--baseline", "bad"];
    let out = loupe(
        &store,
        &[&good_over_bad[..], &["--min-effect", "1.5"]].concat(),
    );
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("[FAIL] mean difference")
            && stdout(&out).contains("< min effect 1.5"),
        "{}",
        stdout(&out)
    );
    // Each criterion says whether it held: the others did.
    assert!(
        stdout(&out).contains("[pass] sign test (fixed-sample) p ="),
        "{}",
        stdout(&out)
    );

    let gate_by_judge = [&good_over_bad[..], &["--by", "judge"]].concat();
    // Not yet calibrated against people: refused, saying how many ratings are needed.
    let out = loupe(&store, &gate_by_judge);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out)
            .contains("0 comparison(s) of this run are both judged and human-rated, 8 are needed")
            && stderr(&out).contains("rate 8 more"),
        "{}",
        stderr(&out)
    );
    // People who disagree with the judge: refused, with the kappa.
    human_ratings(&store, &run_id, &cases, true, 1);
    let out = loupe(&store, &gate_by_judge);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("agrees with people too little") && stderr(&out).contains("below"),
        "{}",
        stderr(&out)
    );
    // The same rater's later verdicts agree with it (agree-* good, bias and tie even).
    human_ratings(&store, &run_id, &cases, false, 2);

    // The better one passes by the judge and a frozen release is recorded.
    let out = loupe(
        &store,
        &[&gate_by_judge[..], &["--format", "json"]].concat(),
    );
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let g = json(&out);
    assert_eq!(g["decision"]["passed"], true);
    let release = g["release"].as_str().unwrap().to_owned();
    assert!(release.starts_with("rel-"));

    let list = json(&loupe(&store, &["gate", "--list", "--format", "json"]));
    let releases = list.as_array().unwrap();
    assert_eq!(releases.len(), 1);
    let r = &releases[0];
    assert_eq!(r["id"], release.as_str());
    assert_eq!(r["run_id"], run_id.as_str());
    assert_eq!(
        (r["variant"].as_str(), r["baseline"].as_str()),
        (Some("good"), Some("bad"))
    );
    assert_eq!(r["template"], "good");
    assert_eq!(r["template_version"].as_str().unwrap().len(), 64);
    assert_eq!(r["template_content"]["user"], "style:good {{ text }}");
    assert_eq!(r["model"]["model"], "mock");
    assert_eq!(r["evidence"]["head_to_head"]["wins"], 6);
    assert_eq!(r["evidence"]["decision"]["passed"], true);
    // The owner's view as JSON says the same about the judge.
    let owner = json(&loupe(
        &store,
        &["ratings", session.to_str().unwrap(), "--format", "owner"],
    ));
    assert_eq!(owner["judges"][0]["kappa"], 1.0, "{owner}");
    assert_eq!(owner["judges"][0]["overlap"], 8);
    let calibration = &r["evidence"]["judge_calibration"];
    assert_eq!(calibration["overlap"], 8, "{calibration}");
    assert_eq!(calibration["kappa"], 1.0, "{calibration}");
    assert_eq!(calibration["judge"], "judge@referee");
    // bias-1's orders disagree: 7 of 8 consistent.
    assert_eq!(
        (
            calibration["consistent"].as_u64(),
            calibration["judged"].as_u64()
        ),
        (Some(7), Some(8))
    );

    let table = loupe(&store, &["gate", "--list"]);
    assert_eq!(code(&table), 0);
    assert!(stdout(&table).contains(&release));

    // Gate usage errors.
    let out = loupe(&store, &["gate", &run_id, "--candidate", "good"]);
    assert_eq!(code(&out), 2, "missing --baseline is a usage error");
    refused(
        &store,
        &["gate", &run_id, "--candidate", "good", "--baseline", "zz"],
        "no variant \"zz\"",
    );
}

#[test]
fn stats_reads_verdicts_and_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("verdicts.jsonl");
    let mut lines = String::new();
    for (i, (rater, winner)) in [("ana", "a"), ("ben", "a"), ("ana", "b"), ("ben", "tie")]
        .iter()
        .enumerate()
    {
        lines.push_str(&format!(
            "{{\"rater\": \"{rater}\", \"item\": \"case-{}\", \"a\": \"prompt\", \"b\": \"prompt+rag\", \"winner\": \"{winner}\"}}\n",
            i / 2
        ));
    }
    lines.push_str(
        r#"{"rater": "ana", "item": "case-9", "a": "prompt+rag", "b": "tuned", "winner": "both_bad", "scores": {"a": {"clarity": 4}, "b": {"clarity": 2}}}"#,
    );
    lines.push('\n');
    std::fs::write(&file, &lines).unwrap();

    let s = answered(
        &store,
        &["stats", file.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(s["verdicts"], 5);
    assert_eq!(
        s["variants"],
        serde_json::json!(["prompt", "prompt+rag", "tuned"])
    );
    let pair = &s["pairs"][0];
    assert_eq!(
        (pair["first"].as_str(), pair["second"].as_str()),
        (Some("prompt"), Some("prompt+rag"))
    );
    assert_eq!(
        (
            pair["first_wins"].as_u64(),
            pair["second_wins"].as_u64(),
            pair["ties"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(s["ranking"]["model"], "bradley_terry_davidson");
    assert_eq!(s["agreement"]["cohen"][0]["rater_1"], "ana");
    assert!(s["agreement"]["fleiss"].is_object());

    let out = loupe(&store, &["stats", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(
        text.contains("Pairs") && text.contains("Ranking") && text.contains("Agreement"),
        "{text}"
    );

    // Bad input: file and line named, exit 2.
    std::fs::write(&file, format!("{lines}\n{{\"rater\": \"ana\", \"item\": \"x\", \"a\": \"p\", \"b\": \"q\", \"winner\": \"left\"}}\n")).unwrap();
    refused(
        &store,
        &["stats", file.to_str().unwrap()],
        "verdicts.jsonl:7: unknown winner \"left\", expected a, b, tie or both_bad",
    );
    std::fs::write(&file, "{\"rater\": \"ana\",\n").unwrap();
    refused(
        &store,
        &["stats", file.to_str().unwrap()],
        "verdicts.jsonl:1: invalid JSON",
    );
    refused(
        &store,
        &["stats", dir.path().join("missing.jsonl").to_str().unwrap()],
        "cannot open",
    );
    refused(
        &store,
        &["stats", file.to_str().unwrap(), "--alpha", "2"],
        "--alpha",
    );
}

/// Ratings by `ana` of every comparison of `run` (good/bad): `against` prefers bad on every
/// case; otherwise good on `agree-*` and a tie elsewhere, as the judge says.
fn human_ratings(store: &Path, run: &str, cases: &[&str], against: bool, at: u64) {
    use common::rating::{comparison, rating};
    use loupe::store::{RatingRecord, Store, Winner};
    let store = Store::open(store).unwrap();
    for (i, case) in cases.iter().enumerate() {
        let winner = match (against, case.starts_with("agree")) {
            (true, _) => Winner::B,
            (false, true) => Winner::A,
            (false, false) => Winner::Tie,
        };
        store
            .put_rating(&RatingRecord {
                elapsed_ms: 1,
                at_ms: at * 1000 + i as u64,
                ..rating(
                    "judged",
                    "ana",
                    comparison(run, case, "good", "bad"),
                    "good",
                    winner,
                )
            })
            .unwrap();
    }
}
