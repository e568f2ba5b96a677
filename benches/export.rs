//! `loupe export` on 100k outputs: wall time and peak RSS of the real binary.
//!
//! Builds a store through the store API (one run planned by the real planner: 10,000 cases x
//! 2 variants x 5 repeats = 100,000 outputs, every tenth with an e-mail address to redact, a
//! fifth of the cases in the eval split, 2,000 comparisons rated by two raters), then times
//! `loupe export --format sft`, `raw` and `dpo` one at a time. Each export runs under a small
//! wrapper process (this bench, re-run) so that its peak RSS is its own, from
//! `getrusage(RUSAGE_CHILDREN)`. Targets (issue 6): 100k outputs in under 3 s, peak RSS under
//! 60 MiB. Run: `cargo bench --bench export`.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use loupe::eval::spec::CheckResult;
use loupe::providers::Usage;
use loupe::runner::{Selection, plan_new_run};
use loupe::store::{ComparisonKey, OutputRecord, RatingRecord, RunStatus, Store, Winner};
use nix::sys::resource::{UsageWho, getrusage};

const CASES: usize = 10_000;
const REPEATS: u32 = 5;
const RATED: usize = 2_000;
const CHILD_ENV: &str = "LOUPE_BENCH_EXPORT_CHILD";

fn build(dir: &Path) -> usize {
    let session = format!(
        r#"name: bench-export
models:
  m:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny
    params: {{ temperature: 0.7, seed: 7 }}
templates:
  zero:
    system: "You triage change requests. Reply with JSON: title, risk, rationale."
    user: "Evaluate the following change request:\n<request>{{{{ text }}}}</request>"
  few:
    inherits: zero
    examples:
      - {{ user: "Evaluate the following change request:\n<request>Rename a log field</request>", assistant: '{{"title":"Rename log field","risk":"low","rationale":"Cosmetic."}}' }}
      - {{ user: "Evaluate the following change request:\n<request>Drop the orders table</request>", assistant: '{{"title":"Drop orders","risk":"high","rationale":"Irreversible."}}' }}
variants:
  - {{ name: zero, template: zero, model: m }}
  - {{ name: few, template: few, model: m }}
cases: {{ file: cases.jsonl }}
repeats: {REPEATS}
checks:
  - json_valid
rating:
  pairs: [[zero, few]]
  raters_per_comparison: 2
"#
    );
    std::fs::write(dir.join("bench.yaml"), session).unwrap();
    let mut cases = String::new();
    for i in 0..CASES {
        let split = if i.is_multiple_of(5) { "eval" } else { "train" };
        cases.push_str(&format!(
            "{{\"id\":\"c{i}\",\"text\":\"Change number {i}: move service {} to cluster {} during the window of week {}.\",\"split\":\"{split}\",\"tags\":[\"common\"]}}\n",
            i % 97,
            i % 13,
            i % 52
        ));
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
    let session = loupe::session::load(&dir.join("bench.yaml")).unwrap();
    let store = Store::open(&dir.join("store")).unwrap();
    let plan = plan_new_run(&session, &store, &Selection::default(), false).unwrap();
    for cell in &plan.cells {
        let k = &cell.key;
        let n: usize = k.case_id[1..].parse().unwrap();
        let contact = if n.is_multiple_of(10) {
            " Contact ops-oncall@example.com first."
        } else {
            ""
        };
        let text = format!(
            "{{\"title\":\"Move service {}\",\"risk\":\"{}\",\"rationale\":\"Sample {} of {} by {}; the window limits impact.{contact}\"}}",
            n % 97,
            ["low", "medium", "high"][n % 3],
            k.repeat,
            k.case_id,
            k.variant
        );
        store
            .put_output(&OutputRecord {
                run_id: k.run_id.clone(),
                variant: k.variant.clone(),
                case_id: k.case_id.clone(),
                repeat: k.repeat,
                text,
                usage: Usage {
                    input_tokens: 80,
                    output_tokens: 40,
                    estimated: false,
                },
                latency_ms: 800,
                ttft_ms: Some(90),
                cost_usd: None,
                cached: false,
                attempts: 1,
                finish_reason: Some("stop".into()),
                error: None,
                request_hash: cell.request_hash.clone(),
                checks: vec![CheckResult {
                    name: "json_valid".into(),
                    pass: true,
                    score: None,
                    reason: String::new(),
                }],
                schema_attempts: Vec::new(),
                passages: Vec::new(),
                finished_ms: 1,
            })
            .unwrap();
    }
    let mut run = plan.run.clone();
    run.status = RunStatus::Complete;
    store.put_run(&run).unwrap();
    for i in 0..RATED {
        for (r, rater) in ["ana", "bo"].iter().enumerate() {
            store
                .put_rating(&RatingRecord {
                    session: "bench-export".into(),
                    rater: (*rater).into(),
                    comparison: ComparisonKey {
                        run_id: run.id.clone(),
                        case_id: format!("c{i}"),
                        repeat: 0,
                        a: "zero".into(),
                        b: "few".into(),
                    },
                    left: "zero".into(),
                    winner: if i % 4 == 0 { Winner::A } else { Winner::B },
                    scores: std::collections::BTreeMap::default(),
                    note: None,
                    labels: std::collections::BTreeMap::new(),
                    gold: false,
                    elapsed_ms: 1000,
                    at_ms: 1_000 + i as u64,
                    seq: r as u32,
                })
                .unwrap();
        }
    }
    store.flush().unwrap();
    plan.cells.len()
}

/// In the wrapper process: runs the command, prints `wall_ms max_rss_kib exit_code`.
fn child() {
    let args: Vec<String> = std::env::var(CHILD_ENV)
        .unwrap()
        .split('\u{1f}')
        .map(str::to_owned)
        .collect();
    let started = Instant::now();
    let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
    let wall = started.elapsed();
    let rss = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    println!(
        "{} {} {}",
        wall.as_millis(),
        rss,
        out.status.code().unwrap_or(-1)
    );
}

fn measure(args: &[String]) -> (Duration, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, args.join("\u{1f}"))
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(
        f.get(2),
        Some(&0),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (Duration::from_millis(f[0]), f[1])
}

/// What a figure says about the target: nothing in a smoke run (`cargo test --benches`
/// builds without optimisation, so its times say nothing about a release build).
fn verdict(smoke: bool, within: bool) -> &'static str {
    match (smoke, within) {
        (true, _) => "(smoke run: the target is checked by `cargo bench --bench export`)",
        (false, true) => "(within 3 s / 60 MiB)",
        (false, false) => "(OVER the 3 s / 60 MiB target)",
    }
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    // `cargo bench` passes `--bench` and builds optimised; `cargo test --benches` does
    // neither: a smoke run that the code works, not a measurement.
    let smoke = cfg!(debug_assertions) || !std::env::args().any(|a| a == "--bench");
    if smoke {
        println!(
            "smoke run (test mode, unoptimised): figures shown, no verdict against the targets"
        );
    }
    // LOUPE_BENCH_DIR keeps the store (built once) for profiling by hand.
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("LOUPE_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    let started = Instant::now();
    let outputs = if dir.join("store").exists() {
        CASES * 2 * REPEATS as usize
    } else {
        std::fs::create_dir_all(dir).unwrap();
        build(dir)
    };
    println!(
        "store: {outputs} outputs, {RATED} comparisons x 2 raters, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let loupe = env!("CARGO_BIN_EXE_loupe");
    for format in ["sft", "raw", "dpo"] {
        let out = dir.join(format!("out-{format}"));
        let _ = std::fs::remove_dir_all(&out);
        let args: Vec<String> = [
            loupe,
            "--store",
            dir.join("store").to_str().unwrap(),
            "export",
            dir.join("bench.yaml").to_str().unwrap(),
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let (wall, rss_kib) = measure(&args);
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{format}.manifest.json"))).unwrap(),
        )
        .unwrap();
        let within = wall < Duration::from_secs(3) && rss_kib < 60 * 1024;
        println!(
            "export {format:<4} {:>6} rows in, {:>6} out: {:>6.2} s, peak RSS {:>5.1} MiB  {}",
            m["counts"]["rows_in"],
            m["counts"]["rows_out"],
            wall.as_secs_f64(),
            rss_kib as f64 / 1024.0,
            verdict(smoke, within)
        );
    }
}
