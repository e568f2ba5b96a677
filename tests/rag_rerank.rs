//! Reranking and query rewriting through the real binary.
//!
//! - `rerank: { api: … }` against an in-process `/v1/rerank` server (no small reranker
//!   model ships with the test machine; the server also lets the test see exactly what was
//!   asked): the endpoint's order decides which passages the template gets.
//! - `rerank: { llm: … }` and `query_rewrite` against the real llama.cpp chat model: the
//!   stored retrieval says what was searched and how each passage scored, and a rerun
//!   answers both from the cache.

#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{loupe, text};

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{json_server, model_server};
use loupe::store::Store;

/// Three short policies; BM25 ranks `freeze.md` first for the case's question.
fn corpus(dir: &Path) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (name, body) in [
        (
            "freeze.md",
            "# Freeze\n\nNo production deploys during the December freeze.\n",
        ),
        (
            "fridays.md",
            "# Fridays\n\nNo production deploys on Friday after 15:00.\n",
        ),
        (
            "backups.md",
            "# Backups\n\nBackups are kept for 35 days; deploys never touch them.\n",
        ),
    ] {
        std::fs::write(docs.join(name), body).unwrap();
    }
}

/// What the fake server was asked for: rerank queries with their documents, and the user
/// messages of chat requests.
#[derive(Default)]
struct Seen {
    reranks: Vec<(String, Vec<String>)>,
    chats: Vec<String>,
}

/// An OpenAI-compatible server with `/v1/rerank` (scores: documents mentioning "Friday"
/// first, then by length, shortest best) and a non-streaming `/v1/chat/completions` that
/// answers "ok".
fn rerank_server() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = Arc::clone(&seen);
    let url = json_server::start(move |path, req| {
        if path.ends_with("/rerank") {
            let docs: Vec<String> = req["documents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            let results: Vec<serde_json::Value> = docs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let friday = if d.contains("Friday") { 100.0 } else { 0.0 };
                    serde_json::json!({
                        "index": i,
                        "relevance_score": friday - d.len() as f64 / 100.0,
                    })
                })
                .collect();
            let query = req["query"].as_str().unwrap().to_owned();
            log.lock().unwrap().reranks.push((query, docs));
            (200, serde_json::json!({ "results": results }))
        } else {
            log.lock().unwrap().chats.push(json_server::last_user(req));
            (200, json_server::chat_answer("ok"))
        }
    });
    (format!("{url}/v1"), seen)
}

fn write_session(dir: &Path, chat_base: &str, rerank_base: &str, rag_extra: &str) {
    let yaml = format!(
        r#"name: rerank
models:
  chat:
    provider: openai
    base_url: {chat_base}
    model: chat
    stream: false
    params: {{ temperature: 0, max_tokens: 24, seed: 1 }}
  ranker:
    provider: openai
    base_url: {rerank_base}
    model: bge-reranker
templates:
  t:
    user: "{{% for p in passages %}}[{{{{ p.id }}}}] {{{{ p.text }}}}\n{{% endfor %}}Q: {{{{ text }}}}"
  rewrite:
    user: "Rewrite as a short search query: {{{{ text }}}}"
  score:
    user: "Rate 0-10 how well this passage answers the query. Query: {{{{ query }}}} Passage: {{{{ passage }}}} Answer with a number."
rag:
  docs:
    corpus: [docs/*]
    chunk: {{ tokens: 60, overlap: 0 }}
    retriever: bm25
    top_k: 3
    keep: 1
{rag_extra}variants:
  - {{ name: rag, template: t, model: chat, rag: docs }}
cases:
  - {{ id: c1, text: "Can we do production deploys during the freeze?", relevant: [docs/freeze.md] }}
"#
    );
    std::fs::write(dir.join("rerank.yaml"), yaml).unwrap();
}

fn only_retrieval(dir: &Path, run: &str) -> loupe::store::RetrievalRecord {
    let store = Store::open(&dir.join(".loupe/store")).unwrap();
    let mut all = store.rag_index().unwrap().retrievals(run).unwrap();
    assert_eq!(all.len(), 1, "one case, one retrieval");
    all.pop().unwrap().2
}

#[test]
fn an_api_reranker_decides_which_passages_the_template_gets() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    let (url, seen) = rerank_server();
    write_session(dir, &url, &url, "    rerank: { api: { model: ranker } }\n");

    let out = loupe(dir, &["run", "rerank.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = text(&out.stdout).trim().to_owned();

    let r = only_retrieval(dir, &run);
    let ids = |v: &[loupe::store::ScoredPassage]| -> Vec<String> {
        v.iter().map(|p| p.source.clone()).collect()
    };
    // BM25 puts the freeze policy first; the reranker puts the Friday one first, and
    // `keep: 1` gives the template only that one.
    assert_eq!(ids(&r.retrieved)[0], "docs/freeze.md", "{r:?}");
    assert_eq!(ids(&r.reranked)[0], "docs/fridays.md", "{r:?}");
    assert_eq!(ids(&r.kept), ["docs/fridays.md"], "{r:?}");
    let mut sorted = ids(&r.reranked);
    sorted.sort();
    let mut retrieved = ids(&r.retrieved);
    retrieved.sort();
    assert_eq!(sorted, retrieved, "rerank reorders, never drops or adds");
    assert!(
        r.reranked.windows(2).all(|w| w[0].score >= w[1].score),
        "{r:?}"
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.reranks.len(), 1);
    let (query, docs) = &seen.reranks[0];
    assert_eq!(query, "Can we do production deploys during the freeze?");
    assert_eq!(
        docs.len(),
        3,
        "every retrieved passage is sent to the reranker"
    );
    assert_eq!(seen.chats.len(), 1);
    assert!(seen.chats[0].contains("after 15:00"), "{}", seen.chats[0]);
    assert!(
        !seen.chats[0].contains("December freeze"),
        "a passage cut by keep never reaches the prompt: {}",
        seen.chats[0]
    );
    assert_eq!(r.citation_pattern, None);
}

#[test]
fn a_rerank_endpoint_that_is_not_there_fails_the_cell_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    let (chat, _) = rerank_server();
    // A "reranker" that is an ordinary chat server: /v1/rerank answers 404 there.
    let bad = json_server::start(|_, _| (404, serde_json::json!({"error": "not found"})));
    let bad = format!("{bad}/v1");
    write_session(dir, &chat, &bad, "    rerank: { api: { model: ranker } }\n");
    let out = loupe(dir, &["run", "rerank.yaml"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a failed cell: {err}");
    let r = only_retrieval(dir, text(&out.stdout).trim());
    let e = r.error.as_deref().unwrap_or_default();
    assert!(e.contains("rerank endpoint of ranker"), "{e}");
    assert!(e.contains("404"), "{e}");
}

#[test]
fn llm_rerank_and_query_rewrite_with_the_real_model() {
    let Some(chat) = model_server::server() else {
        model_server::skip_note("llm rerank and query rewrite");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);
    let base = format!("{chat}/v1");
    write_session(
        dir,
        &base,
        &base,
        "    rerank: { llm: { template: score, model: chat } }\n    \
         query_rewrite: { template: rewrite, model: chat }\n",
    );
    let out = loupe(dir, &["run", "rerank.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = text(&out.stdout).trim().to_owned();
    let r = only_retrieval(dir, &run);
    assert_eq!(r.error, None);
    assert_eq!(r.query, "Can we do production deploys during the freeze?");
    let rewritten = r.rewritten.clone().expect("the rewrite is recorded");
    assert!(!rewritten.is_empty());
    assert_eq!(r.retrieved.len(), r.reranked.len(), "{r:?}");
    for p in &r.reranked {
        assert!(
            (0.0..=10.0).contains(&p.score),
            "an llm score is 0-10: {r:?}"
        );
    }
    assert!(
        r.reranked.windows(2).all(|w| w[0].score >= w[1].score),
        "sorted by the model's scores: {r:?}"
    );
    assert_eq!(r.kept.len(), 1);
    assert_eq!(r.kept[0].id, r.reranked[0].id);

    // A rerun asks the model nothing new: the rewrite, the scores and the answer all come
    // from the cache, so the retrieval is the same.
    let again = loupe(dir, &["run", "rerank.yaml"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("1 cached"),
        "{}",
        text(&again.stderr)
    );
    let r2 = only_retrieval(dir, text(&again.stdout).trim());
    assert_eq!(r2.rewritten, r.rewritten);
    assert_eq!(r2.reranked, r.reranked);
}
