//! The real binary in a real terminal (tmux): ratings survive SIGKILL, two raters take
//! turns and `loupe ratings` shows both, a second process finds the store held and exits 2,
//! and the owner's figures agree with the statistics functions.
//!
//! Waits poll `capture-pane` every 20 ms up to `LOUPE_TEST_WAIT_MS` (default 15000).

#![allow(clippy::unwrap_used)]
// The owner's figures must be the statistics functions' own numbers, bit for bit.
#![allow(clippy::float_cmp)]

mod common;

use common::cli::export_manifest;
use common::tmux::{Tmux, open_after_kill, shell_line};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};

use loupe::eval::stats;
use loupe::rating::rows::RatingRow;
use loupe::store::Store;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn the_tmux_harness_leaves_no_server_or_socket_behind() {
    let tmux = Tmux::new();
    tmux.start("idle", 80, 24, "sleep 30");
    let socket = tmux.socket.clone();
    assert!(socket.exists());
    drop(tmux);
    assert!(!socket.exists(), "socket left at {}", socket.display());
}

fn rate_argv(session: &Path, store: &Path, rater: &str) -> Vec<String> {
    vec![
        LOUPE.to_owned(),
        "--store".into(),
        store.display().to_string(),
        "rate".into(),
        session.display().to_string(),
        "--rater".into(),
        rater.into(),
    ]
}

#[test]
fn acknowledged_ratings_survive_sigkill() {
    const REPETITIONS: usize = 50;
    const CASES: usize = 4;
    let total = CASES * 2;
    let dir = tempfile::tempdir().unwrap();
    // k is large so that every rater gets every comparison.
    let (session, store_dir) = common::rating::setup(dir.path(), CASES, 1000, &[]);
    let seed: u64 = std::env::var("LOUPE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("LOUPE_TEST_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmux = Tmux::new();
    let started = Instant::now();
    for rep in 0..REPETITIONS {
        let rater = format!("r{rep}");
        let name = format!("k{rep}");
        let pid = tmux.start(
            &name,
            80,
            24,
            &shell_line(&rate_argv(&session, &store_dir, &rater)),
        );
        tmux.wait_for(&name, "the queue", |s| {
            s.contains(&format!("0/{total} rated"))
        });
        let n = rng.random_range(1..=total);
        // Verdicts, some with rubric scores or a note, typed in one go: the screen holds
        // the keys typed during a write and replays them after it.
        let mut keys = String::new();
        for _ in 0..n {
            match rng.random_range(0..6) {
                0 => keys.push_str("453"),
                1 => keys.push_str("123412"),
                2 => keys.push_str("nok\r"),
                _ => {}
            }
            keys.push(['h', 'l', 't', 'x'][rng.random_range(0..4)]);
        }
        tmux.send(&name, &keys);
        let acked = format!("{n}/{total} rated");
        tmux.wait_for(&name, &acked, |s| s.contains(&acked) && s.contains("saved"));
        // Half the time one more verdict is on its way when the kill comes.
        let extra = n < total && rng.random_bool(0.5);
        if extra {
            tmux.send(&name, "t");
        }
        tmux.kill9(&name, pid);
        let store = open_after_kill(&store_dir);
        let ratings: Vec<_> = store
            .ratings_by("rate-test", &rater)
            .collect::<Result<_, _>>()
            .unwrap();
        let got = ratings.len();
        assert!(
            got == n || (extra && got == n + 1),
            "repetition {rep}: {n} acknowledged (extra {extra}), {got} in the store"
        );
        let distinct: std::collections::HashSet<_> =
            ratings.iter().map(|r| &r.comparison).collect();
        assert_eq!(distinct.len(), got);
        drop(store);
    }
    eprintln!("{REPETITIONS} kills in {:?}", started.elapsed());
}

/// Demo-session outputs with a marker per variant, so a test rater can tell them apart
/// on screen (the markers say nothing to a person).
fn marker(variant: &str) -> &'static str {
    match variant {
        "zero-shot" => "QQZ",
        "few-shot" => "QQF",
        _ => "QQS",
    }
}

/// Rates every comparison on screen as `prefer` says, given the two markers (left, right).
fn rate_all(tmux: &Tmux, name: &str, total: usize, prefer: &dyn Fn(usize, &str, &str) -> char) {
    for i in 0..total {
        let progress = format!("{i}/{total} rated");
        let screen = tmux.wait_for(name, &progress, |s| s.contains(&progress));
        let mut found: Vec<(usize, &str)> = ["QQZ", "QQF", "QQS"]
            .iter()
            .filter_map(|m| screen.find(m).map(|at| (at, *m)))
            .collect();
        found.sort_unstable();
        assert_eq!(found.len(), 2, "two outputs on screen:\n{screen}");
        let key = prefer(i, found[0].1, found[1].1);
        let keys = if i % 3 == 0 {
            format!("344{}{key}", if key == 'h' { "222" } else { "455" })
        } else {
            key.to_string()
        };
        tmux.send(name, &keys);
    }
    let done = format!("{total}/{total} rated");
    tmux.wait_for(name, &done, |s| s.contains(&done) && s.contains("saved"));
}

fn rank(m: &str) -> u8 {
    match m {
        "QQZ" => 0,
        "QQF" => 1,
        _ => 2,
    }
}

#[test]
fn two_raters_take_turns_and_ratings_lists_both() {
    let dir = tempfile::tempdir().unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sessions/demo.yaml");
    let session = loupe::session::load(&demo).unwrap();
    let store_dir = dir.path().join("store");
    {
        let store = Store::open(&store_dir).unwrap();
        let run = common::rating::complete_run(&store, &session);
        // Replace the texts with marked ones.
        for o in store
            .outputs(&run.id)
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
        {
            let mut o = o;
            o.text = format!(
                "{} {}: {{\"risk\": \"low\"}} from smollm2-135m",
                marker(&o.variant),
                o.case_id
            );
            store.put_output(&o).unwrap();
        }
        store.flush().unwrap();
    }
    let pairs = session.file.rating.as_ref().map_or(0, |r| r.pairs.len());
    let total = session.cases.len() * pairs;
    let tmux = Tmux::new();

    // ana always prefers the later variant of the demo's order (few-shot over zero-shot,
    // strict, prompt+rag and fine-tuned over few-shot).
    tmux.start(
        "ana",
        80,
        24,
        &shell_line(&rate_argv(&demo, &store_dir, "ana")),
    );
    tmux.wait_for("ana", "ana's queue", |s| {
        s.contains(&format!("0/{total} rated"))
    });
    let screen = tmux.capture("ana");
    assert!(screen.contains("[masked]") && !screen.contains("smollm2"));

    // While ana holds the store, another rater's process says who holds it, exit 2.
    let second = Command::new(LOUPE)
        .args(["--store", store_dir.to_str().unwrap(), "rate"])
        .arg(&demo)
        .args(["--rater", "bo"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains("in use by process") && err.contains("--rater ana"),
        "{err}"
    );

    let ana = |_: usize, l: &str, r: &str| if rank(l) > rank(r) { 'h' } else { 'l' };
    rate_all(&tmux, "ana", total, &ana);
    tmux.send("ana", "q");
    tmux.wait_dead("ana");

    // bo agrees except on every fifth comparison, which bo calls a tie.
    tmux.start(
        "bo",
        80,
        24,
        &shell_line(&rate_argv(&demo, &store_dir, "bo")),
    );
    let bo = |i: usize, l: &str, r: &str| {
        if i % 5 == 4 {
            't'
        } else if rank(l) > rank(r) {
            'h'
        } else {
            'l'
        }
    };
    rate_all(&tmux, "bo", total, &bo);
    tmux.send("bo", "q");
    tmux.wait_dead("bo");

    let run = |format: &str| {
        let out = Command::new(LOUPE)
            .args(["--store", store_dir.to_str().unwrap(), "ratings"])
            .arg(&demo)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = run("csv");
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("session,rater,comparison,run_id,case_id,repeat,a,b,left,right,winner")
    );
    assert!(
        header
            .ends_with("a_clarity,a_accuracy,a_tone,b_clarity,b_accuracy,b_tone,a_labels,b_labels")
    );
    assert_eq!(lines.clone().count(), 2 * total);
    assert_eq!(lines.clone().filter(|l| l.contains(",ana,")).count(), total);
    assert_eq!(lines.filter(|l| l.contains(",bo,")).count(), total);
    let rows: Vec<RatingRow> = run("jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            RatingRow {
                session: v["session"].as_str().unwrap().into(),
                rater: v["rater"].as_str().unwrap().into(),
                comparison: v["comparison"].as_str().unwrap().into(),
                run_id: v["run_id"].as_str().unwrap().into(),
                case_id: v["case_id"].as_str().unwrap().into(),
                repeat: 0,
                a: v["a"].as_str().unwrap().into(),
                b: v["b"].as_str().unwrap().into(),
                left: v["left"].as_str().unwrap().into(),
                right: v["right"].as_str().unwrap().into(),
                winner: serde_json::from_value(v["winner"].clone()).unwrap(),
                preferred: v["preferred"].as_str().map(str::to_owned),
                gold: false,
                scores: serde_json::from_value(v["scores"].clone()).unwrap(),
                note: None,
                labels: std::collections::BTreeMap::new(),
                elapsed_ms: v["elapsed_ms"].as_u64().unwrap(),
                at_ms: v["at_ms"].as_u64().unwrap(),
                at: v["at"].as_str().unwrap().into(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 2 * total);
    // ana's verdicts follow her rule exactly, whatever the placement.
    for r in rows.iter().filter(|r| r.rater == "ana") {
        // Every rating pair of the demo is [earlier, later]: the later one is `b`.
        assert_eq!(r.preferred.as_deref(), Some(r.b.as_str()), "{r:?}");
    }

    // The owner's view, from the store, checked against the statistics functions.
    let store = Store::open(&store_dir).unwrap();
    let report = loupe::tui::screens::rate::host::owner_report(&store, &session).unwrap();
    assert_eq!(report.ratings, 2 * total);
    for p in &report.raters {
        assert_eq!((p.done, p.assigned), (total, total), "{p:?}");
    }
    let st = &report.stats;
    assert_eq!(st.agreement.units, total);
    // Categories per unit (case, pair): 0 first wins, 1 second wins, 2 tie.
    let mut units: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let (mut left_wins, mut decisive) = (0u64, 0u64);
    for r in &rows {
        let (first, second) = if r.a < r.b {
            (&r.a, &r.b)
        } else {
            (&r.b, &r.a)
        };
        let cat = match r.preferred.as_deref() {
            Some(p) if p == first => 0,
            Some(_) => 1,
            None => 2,
        };
        units
            .entry((r.case_id.clone(), format!("{first}~{second}")))
            .or_default()
            .insert(r.rater.clone(), cat);
        let e = pairs.entry((first.clone(), second.clone())).or_default();
        match cat {
            0 => e.0 += 1,
            1 => e.1 += 1,
            _ => {}
        }
        if let Some(p) = &r.preferred {
            decisive += 1;
            left_wins += u64::from(*p == r.left);
        }
    }
    let table: Vec<[u64; 4]> = units
        .values()
        .map(|u| {
            let mut row = [0; 4];
            for c in u.values() {
                row[*c] += 1;
            }
            row
        })
        .collect();
    let fleiss = stats::fleiss_kappa(&table);
    assert_eq!(st.agreement.fleiss, fleiss);
    assert!(fleiss.kappa.unwrap() > 0.5, "{fleiss:?}");
    let mut cohen = [[0u64; 4]; 4];
    for u in units.values() {
        cohen[u["ana"]][u["bo"]] += 1;
    }
    assert_eq!(st.agreement.cohen[0].kappa, stats::cohens_kappa(&cohen));
    for p in &st.pairs {
        let (w, l) = pairs[&(p.first.clone(), p.second.clone())];
        assert_eq!((p.first_wins, p.second_wins), (w, l));
        assert_eq!(p.win_rate, stats::rate(w, w + l, 0.95));
        assert_eq!(p.sign_test_p, stats::sign_test(w, l));
        assert_eq!(
            p.more_judgements_needed,
            stats::judgements_needed(w, l, 0.05)
        );
    }
    assert_eq!(st.position_bias.a_wins, left_wins);
    assert_eq!(st.position_bias.decisive, decisive);
    assert_eq!(
        st.position_bias.rate,
        stats::rate(left_wins, decisive, 0.95)
    );
    let ranking = st.ranking.as_ref().unwrap();
    // strict, prompt+rag and fine-tuned all beat few-shot by the same rule, so any may
    // lead; zero-shot, which loses to few-shot, comes last.
    assert!(
        ["strict", "prompt+rag", "fine-tuned"].contains(&ranking.variants[0].name.as_str()),
        "{ranking:?}"
    );
    assert_eq!(
        ranking.variants.last().map(|v| v.name.as_str()),
        Some("zero-shot")
    );
    // Rubric agreement: a unit is one case's output of one variant (few-shot's output is
    // scored in both its pairs); each rater's latest clarity score of it counts.
    let mut by_output: BTreeMap<(String, String), BTreeMap<String, (u64, u8)>> = BTreeMap::new();
    for r in &rows {
        for (variant, scores) in &r.scores {
            if let Some(v) = scores.get("clarity") {
                let latest = by_output
                    .entry((r.case_id.clone(), variant.clone()))
                    .or_default()
                    .entry(r.rater.clone())
                    .or_insert((r.at_ms, *v));
                if r.at_ms >= latest.0 {
                    *latest = (r.at_ms, *v);
                }
            }
        }
    }
    let table: Vec<Vec<u64>> = by_output
        .values()
        .map(|v| {
            let mut row = vec![0u64; 5];
            for (_, s) in v.values() {
                row[usize::from(*s) - 1] += 1;
            }
            row
        })
        .collect();
    let dim = report
        .rubric_kappa
        .iter()
        .find(|d| d.dimension == "clarity")
        .unwrap();
    assert_eq!(dim.fleiss, stats::fleiss_kappa(&table));
    let text = loupe::tui::screens::owner::state::owner_lines(&report).join("\n");
    assert!(
        text.contains("Agreement on verdicts") && text.contains("Win rates"),
        "{text}"
    );
    drop(store);
    export_what_they_rated(&demo, &store_dir, dir.path(), total);
}

/// From ana's and bo's ratings of the demo session: SFT, both preference formats, rubric and
/// raw, with manifests that account for every row, and files Python `datasets` loads.
fn export_what_they_rated(demo: &Path, store_dir: &Path, dir: &Path, total: usize) {
    let out = dir.join("exports");
    let export = |format: &str| export_manifest(store_dir, demo, format, &out);
    let rows = |name: &str| -> Vec<serde_json::Value> {
        let path = out.join(name);
        if !path.exists() {
            return Vec::new();
        }
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let dropped = |m: &serde_json::Value| -> BTreeMap<String, u64> {
        serde_json::from_value(m["counts"]["dropped"].clone()).unwrap()
    };
    // Half the demo's cases are its evaluation split: their comparisons never leave.
    let session = loupe::session::load(demo).unwrap();
    let eval_cases = session
        .cases
        .iter()
        .filter(|c| c.split.as_deref() == Some("eval"))
        .count();
    assert!(eval_cases > 0);

    let m = export("dpo");
    assert_eq!(m["raters"], serde_json::json!(["ana", "bo"]));
    assert_eq!(
        m["filters"]["consensus"], 2,
        "the session's raters_per_comparison"
    );
    assert_eq!(m["counts"]["rows_in"], total);
    let d = dropped(&m);
    let pairs = session.file.rating.as_ref().map_or(0, |r| r.pairs.len());
    assert_eq!(d["eval_split"], (pairs * eval_cases) as u64, "{d:?}");
    // bo called every fifth comparison a tie: never a preference pair.
    assert!(d["tie"] > 0, "{d:?}");
    let out_rows = m["counts"]["rows_out"].as_u64().unwrap();
    assert_eq!(out_rows + d.values().sum::<u64>(), total as u64);
    let mut pairs = rows("dpo.train.jsonl");
    pairs.extend(rows("dpo.valid.jsonl"));
    assert_eq!(pairs.len() as u64, out_rows);
    assert!(out_rows > 0);
    for p in &pairs {
        // Both raters preferred the later variant of the demo's order, so that is chosen.
        let chosen = p["chosen"][0]["content"].as_str().unwrap();
        let rejected = p["rejected"][0]["content"].as_str().unwrap();
        let (c, r) = (&chosen[..3], &rejected[..3]);
        assert!(rank(c) > rank(r), "chosen {chosen:?} over {rejected:?}");
    }

    let m = export("openai-dpo");
    assert_eq!(m["counts"]["rows_out"], out_rows);

    let m = export("sft");
    assert_eq!(m["raters"], serde_json::json!(["ana", "bo"]));
    let d = dropped(&m);
    assert!(
        d["lost_comparison"] > 0,
        "zero-shot lost every decided pair: {d:?}"
    );
    let mut chat = rows("sft.train.jsonl");
    chat.extend(rows("sft.valid.jsonl"));
    assert!(!chat.is_empty());
    assert!(chat.iter().all(|r| {
        let last = r["messages"].as_array().unwrap().last().unwrap();
        last["role"] == "assistant" && !last["content"].as_str().unwrap().starts_with("QQZ")
    }));

    // The rubric scores ana and bo typed with their verdicts.
    let m = export("rubric");
    assert!(m["counts"]["rows_out"].as_u64().unwrap() > 0);
    export("raw");

    let Some(py) = common::consumers::python() else {
        println!("SKIPPED the datasets check: LOUPE_SKIP_PYTHON=1 and no venv");
        return;
    };
    let r = common::consumers::check(&py, &dir.join("hf-cache"), &out);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success() && stdout.contains("every export loads"),
        "check_exports.py:\n{stdout}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn rate_says_what_is_missing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let session = common::rating::write_session(dir.path(), 2, 2, &[]);
    let store_dir = dir.path().join("store");
    let rate = |rater: &str| {
        Command::new(LOUPE)
            .args(["--store", store_dir.to_str().unwrap(), "rate"])
            .arg(&session)
            .args(["--rater", rater])
            .output()
            .unwrap()
    };
    let out = rate("ana");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no complete run of session rate-test"),
        "{err}"
    );
    let out = rate(" ");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rater name"));
    let out = Command::new(LOUPE)
        .args([
            "--store",
            dir.path().join("nowhere").to_str().unwrap(),
            "ratings",
        ])
        .arg(&session)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
}
