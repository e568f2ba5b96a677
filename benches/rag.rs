//! RAG speed: indexing 10 MB of Markdown with BM25, a query over 100k chunks (BM25 and
//! exact cosine at 384 dimensions), and what retrieval adds to a run of the demo's
//! prompt+rag variant with a warm index.
//!
//! `cargo bench --bench rag` measures and prints the figures the README quotes;
//! `cargo test --benches` runs every part once on small inputs.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/mock_openai.rs"]
mod mock_openai;

use std::path::Path;
use std::time::{Duration, Instant};

use std::hint::black_box;

use criterion::Criterion;
use loupe::rag::bm25::Bm25;
use loupe::rag::build::{Embedder, chunk_corpus};
use loupe::rag::dense::Vectors;
use loupe::rag::{ChunkSettings, Index};
use loupe::runner::{self, RunOptions, Selection};
use loupe::store::Store;
use tokio_util::sync::CancellationToken;

/// Criterion passes `--bench` when measuring; `cargo test --benches` does not.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A deterministic word stream with a long-tailed vocabulary, like prose: a few words very
/// common, most rare.
struct Words {
    state: u64,
}

impl Words {
    fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(6_364_136_223_846_793_005) | 1,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn word(&mut self) -> String {
        // Squaring a uniform number skews picks toward low ids (common words).
        let u = (self.next_u64() % 10_000) as f64 / 10_000.0;
        let id = (u * u * 20_000.0) as u64;
        format!("w{id}")
    }

    fn sentence(&mut self, words: usize) -> String {
        let mut s: Vec<String> = (0..words).map(|_| self.word()).collect();
        s[0] = format!("Policy {}", s[0]);
        s.join(" ") + "."
    }
}

/// A Markdown document of about `bytes` bytes: headings, paragraphs, a list.
fn markdown(words: &mut Words, bytes: usize) -> String {
    let mut doc = format!("# {}\n\n", words.sentence(4));
    let mut section = 0;
    while doc.len() < bytes {
        section += 1;
        doc.push_str(&format!("## Section {section}\n\n"));
        for _ in 0..3 {
            let para: Vec<String> = (0..5).map(|_| words.sentence(14)).collect();
            doc.push_str(&para.join(" "));
            doc.push_str("\n\n");
        }
        doc.push_str(&format!(
            "- {}\n- {}\n\n",
            words.sentence(6),
            words.sentence(6)
        ));
    }
    doc
}

/// Indexing `total` bytes of Markdown in 10 KB files: read, chunk (cl100k, 400 tokens),
/// store the chunks, build BM25. Prints the time of each part.
fn index_markdown(total: usize) {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let mut words = Words::new(7);
    let mut written = 0;
    let mut n = 0;
    while written < total {
        let doc = markdown(&mut words, 10_000);
        written += doc.len();
        std::fs::write(docs.join(format!("doc{n:05}.md")), doc).unwrap();
        n += 1;
    }
    let store = Store::open(&dir.path().join("store")).unwrap();
    let ix = store.rag_index().unwrap();
    // The tokenizer is built once per process; not part of indexing.
    loupe::rag::chunk::count_tokens("warm up");
    let settings = ChunkSettings {
        tokens: 400,
        overlap: 40,
    };
    let t0 = Instant::now();
    let chunked = chunk_corpus(
        dir.path(),
        &["docs/*.md".to_owned()],
        settings,
        &ix,
        &mut |_| {},
    )
    .unwrap();
    let chunk_time = t0.elapsed();
    let t1 = Instant::now();
    let index = Index::new(chunked.passages);
    let bm25_time = t1.elapsed();
    println!(
        "index {:.1} MB of Markdown ({n} files): {} chunks; read+chunk+store {:.2} s, BM25 build \
         {:.2} s, total {:.2} s",
        written as f64 / 1e6,
        index.len(),
        chunk_time.as_secs_f64(),
        bm25_time.as_secs_f64(),
        (chunk_time + bm25_time).as_secs_f64()
    );
    // A rebuild finds every chunk list in the store: BM25 only.
    let t2 = Instant::now();
    let again = chunk_corpus(
        dir.path(),
        &["docs/*.md".to_owned()],
        settings,
        &ix,
        &mut |_| {},
    )
    .unwrap();
    let index = Index::new(again.passages);
    println!(
        "  warm rebuild (chunks from the store): {:.2} s for {} chunks",
        t2.elapsed().as_secs_f64(),
        index.len()
    );
}

/// Pseudo-random unit-free vectors of `dim` numbers.
fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut w = Words::new(seed);
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| (w.next_u64() % 2001) as f32 / 1000.0 - 1.0)
                .collect()
        })
        .collect()
}

fn query_benches(c: &mut Criterion, chunks: usize) {
    let mut words = Words::new(11);
    let mut bm25 = Bm25::new();
    for _ in 0..chunks {
        bm25.add(&words.sentence(90));
    }
    let query = words.sentence(8);
    let mut group = c.benchmark_group("query");
    group.bench_function(format!("bm25 over {chunks} chunks"), |b| {
        b.iter(|| black_box(bm25.search(black_box(&query), 8)));
    });
    let mut m = Vectors::new();
    for v in vectors(chunks, 384, 3) {
        m.push(&v).unwrap();
    }
    let q = vectors(1, 384, 99).remove(0);
    group.bench_function(
        format!("exact cosine over {chunks} chunks, 384 dims"),
        |b| {
            b.iter(|| black_box(m.search(black_box(&q), 8).unwrap()));
        },
    );
    group.finish();
}

/// The demo session in `dir`, pointed at the mock chat server, its embedders at a port
/// where nothing listens (a warm index never calls them).
fn demo_copy(dir: &Path, chat: &str, cases: usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sessions");
    for sub in ["policy", "schemas", "cases"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for f in std::fs::read_dir(src.join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(sub).join(f.file_name().unwrap())).unwrap();
        }
    }
    let all = std::fs::read_to_string(src.join("cases/change-risk.jsonl")).unwrap();
    let some: Vec<&str> = all.lines().take(cases).collect();
    std::fs::write(dir.join("cases/change-risk.jsonl"), some.join("\n") + "\n").unwrap();
    let yaml = std::fs::read_to_string(src.join("demo.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8080/v1", chat)
        .replace("http://127.0.0.1:8090/v1", "http://127.0.0.1:9/v1");
    std::fs::write(dir.join("demo.yaml"), yaml).unwrap();
}

/// Stores a vector for every passage and every case query, as a first run with the real
/// embedder would have: the index is warm.
fn warm_vectors(session: &loupe::session::Session, store: &Store) {
    let ix = store.rag_index().unwrap();
    let spec = &session.file.rag["policy"];
    let settings = ChunkSettings {
        tokens: spec.chunk.tokens,
        overlap: spec.chunk.overlap,
    };
    let chunked = chunk_corpus(&session.dir, &spec.corpus, settings, &ix, &mut |_| {}).unwrap();
    let embedder = |name: &str| {
        let m = &session.file.models[name];
        Embedder::new(loupe::providers::Client::new(m).unwrap(), &m.model).unwrap()
    };
    let passage = embedder("e5");
    let query = embedder("e5-query");
    let put = |e: &Embedder, texts: Vec<String>| {
        let vs = vectors(texts.len(), 384, 5);
        let hashes: Vec<String> = texts
            .iter()
            .map(|t| loupe::rag::build::text_hash(t))
            .collect();
        let items: Vec<(&str, &[f32])> = hashes
            .iter()
            .map(String::as_str)
            .zip(vs.iter().map(Vec::as_slice))
            .collect();
        ix.put_embeddings(&e.id, &items).unwrap();
    };
    put(
        &passage,
        chunked.passages.iter().map(|p| p.text.clone()).collect(),
    );
    put(
        &query,
        session
            .cases
            .iter()
            .map(loupe::runner::retrieval::case_query)
            .collect(),
    );
}

/// Wall time of a `no_cache` run of one variant (every chat request sent) on `cases`.
fn timed_run(session: &loupe::session::Session, store: &Store, variant: &str) -> Duration {
    let services = loupe::services::Services::new(store.clone());
    let plan = runner::plan_new_run(
        session,
        store,
        &Selection {
            variants: vec![variant.to_owned()],
            ..Selection::default()
        },
        true,
    )
    .unwrap();
    let endpoints = runner::endpoints(services.models(), &plan).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let t0 = Instant::now();
    let run = rt
        .block_on(runner::execute(
            store,
            plan,
            &endpoints,
            RunOptions {
                no_cache: true,
                deltas: false,
            },
            &CancellationToken::new(),
            &tx,
        ))
        .unwrap();
    let took = t0.elapsed();
    let failed = store
        .outputs(&run.id)
        .filter(|o| o.as_ref().map_or(true, |o| o.error.is_some()))
        .count();
    assert_eq!(failed, 0, "every cell of {variant} answered");
    took
}

/// The demo's prompt+rag variant against few-shot (the same prompt without retrieval) on
/// a mock chat server answering in `latency`, index warm: the median of `rounds` runs each.
fn warm_rerun_overhead(cases: usize, rounds: usize, latency: Duration) {
    let server = mock_openai::start_in_thread(latency);
    let dir = tempfile::tempdir().unwrap();
    demo_copy(dir.path(), &server.base_url(), cases);
    let session = loupe::session::load(&dir.path().join("demo.yaml")).unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    warm_vectors(&session, &store);
    // One run of each first: the tokenizer and the corpus chunks are warm after it.
    timed_run(&session, &store, "prompt+rag");
    timed_run(&session, &store, "few-shot");
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut rag = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..rounds {
        rag.push(timed_run(&session, &store, "prompt+rag"));
        plain.push(timed_run(&session, &store, "few-shot"));
    }
    let (rag, plain) = (median(rag), median(plain));
    println!(
        "demo prompt+rag vs few-shot, {cases} cases, mock latency {} ms, warm index: {:.3} s \
         vs {:.3} s, retrieval adds {:+.1}%",
        latency.as_millis(),
        rag.as_secs_f64(),
        plain.as_secs_f64(),
        (rag.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
}

fn main() {
    let full = measuring();
    index_markdown(if full { 10_000_000 } else { 100_000 });
    // The demo's real model takes about a second an answer; 500 ms keeps the mock honest
    // about what a run costs, and the figure comparable to it.
    if full {
        warm_rerun_overhead(24, 5, Duration::from_millis(500));
    } else {
        warm_rerun_overhead(3, 1, Duration::from_millis(5));
    }
    let mut c = Criterion::default().configure_from_args();
    if full {
        c = c.measurement_time(Duration::from_secs(5)).sample_size(20);
    }
    query_benches(&mut c, if full { 100_000 } else { 2_000 });
    c.final_summary();
}
