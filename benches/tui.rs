//! The workbench's frame budget, at 200x50 on a `TestBackend` (issue 4's targets):
//!
//! - `draw` of Results with 10k cases x 4 variants, and of Compare with two 20 KB outputs:
//!   under 2 ms median per frame;
//! - the word diff of two 20 KB outputs (off the UI thread, then cached): under 20 ms, and
//!   what a cache hit costs;
//! - start to first frame (open the store, load the session, first `terminal.draw`) with a
//!   store of 100k outputs: under 150 ms; also, for information, to the first frame that
//!   shows the newest run;
//! - while 16 streams run, a key press reaches the screen within 16 ms at p95 (from the key
//!   on the input channel to the flushed frame that shows its effect).
//!
//! Run: `cargo bench --bench tui -- --warm-up-time 1 --measurement-time 3`.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/mock_script.rs"]
mod mock_script;
#[path = "support/text.rs"]
mod text;
#[path = "../tests/common/tui_harness.rs"]
mod tui_harness;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use loupe::diff::{DiffCache, DiffMode, diff};
use loupe::eval::spec::CheckResult;
use loupe::providers::Usage;
use loupe::session::Session;
use loupe::store::{OutputRecord, RunRecord, RunStatus, RunVariant, Store};
use loupe::tui::action::Action;
use loupe::tui::draw::{View, draw};
use loupe::tui::input::KeyCode;
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::{Effect, Msg};
use loupe::tui::state::State;
use loupe::tui::theme::Theme;
use loupe::tui::update::update;
use mock_script::{Asked, Reply, Script};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tempfile::TempDir;
use tui_harness::{App, buffer_text, config};

const W: u16 = 200;
const H: u16 = 50;

/// A session of `variants` variants over `cases` cases, on `base_url`.
fn write_session(dir: &Path, base_url: &str, variants: usize, cases: usize) -> Arc<Session> {
    let mut yaml = format!(
        "name: bench\nmodels:\n  mock:\n    provider: openai\n    base_url: {base_url}\n    model: mock\n    params: {{ max_tokens: 64 }}\n    concurrency: 16\n    retries: 0\ntemplates:\n"
    );
    for v in 0..variants {
        let _ = write!(
            yaml,
            "  t{v}:\n    system: \"Variant {v}.\"\n    user: \"V{v}: {{{{ text }}}}\"\n"
        );
    }
    yaml.push_str("variants:\n");
    for v in 0..variants {
        let _ = writeln!(
            yaml,
            "  - {{ name: variant-{v}, template: t{v}, model: mock }}"
        );
    }
    yaml.push_str(
        "cases: { file: cases.jsonl }\nchecks:\n  - json_valid\n  - { max_latency_ms: 5000 }\n",
    );
    std::fs::write(dir.join("bench.yaml"), yaml).unwrap();
    let mut lines = String::with_capacity(cases * 64);
    for i in 0..cases {
        let tag = ["common", "edge", "adversarial"][i % 3];
        let _ = writeln!(
            lines,
            r#"{{"id": "case-{i:05}", "text": "change request number {i}", "tags": ["{tag}"]}}"#
        );
    }
    std::fs::write(dir.join("cases.jsonl"), lines).unwrap();
    Arc::new(loupe::session::load(&dir.join("bench.yaml")).unwrap())
}

fn run_record(session: &Session, id: &str) -> RunRecord {
    let model = session.file.models["mock"].clone();
    RunRecord {
        id: id.to_owned(),
        session_name: session.file.name.clone(),
        session_path: session.path.display().to_string(),
        session_hash: session.hash.clone(),
        created_ms: 1,
        finished_ms: Some(2),
        status: RunStatus::Complete,
        variants: session
            .file
            .variants
            .iter()
            .map(|v| RunVariant {
                name: v.name.clone(),
                template: v.template.clone(),
                template_version: format!("version-of-{}", v.template),
                model_name: "mock".into(),
                model: (&model).into(),
                rag: None,
                enforce_schema: loupe::store::EnforceRecord::Off,
            })
            .collect(),
        case_ids: session.cases.iter().map(|c| c.id.clone()).collect(),
        repeats: 1,
        no_cache: false,
    }
}

fn output(run: &str, variant: &str, case: &str, i: usize, text: String) -> OutputRecord {
    let pass = !i.is_multiple_of(7);
    OutputRecord {
        run_id: run.to_owned(),
        variant: variant.to_owned(),
        case_id: case.to_owned(),
        repeat: 0,
        text,
        usage: Usage {
            input_tokens: 40 + (i % 13) as u64,
            output_tokens: 20 + (i % 29) as u64,
            estimated: false,
        },
        latency_ms: 200 + (i * 37 % 1800) as u64,
        ttft_ms: Some(50 + (i % 90) as u64),
        cost_usd: Some(0.000_01),
        cached: false,
        attempts: 1,
        finish_reason: Some("stop".into()),
        error: i
            .is_multiple_of(97)
            .then(|| "HTTP 500 from the mock".to_owned()),
        request_hash: format!("{i:016x}"),
        checks: vec![
            CheckResult {
                name: "json_valid".into(),
                pass,
                score: None,
                reason: if pass {
                    String::new()
                } else {
                    "not JSON: expected value at line 1 column 1".into()
                },
            },
            CheckResult {
                name: "max_latency_ms".into(),
                pass: true,
                score: None,
                reason: String::new(),
            },
        ],
        schema_attempts: Vec::new(),
        passages: Vec::new(),
        finished_ms: 3,
    }
}

fn outputs_for(session: &Session, run: &str) -> Vec<OutputRecord> {
    let mut out = Vec::with_capacity(session.cases.len() * session.file.variants.len());
    for v in &session.file.variants {
        for (i, c) in session.cases.iter().enumerate() {
            let text = format!(r#"{{"title":"Case {i}","risk":"low","rationale":"Fine."}}"#);
            out.push(output(run, &v.name, &c.id, i, text));
        }
    }
    out
}

/// A State as the App has it once a run is loaded (through `update`, as the App does).
fn loaded_state(
    session: &Arc<Session>,
    keymap: &Keymap,
    run: RunRecord,
    outputs: Vec<OutputRecord>,
) -> (State, Vec<Effect>) {
    let mut state = State::new(session.clone());
    let report = loupe::report::build(&run, &outputs);
    let effects = update(
        &mut state,
        keymap,
        Msg::RunLoaded {
            run,
            outputs,
            earlier: Vec::new(),
        },
    );
    update(&mut state, keymap, Msg::ReportReady(report));
    (state, effects)
}

fn draw_benches(c: &mut Criterion) {
    let theme = Theme::default();
    let keymap = Keymap::default();
    let view = View {
        theme: &theme,
        keymap: &keymap,
        ascii: false,
    };

    // Results: 10k cases x 4 variants.
    let dir = TempDir::new().unwrap();
    let session = write_session(dir.path(), "http://127.0.0.1:9/v1", 4, 10_000);
    let run = run_record(&session, "20261129-000000-0001");
    let outputs = outputs_for(&session, &run.id);
    let (mut state, _) = loaded_state(&session, &keymap, run, outputs);
    update(&mut state, &keymap, Msg::Action(Action::GotoResults));
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|f| draw(&state, &view, f)).unwrap();
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("10000 shown"), "{screen}");
    c.bench_function("draw Results 10k cases x 4 variants 200x50", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(&state, &view, f)).unwrap();
        });
    });
    // Scrolled to the middle: the grid's window is not at the top.
    for _ in 0..500 {
        update(&mut state, &keymap, Msg::Action(Action::PageDown));
    }
    c.bench_function("draw Results 10k x 4, row 5000, 200x50", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(&state, &view, f)).unwrap();
        });
    });
    update(&mut state, &keymap, Msg::Action(Action::FilterFailed));
    c.bench_function("draw Results 10k x 4, failed only, 200x50", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(&state, &view, f)).unwrap();
        });
    });

    // Compare: two 20 KB outputs, diff ready.
    let dir = TempDir::new().unwrap();
    let session = write_session(dir.path(), "http://127.0.0.1:9/v1", 2, 1);
    let run = run_record(&session, "20261129-000000-0002");
    let a = text::text(7, 20 * 1024);
    let b = text::edited(&a);
    let case = session.cases[0].id.clone();
    let outputs = vec![
        output(&run.id, "variant-0", &case, 1, a.clone()),
        output(&run.id, "variant-1", &case, 1, b.clone()),
    ];
    let (mut state, _) = loaded_state(&session, &keymap, run, outputs);
    let effects = update(&mut state, &keymap, Msg::Action(Action::GotoCompare));
    let Some(Effect::ComputeDiff {
        key,
        left,
        right,
        mode,
    }) = effects.into_iter().next()
    else {
        panic!("Compare asked for no diff");
    };
    let lines = Arc::new(diff(&left, &right, mode));
    update(&mut state, &keymap, Msg::DiffReady { key, diff: lines });
    terminal.draw(|f| draw(&state, &view, f)).unwrap();
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("DIFFERENT"), "{screen}");
    c.bench_function("draw Compare 2 x 20 KB word diff 200x50", |bench| {
        bench.iter(|| {
            terminal.draw(|f| draw(&state, &view, f)).unwrap();
        });
    });
    for _ in 0..30 {
        update(&mut state, &keymap, Msg::Action(Action::PageDown));
    }
    c.bench_function(
        "draw Compare 2 x 20 KB scrolled 300 lines 200x50",
        |bench| {
            bench.iter(|| {
                terminal.draw(|f| draw(&state, &view, f)).unwrap();
            });
        },
    );

    // The diff itself (benches/diff.rs has the line mode) and a cache hit.
    c.bench_function("word diff 20 KB (computed)", |bench| {
        bench.iter(|| {
            diff(
                std::hint::black_box(&a),
                std::hint::black_box(&b),
                DiffMode::Word,
            )
        });
    });
    let mut cache = DiffCache::default();
    cache.get_or_compute(&a, &b, DiffMode::Word);
    c.bench_function("word diff 20 KB (cache hit)", |bench| {
        bench.iter(|| cache.get(&a, &b, DiffMode::Word).unwrap());
    });
}

/// 10 runs of 2.5k cases x 4 variants: a store of 100k outputs.
fn big_store(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let session = write_session(dir, "http://127.0.0.1:9/v1", 4, 2_500);
    let store_path = dir.join("store");
    let store = Store::open(&store_path).unwrap();
    for r in 0..10 {
        let run = run_record(&session, &format!("20261129-0000{r:02}-00{r:02}"));
        store.put_run(&run).unwrap();
        for o in outputs_for(&session, &run.id) {
            store.put_output(&o).unwrap();
        }
    }
    store.flush().unwrap();
    (session.path.clone(), store_path)
}

fn startup_bench(c: &mut Criterion) {
    let dir = TempDir::new().unwrap();
    let built = Instant::now();
    let (session_path, store_path) = big_store(dir.path());
    println!("store of 100k outputs written in {:?}", built.elapsed());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let to_run = RefCell::new(Vec::new());
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.bench_function(
        "store of 100k outputs: open, load session, first frame",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let store = Store::open(&store_path).unwrap();
                    let session = Arc::new(loupe::session::load(&session_path).unwrap());
                    let mut app = {
                        let _guard = rt.enter();
                        App::spawn(store, session, config(), W, H)
                    };
                    app.screen.wait_frame_blocking(0, Duration::from_secs(30));
                    let first = app.screen.frames().1.unwrap();
                    total += first - start;
                    // For information: until the newest run's 10k outputs are on screen.
                    let loaded = rt.block_on(app.screen.wait_for("· run 20261129-000009"));
                    assert!(loaded.contains("Templates"));
                    to_run
                        .borrow_mut()
                        .push(app.screen.frames().1.unwrap() - start);
                    app.shutdown.cancel();
                    rt.block_on(app.finished()).unwrap();
                    drop(app);
                    // The last loading task may still hold the store for a moment.
                    loop {
                        match Store::open(&store_path) {
                            Ok(s) => break drop(s),
                            Err(_) => std::thread::sleep(Duration::from_millis(2)),
                        }
                    }
                }
                total
            });
        },
    );
    group.finish();
    let mut v = to_run.into_inner();
    v.sort();
    if !v.is_empty() {
        println!(
            "start to first frame showing the newest run (10k outputs): median {:?} over {}",
            v[v.len() / 2],
            v.len()
        );
    }
}

/// Long answers streamed in small pieces, as a fast API model does (~40 tokens a second).
fn slow_streams() -> Script {
    Arc::new(|_: &Asked| {
        let words: Vec<String> = (0..400).map(|i| format!("w{i} ")).collect();
        Reply {
            chunks: words,
            delay: Duration::from_millis(25),
            hold: false,
        }
    })
}

fn key_latency_bench(c: &mut Criterion) {
    let server = mock_script::start_in_thread(slow_streams());
    let dir = TempDir::new().unwrap();
    // 2 variants x 64 cases = 128 cells, 16 at a time, each streaming for ~10 s.
    let session = write_session(dir.path(), &server.base_url(), 2, 64);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = {
        let _guard = rt.enter();
        App::spawn(store, session, config(), W, H)
    };
    let screen = app.screen.clone();
    rt.block_on(screen.wait_for("no run yet"));
    app.char('r');
    rt.block_on(screen.wait_text("16 streams", |t| t.contains("running 0/128")));
    // Let the streams get going.
    rt.block_on(screen.wait_text("text streaming", |t| t.contains("w20 ")));
    let streaming_before = server.requests();

    let latencies = RefCell::new(Vec::<Duration>::new());
    let mut on = true;
    let mut jitter = 7u64;
    c.bench_function("key press to screen while 16 streams run", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let want = if on { "[ ] variant-0" } else { "[x] variant-0" };
                let (frame, _) = screen.frames();
                let sent = Instant::now();
                app.key(KeyCode::Char(' '));
                let mut seen = frame;
                let shown_at = loop {
                    seen = screen.wait_frame_blocking(seen, Duration::from_secs(5));
                    let (shown, at) =
                        screen.with_buffer(|b, _, at| (buffer_text(b).contains(want), at));
                    if shown {
                        break at.unwrap();
                    }
                };
                on = !on;
                let took = shown_at.saturating_duration_since(sent);
                latencies.borrow_mut().push(took);
                total += took;
                // Presses come at human speed and at no particular point of the frame
                // cycle: right after a frame, every key would wait the whole 16 ms.
                jitter = jitter
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                std::thread::sleep(Duration::from_micros(2_000 + (jitter >> 33) % 17_000));
            }
            total
        });
    });
    let mut v = latencies.into_inner();
    if v.is_empty() {
        // Filtered out by the command line.
        return;
    }
    let text = screen.text();
    assert!(
        text.contains("running "),
        "the streams ended before the measurement did: the figure is not under load"
    );
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    println!(
        "key press to screen under 16 streams: p50 {:?}, p95 {:?}, max {:?} over {} presses; {} requests streamed",
        pct(0.5),
        pct(0.95),
        v[v.len() - 1],
        v.len(),
        server.requests().max(streaming_before)
    );
    app.shutdown.cancel();
}

criterion_group!(benches, draw_benches, startup_bench, key_latency_bench);
criterion_main!(benches);
