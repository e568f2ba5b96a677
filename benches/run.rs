//! `loupe run` end to end against a mock `OpenAI` server, compared with a bare HTTP client.
//!
//! 2 templates x 2000 cases = 4000 requests at concurrency 16, through the real binary with
//! the store and then `loupe report`; the bare client sends the same 4000 requests at
//! concurrency 16 in the same process as the server. Prints wall time, CPU time and peak
//! RSS of the loupe processes, and the ratio of wall times. Run: `cargo bench --bench run`.
//! `LOUPE_BENCH_LATENCIES=50,0` picks the server latencies in milliseconds.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mock_openai.rs"]
mod mock_openai;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nix::sys::resource::{UsageWho, getrusage};

const CASES: usize = 2000;
const CONCURRENCY: usize = 16;

fn write_session(dir: &Path, base_url: &str) {
    let session = format!(
        r#"name: bench
models:
  mock:
    provider: openai
    base_url: {base_url}
    model: mock
    params: {{ max_tokens: 32 }}
    concurrency: {CONCURRENCY}
    stream: false
templates:
  a:
    system: "You are terse."
    user: "A: {{{{ text }}}}"
  b:
    system: "You are verbose."
    user: "B: {{{{ text }}}}"
variants:
  - {{ name: a, template: a, model: mock }}
  - {{ name: b, template: b, model: mock }}
cases: {{ file: cases.jsonl }}
checks:
  - json_valid
"#
    );
    std::fs::write(dir.join("bench.yaml"), session).unwrap();
    let mut cases = String::new();
    for i in 0..CASES {
        writeln!(
            cases,
            r#"{{"id": "c{i}", "text": "change request number {i}"}}"#
        )
        .unwrap();
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
}

async fn bare_client(base_url: &str) -> Duration {
    let client = reqwest::Client::new();
    let url = format!("{base_url}/chat/completions");
    let started = Instant::now();
    futures::stream::iter(0..2 * CASES)
        .map(|i| {
            let client = &client;
            let url = &url;
            async move {
                let body = serde_json::json!({
                    "model": "mock", "max_tokens": 32,
                    "messages": [{"role": "system", "content": "You are terse."},
                                 {"role": "user", "content": format!("{}: change request number {}", if i % 2 == 0 { "A" } else { "B" }, i / 2)}],
                });
                let resp = client.post(url).json(&body).send().await.unwrap();
                let _: serde_json::Value = resp.json().await.unwrap();
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
}

fn children_cpu() -> (Duration, i64) {
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    (tv(u.user_time()) + tv(u.system_time()), u.max_rss())
}

fn measure(cmd: &mut Command) -> (Measured, String) {
    let (cpu0, _) = children_cpu();
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let wall = started.elapsed();
    let (cpu1, rss) = children_cpu();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        Measured {
            wall,
            cpu: cpu1.checked_sub(cpu0).unwrap(),
            max_rss_kib: rss,
        },
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this file too: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let latencies: Vec<u64> = std::env::var("LOUPE_BENCH_LATENCIES")
        .unwrap_or_else(|_| "50,0".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let loupe = env!("CARGO_BIN_EXE_loupe");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for latency in latencies {
        let server = mock_openai::start_in_thread(Duration::from_millis(latency));
        let base = server.base_url();
        let bare = rt.block_on(bare_client(&base));
        let dir = tempfile::tempdir().unwrap();
        write_session(dir.path(), &base);
        let session = dir.path().join("bench.yaml");
        let store = dir.path().join("store");
        let (run, stdout) = measure(
            Command::new(loupe)
                .arg("--store")
                .arg(&store)
                .arg("run")
                .arg(&session),
        );
        let run_id = stdout.trim().to_string();
        let (report, _) = measure(
            Command::new(loupe)
                .arg("--store")
                .arg(&store)
                .arg("report")
                .arg(&run_id),
        );
        let requests = server
            .state
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
            - 2 * CASES;
        println!(
            "latency {latency} ms: bare client {:.3} s; loupe run {:.3} s wall, {:.3} s CPU; report {:.3} s wall, {:.3} s CPU; \
             total {:.3} s = {:.3}x bare; peak RSS {:.1} MiB; {requests} requests served to loupe",
            bare.as_secs_f64(),
            run.wall.as_secs_f64(),
            run.cpu.as_secs_f64(),
            report.wall.as_secs_f64(),
            report.cpu.as_secs_f64(),
            (run.wall + report.wall).as_secs_f64(),
            (run.wall + report.wall).as_secs_f64() / bare.as_secs_f64(),
            run.max_rss_kib.max(report.max_rss_kib) as f64 / 1024.0,
        );
    }
}
