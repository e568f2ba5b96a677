//! `loupe run` end to end against a mock `OpenAI` server, compared with a bare HTTP client.
//!
//! 2 templates x 2000 cases = 4000 requests at concurrency 16, through the real binary with
//! the store and then `loupe report`; the bare client sends the same 4000 requests at
//! concurrency 16 in the same process as the server and reads every answer to its end.
//! The mock streams each answer as llama.cpp does, one SSE event per token written on its
//! own (64 tokens by default).
//!
//! Prints wall time, CPU time and peak RSS of each loupe process (its own, measured by a
//! copy of this program that starts it and nothing else), how many successful outputs
//! the run stored (an all-failed run must not look fast: the bench fails unless every cell
//! succeeded), and the ratio of wall times.
//!
//! Run: `cargo bench --bench run`. Settings: `LOUPE_BENCH_LATENCIES=50,0` (server latency
//! before the first byte, ms), `LOUPE_BENCH_TOKENS=64` (SSE events per answer),
//! `LOUPE_BENCH_STREAM=0` (the whole answer in one JSON body instead),
//! `LOUPE_BENCH_CASES=2000`, and `LOUPE_BENCH_WRAP` (a command each measured process runs
//! under, such as `strace -c -f`; its figures then include the profiler's). `cargo test
//! --benches` runs a small case of each mode (100 requests) and checks the outputs were
//! stored.
//!
//! Beside `loupe run`, two floors measured the same way in processes of their own: the
//! bare client alone, and a raw socket reader that parses nothing.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/mock_openai.rs"]
mod mock_openai;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nix::sys::resource::{UsageWho, getrusage};

const CONCURRENCY: usize = 16;
/// Argument that makes this program a wrapper measuring one child process.
const MEASURE: &str = "--measure-child";
/// Argument that makes this program the bare client alone, in a process of its own (one
/// thread, as `loupe run` drives its requests), so its CPU can be measured beside loupe's.
const BARE: &str = "--bare-child";
/// Argument that makes this program the floor: a raw socket reader in a process of its
/// own (see [`raw_reader`]).
const RAW: &str = "--raw-child";

struct Config {
    cases: usize,
    latencies: Vec<u64>,
    tokens: usize,
    stream: bool,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn write_session(dir: &Path, base_url: &str, cfg: &Config) {
    let session = format!(
        r#"name: bench
models:
  mock:
    provider: openai
    base_url: {base_url}
    model: mock
    params: {{ max_tokens: 200 }}
    concurrency: {CONCURRENCY}
    stream: {stream}
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
"#,
        stream = cfg.stream,
    );
    std::fs::write(dir.join("bench.yaml"), session).unwrap();
    let mut cases = String::new();
    for i in 0..cfg.cases {
        writeln!(
            cases,
            r#"{{"id": "c{i}", "text": "change request number {i}"}}"#
        )
        .unwrap();
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
}

/// The same requests with reqwest alone: each answer read chunk by chunk to its end.
async fn bare_client(base_url: &str, cfg: &Config) -> Duration {
    let client = reqwest::Client::new();
    let url = format!("{base_url}/chat/completions");
    let started = Instant::now();
    let stream = cfg.stream;
    futures::stream::iter(0..2 * cfg.cases)
        .map(|i| {
            let client = &client;
            let url = &url;
            async move {
                let (system, tag) = if i % 2 == 0 {
                    ("You are terse.", "A")
                } else {
                    ("You are verbose.", "B")
                };
                let body = serde_json::json!({
                    "model": "mock", "max_tokens": 200, "stream": stream,
                    "messages": [{"role": "system", "content": system},
                                 {"role": "user", "content": format!("{tag}: change request number {}", i / 2)}],
                });
                let mut resp = client.post(url).json(&body).send().await.unwrap();
                assert!(resp.status().is_success());
                let mut bytes = 0;
                while let Some(chunk) = resp.chunk().await.unwrap() {
                    bytes += chunk.len();
                }
                assert!(bytes > 0);
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

/// The floor under any HTTP client: the same streamed requests written by hand on 16
/// keep-alive sockets, each answer read as bytes until its last chunk, nothing parsed.
async fn raw_reader(base_url: &str, cases: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|slot| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
                sock.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 16 * 1024];
                for i in (slot..2 * cases).step_by(CONCURRENCY) {
                    let body = serde_json::json!({
                        "model": "mock", "max_tokens": 200, "stream": true,
                        "messages": [{"role": "user", "content": format!("change request number {i}")}],
                    })
                    .to_string();
                    let head = format!(
                        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\n\
                         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    sock.write_all((head + &body).as_bytes()).await.unwrap();
                    // The last bytes seen, to find the chunked body's end across reads.
                    let mut tail = Vec::with_capacity(16);
                    loop {
                        let n = sock.read(&mut buf).await.unwrap();
                        assert!(n > 0, "the mock closed the connection");
                        tail.extend_from_slice(&buf[n.saturating_sub(7)..n]);
                        tail.drain(..tail.len().saturating_sub(7));
                        if tail == b"\r\n0\r\n\r\n" {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    stdout: String,
}

/// Runs `loupe args` under a wrapper (this program with `--measure-child`), whose only
/// child it is, so the wrapper's `RUSAGE_CHILDREN` is that one process's CPU and peak RSS.
fn measure(args: &[&std::ffi::OsStr]) -> Measured {
    measure_program(env!("CARGO_BIN_EXE_loupe").as_ref(), args)
}

fn measure_program(program: &std::ffi::OsStr, args: &[&std::ffi::OsStr]) -> Measured {
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .arg(MEASURE)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The wrapper's last stderr line: "rusage <cpu µs> <max rss KiB>".
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("rusage "))
        .unwrap();
    let mut it = line.split_whitespace().map(|v| v.parse::<i64>().unwrap());
    let (cpu_us, rss) = (it.next().unwrap(), it.next().unwrap());
    Measured {
        wall,
        cpu: Duration::from_micros(cpu_us as u64),
        max_rss_kib: rss,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// The wrapper: runs the command, passes its output and exit status on, and reports the
/// child's CPU time and peak RSS.
fn measure_child(cmd: &[String]) -> ! {
    // `LOUPE_BENCH_WRAP="perf record -g --"` (or `strace -c -f`) puts a profiler in between.
    let mut cmd = cmd.to_vec();
    if let Ok(wrap) = std::env::var("LOUPE_BENCH_WRAP") {
        cmd.splice(0..0, wrap.split_whitespace().map(String::from));
    }
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() * 1_000_000 + t.tv_usec();
    eprintln!(
        "rusage {} {}",
        us(u.user_time()) + us(u.system_time()),
        u.max_rss()
    );
    std::process::exit(status.code().unwrap_or(1));
}

/// Successful outputs stored for `run_id` (and all outputs).
fn stored_outputs(store: &Path, run_id: &str) -> (usize, usize) {
    let store = loupe::store::Store::open(store).unwrap();
    let outputs: Vec<_> = store.outputs(run_id).map(Result::unwrap).collect();
    let ok = outputs.iter().filter(|o| o.error.is_none()).count();
    (ok, outputs.len())
}

fn bench(cfg: &Config, rt: &tokio::runtime::Runtime) {
    let requests = 2 * cfg.cases;
    for &latency in &cfg.latencies {
        let server = mock_openai::start_in_thread(Duration::from_millis(latency));
        server.state.tokens.store(cfg.tokens, Ordering::Relaxed);
        let base = server.base_url();
        let bare = rt.block_on(bare_client(&base, cfg));
        let cases = cfg.cases.to_string();
        let stream = u8::from(cfg.stream).to_string();
        let bare_alone = measure_program(
            std::env::current_exe().unwrap().as_os_str(),
            &[
                BARE.as_ref(),
                base.as_ref(),
                cases.as_ref(),
                stream.as_ref(),
            ],
        );
        // The raw reader knows only chunked answers.
        let raw = cfg.stream.then(|| {
            measure_program(
                std::env::current_exe().unwrap().as_os_str(),
                &[RAW.as_ref(), base.as_ref(), cases.as_ref()],
            )
        });
        let dir = tempfile::tempdir().unwrap();
        write_session(dir.path(), &base, cfg);
        let session = dir.path().join("bench.yaml");
        let store = dir.path().join("store");
        let run = measure(&[
            "--store".as_ref(),
            store.as_os_str(),
            "run".as_ref(),
            session.as_os_str(),
        ]);
        let run_id = run.stdout.trim().to_string();
        let report = measure(&[
            "--store".as_ref(),
            store.as_os_str(),
            "report".as_ref(),
            run_id.as_ref(),
        ]);
        // The bare client asked every request twice (in this process and alone), the raw
        // reader once more.
        let asked_before = (2 + usize::from(raw.is_some())) * requests;
        let served = server.state.requests.load(Ordering::Relaxed) - asked_before;
        let (ok, stored) = stored_outputs(&store, &run_id);
        let total = run.wall + report.wall;
        if let Some(raw) = &raw {
            println!(
                "latency {latency} ms: floor (raw socket reader, nothing parsed) {:.3} s wall, \
                 {:.3} s CPU, {:.1} MiB peak",
                raw.wall.as_secs_f64(),
                raw.cpu.as_secs_f64(),
                raw.max_rss_kib as f64 / 1024.0,
            );
        }
        println!(
            "latency {latency} ms, {mode}: bare client {:.3} s (alone: {:.3} s wall, {:.3} s \
             CPU, {:.1} MiB peak); loupe run {:.3} s wall = {:.3}x bare, \
             {:.3} s CPU, {:.1} MiB peak; report {:.3} s wall, {:.3} s CPU, {:.1} MiB peak; \
             run + report {:.3} s = {:.3}x bare; {served} requests served to loupe, {ok} of \
             {stored} stored outputs successful",
            bare.as_secs_f64(),
            bare_alone.wall.as_secs_f64(),
            bare_alone.cpu.as_secs_f64(),
            bare_alone.max_rss_kib as f64 / 1024.0,
            run.wall.as_secs_f64(),
            run.wall.as_secs_f64() / bare.as_secs_f64(),
            run.cpu.as_secs_f64(),
            run.max_rss_kib as f64 / 1024.0,
            report.wall.as_secs_f64(),
            report.cpu.as_secs_f64(),
            report.max_rss_kib as f64 / 1024.0,
            total.as_secs_f64(),
            total.as_secs_f64() / bare.as_secs_f64(),
            mode = if cfg.stream {
                format!("{} SSE events per answer", cfg.tokens)
            } else {
                "whole JSON answers".into()
            },
        );
        // A run whose cells failed stores errors fast; its time would mean nothing.
        assert_eq!(served, requests, "every cell asked once");
        assert_eq!(
            (ok, stored),
            (requests, requests),
            "every output stored and successful"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MEASURE) {
        measure_child(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some(RAW) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(raw_reader(&args[2], args[3].parse().unwrap()));
        return;
    }
    if args.get(1).map(String::as_str) == Some(BARE) {
        let cfg = Config {
            cases: args[3].parse().unwrap(),
            latencies: Vec::new(),
            tokens: 0,
            stream: args[4] == "1",
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(bare_client(&args[2], &cfg));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a small real case.
    if !args.iter().any(|a| a == "--bench") {
        for stream in [true, false] {
            let cfg = Config {
                cases: 50,
                latencies: vec![0],
                tokens: 16,
                stream,
            };
            bench(&cfg, &rt);
        }
        return;
    }
    let cfg = Config {
        cases: env_or("LOUPE_BENCH_CASES", 2000),
        latencies: std::env::var("LOUPE_BENCH_LATENCIES")
            .unwrap_or_else(|_| "50,0".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        tokens: env_or("LOUPE_BENCH_TOKENS", 64),
        stream: env_or::<u8>("LOUPE_BENCH_STREAM", 1) != 0,
    };
    bench(&cfg, &rt);
}
