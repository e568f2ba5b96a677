//! Failure-mode labels through the real rating screen in a real terminal (tmux, a private
//! socket): a labelled rating is on disk the moment the screen says saved (SIGKILL right
//! after it loses nothing), and the labels reach `loupe ratings`, the owner's view, the
//! `rubric` and `raw` exports, and `sft --exclude-label`.

#![allow(clippy::unwrap_used)]

mod common;

use common::cli::loupe_store as loupe;
use common::tmux::{Tmux, open_after_kill};
use loupe::store::Store;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn a_labelled_rating_survives_sigkill_and_reaches_ratings_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    // One case, k = 1: two comparisons (plain/grounded, grounded/tuned).
    let (session, store_dir) = common::rating::setup(dir.path(), 1, 1, &[]);
    let tmux = Tmux::new();
    let line = format!(
        "{LOUPE} --store {} rate {} --rater ana",
        store_dir.display(),
        session.display()
    );
    let pid = tmux.start("r", 100, 30, &line);
    tmux.wait_for("r", "the queue", |s| s.contains("0/2 rated"));
    // `[` opens the left output's labels, `1` gives hallucination, enter closes; `]`, `4`
    // gives the right one `unsafe`; `453` scores the left; `h`: left is better.
    tmux.send("r", "[1");
    tmux.wait_for("r", "the label picker", |s| {
        s.contains("Labels of the left output") && s.contains("[✓] hallucination")
    });
    tmux.send("r", "\r]4\r453h");
    tmux.wait_for("r", "the labelled rating saved", |s| {
        s.contains("1/2 rated") && s.contains("saved")
    });
    tmux.kill9("r", pid);

    let store = open_after_kill(&store_dir);
    let ratings: Vec<_> = store
        .ratings("rate-test")
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ratings.len(), 1);
    let r = &ratings[0];
    let right = r.comparison.other(&r.left).to_owned();
    assert_eq!(r.labels[&r.left], ["hallucination"]);
    assert_eq!(r.labels[&right], ["unsafe"]);
    assert_eq!(r.preferred(), Some(r.left.as_str()));
    let (left, rated_pair) = (r.left.clone(), r.comparison.clone());
    drop(store);

    // `loupe ratings`: JSONL and CSV carry the labels.
    let out = loupe(&store_dir, &["ratings", session.to_str().unwrap()]);
    assert!(out.status.success());
    let row: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(row["labels"][&left], serde_json::json!(["hallucination"]));
    let out = loupe(
        &store_dir,
        &["ratings", session.to_str().unwrap(), "--format", "csv"],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.lines().next().unwrap().ends_with("a_labels,b_labels"),
        "{csv}"
    );
    assert!(
        csv.contains("hallucination") && csv.contains("unsafe"),
        "{csv}"
    );

    // The owner's view counts them per variant with a rate and interval.
    let store = Store::open(&store_dir).unwrap();
    let session_loaded = loupe::session::load(&session).unwrap();
    let report = loupe::tui::screens::rate::host::owner_report(&store, &session_loaded).unwrap();
    let count = report
        .labels
        .iter()
        .find(|l| l.variant == left && l.label == "hallucination")
        .unwrap();
    assert_eq!((count.count, count.rated), (1, 1));
    assert_eq!(count.rate.estimate, Some(1.0));
    assert!(count.rate.low > 0.0 && count.rate.low < 1.0);
    let lines = loupe::tui::screens::owner::state::owner_lines(&report).join("\n");
    assert!(
        lines.contains(&format!("{left}: hallucination 1/1 100%")),
        "{lines}"
    );
    drop(store);

    let export = |format: &str, extra: &[&str]| -> (serde_json::Value, std::path::PathBuf) {
        let out_dir = dir.path().join(format!("x-{format}-{}", extra.len()));
        let mut args = vec![
            "export",
            session.to_str().unwrap(),
            "--format",
            format,
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = loupe(&store_dir, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = std::fs::read_to_string(out_dir.join(format!("{format}.manifest.json"))).unwrap();
        (serde_json::from_str(&m).unwrap(), out_dir)
    };
    let lines_of = |path: std::path::PathBuf| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // rubric: the left output's row says which labels the rater gave it.
    let (_, out) = export("rubric", &[]);
    let rubric = lines_of(out.join("rubric.jsonl"));
    assert_eq!(rubric.len(), 1);
    assert_eq!(rubric[0]["labels"], serde_json::json!(["hallucination"]));
    // raw: every output, the labelled ones with their label counts.
    let (_, out) = export("raw", &[]);
    let raw = lines_of(out.join("raw.jsonl"));
    let labelled: Vec<&serde_json::Value> =
        raw.iter().filter(|r| r.get("labels").is_some()).collect();
    assert_eq!(labelled.len(), 2, "{raw:?}");
    let of_left = labelled
        .iter()
        .find(|r| r["variant"] == left.as_str() && r["case_id"] == rated_pair.case_id.as_str())
        .unwrap();
    assert_eq!(of_left["labels"]["hallucination"], 1);
    // sft: without the filter the winning left output is a row; with it, it is dropped.
    let (plain, _) = export("sft", &["--valid", "0"]);
    let (filtered, _) = export("sft", &["--valid", "0", "--exclude-label", "hallucination"]);
    assert_eq!(
        filtered["counts"]["rows_out"].as_u64().unwrap() + 1,
        plain["counts"]["rows_out"].as_u64().unwrap()
    );
    assert_eq!(filtered["counts"]["dropped"]["excluded_label"], 1);
    assert_eq!(
        filtered["filters"]["exclude_labels"],
        serde_json::json!(["hallucination"])
    );
    // A label the session does not know is a usage error, exit 2.
    let o = loupe(
        &store_dir,
        &[
            "export",
            session.to_str().unwrap(),
            "--format",
            "sft",
            "--out",
            dir.path().join("bad").to_str().unwrap(),
            "--exclude-label",
            "halucination",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a label of session"));
}
