//! `loupe ratings --format stats` piped into `loupe stats` (the real binary both times)
//! gives exactly the owner's view's statistics; agreement figures carry their n and left-out
//! gold ratings are counted.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use loupe::rating::open_rater;
use loupe::store::{RatingRecord, Store, Winner};

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn ratings_feed_stats_and_agree_with_the_owners_view() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 6, 2, &[(0, "plain")]);
    let session = loupe::session::load(&session_path).unwrap();
    {
        let store = Store::open(&store_dir).unwrap();
        for (r, rater) in ["ana", "bo"].iter().enumerate() {
            let opened = open_rater(&store, &session, rater, None).unwrap();
            for (i, item) in opened.items.iter().enumerate() {
                let a = &item.assignment;
                let winner = match (i + r) % 4 {
                    0 | 1 => Winner::A,
                    2 => Winner::B,
                    _ => Winner::Tie,
                };
                let mut scores = BTreeMap::new();
                let score = u8::try_from(1 + (i + r) % 5).unwrap();
                for v in [&a.comparison.a, &a.comparison.b] {
                    scores.insert(v.clone(), BTreeMap::from([("clarity".to_owned(), score)]));
                }
                store
                    .put_rating(&RatingRecord {
                        scores,
                        elapsed_ms: 900,
                        at_ms: 1_000 + i as u64,
                        ..common::rating::verdict(&session.file.name, rater, a, winner, 0)
                    })
                    .unwrap();
            }
        }
    }
    let ratings = Command::new(LOUPE)
        .args(["--store", store_dir.to_str().unwrap(), "ratings"])
        .arg(&session_path)
        .args(["--format", "stats"])
        .output()
        .unwrap();
    assert!(ratings.status.success(), "{ratings:?}");
    let note = String::from_utf8_lossy(&ratings.stderr);
    assert!(note.contains("2 of"), "{note}");
    assert!(note.contains("gold items and left out"), "{note}");

    let mut stats = Command::new(LOUPE)
        .args(["stats", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    stats
        .stdin
        .take()
        .unwrap()
        .write_all(&ratings.stdout)
        .unwrap();
    let stats = stats.wait_with_output().unwrap();
    assert!(stats.status.success(), "{stats:?}");
    let from_cli: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();

    let store = Store::open(&store_dir).unwrap();
    let owner = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    let owner_json = serde_json::to_value(&owner.stats).unwrap();
    assert!(same(&owner_json, &from_cli), "{owner_json}\n{from_cli}");
    assert!(from_cli["ranking"]["variants"][0]["interval"]["low"].is_number());
    // Each pair carries the anytime-valid test next to the fixed-sample one.
    for pair in from_cli["pairs"].as_array().unwrap() {
        assert!(pair["sequential"]["may_stop"].is_boolean(), "{pair}");
        assert!(
            pair["sequential"]["holm_p"].as_f64().unwrap()
                >= pair["sequential"]["p"].as_f64().unwrap()
        );
    }

    let lines = loupe::tui::screens::owner::state::owner_lines(&owner).join("\n");
    // Every agreement figure says how many units it rests on.
    let fleiss: Vec<&str> = lines.lines().filter(|l| l.contains("Fleiss κ")).collect();
    assert!(fleiss.len() >= 2, "{lines}");
    for l in fleiss {
        let alphas = l.matches("(ordinal)").count();
        assert_eq!(l.matches("(n ").count(), 1 + alphas, "{l}");
    }
    assert!(
        lines.contains("fixed p ") && lines.contains("sequential (anytime-valid): e-value"),
        "{lines}"
    );
    assert!(
        lines.contains(&format!(
            "from {} ratings; 2 gold ratings left out",
            owner.ratings - 2
        )),
        "{lines}"
    );
}

#[test]
fn a_ratings_jsonl_row_fed_to_stats_says_which_format_to_use() {
    let mut stats = Command::new(LOUPE)
        .args(["stats", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let row = r#"{"session":"s","rater":"ana","comparison":"r/c#0/x~y","run_id":"r","case_id":"c","repeat":0,"a":"x","b":"y","left":"x","right":"y","winner":"a","preferred":"x","gold":false,"scores":{"x":{"clarity":4}},"note":null,"elapsed_ms":1,"at_ms":1,"at":""}"#;
    stats
        .stdin
        .take()
        .unwrap()
        .write_all(row.as_bytes())
        .unwrap();
    let out = stats.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("<stdin>:1:"), "{err}");
    assert!(err.contains("--format stats"), "{err}");
}

/// Equal JSON, numbers to the last few bits (`serde_json` parses floats to within an ulp).
fn same(x: &serde_json::Value, y: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (x, y) {
        (V::Number(a), V::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            (a - b).abs() <= 1e-12 * a.abs().max(1.0)
        }
        (V::Array(a), V::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (V::Object(a), V::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => x == y,
    }
}

/// `loupe report` counts the raters' failure labels per variant, with rates and Wilson
/// intervals, exactly as the owner's view counts them (gold items aside).
#[test]
fn report_counts_failure_labels_per_variant_like_the_owners_view() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 6, 1, &[(0, "plain")]);
    let session = loupe::session::load(&session_path).unwrap();
    let run_id;
    {
        let store = Store::open(&store_dir).unwrap();
        let opened = open_rater(&store, &session, "ana", None).unwrap();
        run_id = opened.record.run_id.clone();
        let mut hallucinated = 0;
        let mut wrong_units_given = false;
        for (i, item) in opened.items.iter().enumerate() {
            let a = &item.assignment;
            let mut labels = BTreeMap::new();
            // Every regular comparison with `grounded` in it labels grounded as
            // hallucinating; the gold item labels too, and must not count.
            let grounded = a.comparison.a == "grounded" || a.comparison.b == "grounded";
            if grounded {
                labels.insert("grounded".to_owned(), vec!["hallucination".to_owned()]);
                hallucinated += usize::from(!a.gold);
            }
            // One regular comparison also gets a session label (not a gold item: the
            // shuffled queue may put that first, and gold items do not count).
            if !a.gold && !wrong_units_given {
                wrong_units_given = true;
                labels
                    .entry("grounded".to_owned())
                    .or_insert_with(Vec::new)
                    .push("wrong_units".to_owned());
            }
            store
                .put_rating(&RatingRecord {
                    labels,
                    elapsed_ms: 900,
                    at_ms: 1_000 + i as u64,
                    ..common::rating::verdict(&session.file.name, "ana", a, Winner::A, 0)
                })
                .unwrap();
        }
        assert!(hallucinated > 0);
    }
    let report = |format: &str| {
        let out = Command::new(LOUPE)
            .args(["--store", store_dir.to_str().unwrap(), "report", &run_id])
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    let table = report("table");
    let store = Store::open(&store_dir).unwrap();
    let owner = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    let owner_labels = serde_json::to_value(&owner.labels).unwrap();
    assert!(
        same(&json["labels"], &owner_labels),
        "{json}\n{owner_labels}"
    );
    let grounded = json["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["variant"] == "grounded" && l["label"] == "hallucination")
        .unwrap();
    let rated = grounded["rated"].as_u64().unwrap();
    assert_eq!(
        grounded["count"], rated,
        "every grounded rating: {grounded}"
    );
    assert!(grounded["rate"]["low"].as_f64().unwrap() > 0.0);
    // The built-in labels are listed for every rated variant, zeros included.
    assert!(
        json["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| { l["variant"] == "plain" && l["label"] == "off_task" && l["count"] == 0 })
    );

    let expected = loupe::rating::labels::lines(&owner.labels).unwrap();
    assert!(table.contains("failure labels"), "{table}");
    for line in &expected {
        assert!(table.contains(line.as_str()), "{line}\n{table}");
    }
    assert!(table.contains("wrong_units 1/"), "{table}");
    assert!(
        table.contains(&format!("hallucination {rated}/{rated} 100%")),
        "{table}"
    );
}
