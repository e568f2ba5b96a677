//! The engine from the command line, through the real binary: the response cache and
//! `--no-cache`, failed cells keeping their error and attempt count, `loupe runs` and
//! `loupe report --format json`, a store held by another process, a store of another schema
//! version, and a small run against the real local model.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::cli::{loupe_store as loupe, stderr, stdout};
use common::mock_openai;
use loupe::store::Store;

/// A session of `cases` cases and two variants on the model at `base_url`.
fn write_session(dir: &Path, base_url: &str, cases: usize, extra_model: &str) -> PathBuf {
    let yaml = format!(
        r#"name: engine
models:
  main:
    provider: openai
    base_url: {base_url}
    model: smollm2-135m
    params: {{ max_tokens: 24, temperature: 0, seed: 1 }}
    concurrency: 2
    price: {{ input_per_mtok: 1.0, output_per_mtok: 2.0 }}
{extra_model}templates:
  ask:
    system: Answer in one short sentence.
    user: "What is {{{{ thing }}}}?"
  polite:
    inherits: ask
    user: "Please tell me: what is {{{{ thing }}}}?"
variants:
  - {{ name: plain, template: ask, model: main }}
  - {{ name: polite, template: polite, model: main }}
cases:
"#
    );
    let mut yaml = yaml;
    for (i, thing) in ["a cat", "rain", "a kettle", "the moon", "bread", "a bridge"]
        .iter()
        .cycle()
        .take(cases)
        .enumerate()
    {
        yaml.push_str(&format!("  - {{ id: c{i}, thing: \"{thing} {i}\" }}\n"));
    }
    let path = dir.join("engine.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn run_id(out: &Output) -> String {
    assert!(out.status.success(), "run failed: {}", stderr(out));
    stdout(out).trim().to_owned()
}

#[test]
fn a_rerun_is_served_from_the_cache_and_no_cache_bypasses_it() {
    let server = mock_openai::start_in_thread(Duration::from_millis(1));
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &server.base_url(), 5, "");
    let store = dir.path().join("store");
    let session = session.to_str().unwrap();

    let first = run_id(&loupe(&store, &["run", session]));
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 10);

    let second = run_id(&loupe(&store, &["run", session]));
    assert_ne!(first, second);
    assert_eq!(
        server.state.requests.load(Ordering::SeqCst),
        10,
        "an unchanged cell must cost no request"
    );
    {
        let st = Store::open(&store).unwrap();
        let outs: Vec<_> = st.outputs(&second).map(Result::unwrap).collect();
        assert_eq!(outs.len(), 10);
        assert!(outs.iter().all(|o| o.cached), "cache hits are marked");
        let firsts: Vec<_> = st.outputs(&first).map(Result::unwrap).collect();
        assert!(firsts.iter().all(|o| !o.cached));
        assert_eq!(
            outs.iter().map(|o| &o.text).collect::<Vec<_>>(),
            firsts.iter().map(|o| &o.text).collect::<Vec<_>>()
        );
    }

    let third = run_id(&loupe(&store, &["run", session, "--no-cache"]));
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 20);
    let st = Store::open(&store).unwrap();
    assert!(st.outputs(&third).all(|o| !o.unwrap().cached));
    drop(st);

    // The report counts the cached cells and gives per-variant figures as JSON.
    let report = loupe(&store, &["report", &second, "--format", "json"]);
    assert!(report.status.success(), "{}", stderr(&report));
    let json: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let variants = json["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    for v in variants {
        assert_eq!(v["n"], 5);
        assert_eq!(v["cached"], 5);
        assert_eq!(v["errors"], 0);
        assert!(v["tokens_in"].as_u64().unwrap() > 0);
        assert!(v["cost_usd"].as_f64().unwrap() > 0.0);
        assert!(v["latency_p50_ms"].is_number());
    }
    let table = loupe(&store, &["report", &second]);
    let text = stdout(&table);
    assert!(text.contains("plain") && text.contains("polite"), "{text}");

    let runs = loupe(&store, &["runs"]);
    let text = stdout(&runs);
    for id in [&first, &second, &third] {
        assert!(text.contains(id.as_str()), "runs lists {id}: {text}");
    }
}

#[test]
fn a_failed_cell_keeps_its_error_and_attempt_count() {
    // Nothing listens on this port: every attempt is refused.
    let port = common::http::free_port();
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &format!("http://127.0.0.1:{port}/v1"), 1, "");
    let text = std::fs::read_to_string(&session)
        .unwrap()
        .replace("concurrency: 2", "concurrency: 2\n    retries: 2");
    std::fs::write(&session, text).unwrap();
    let store = dir.path().join("store");
    let out = loupe(&store, &["run", session.to_str().unwrap()]);
    let id = stdout(&out).trim().to_owned();
    assert!(!id.is_empty(), "{}", stderr(&out));
    let st = Store::open(&store).unwrap();
    let outs: Vec<_> = st.outputs(&id).map(Result::unwrap).collect();
    assert_eq!(outs.len(), 2);
    for o in &outs {
        let err = o.error.as_deref().expect("the cell failed");
        assert!(!err.is_empty());
        assert_eq!(o.attempts, 3, "1 try + 2 retries on a refused connection");
    }
}

#[test]
fn a_store_held_by_another_process_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let held = Store::open(&store_dir).unwrap();
    let out = loupe(&store_dir, &["runs"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("in use by"), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "says which process: {err}"
    );
    drop(held);
    let out = loupe(&store_dir, &["runs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_store_of_another_schema_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    {
        let db = sled::open(&store_dir).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(b"schema_version", &999u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let out = loupe(&store_dir, &["runs"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("schema version 999"), "{err}");
}

#[test]
fn a_small_run_against_the_real_local_model() {
    let Some(base) = common::model_server::server() else {
        common::model_server::skip_note("the real-model run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), &format!("{base}/v1"), 2, "");
    let store = dir.path().join("store");
    let id = run_id(&loupe(&store, &["run", session.to_str().unwrap()]));
    let st = Store::open(&store).unwrap();
    let outs: Vec<_> = st.outputs(&id).map(Result::unwrap).collect();
    assert_eq!(outs.len(), 4);
    for o in &outs {
        assert!(o.error.is_none(), "{:?}", o.error);
        assert!(!o.text.trim().is_empty());
        assert!(!o.usage.estimated, "llama.cpp reports usage");
        assert!(o.usage.input_tokens > 0 && o.usage.output_tokens > 0);
        assert!(
            o.ttft_ms.is_some(),
            "streamed, so time to first token is measured"
        );
        assert!(o.ttft_ms.unwrap() <= o.latency_ms);
    }
}

#[test]
fn a_rag_variant_retrieves_and_a_missing_corpus_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), "http://127.0.0.1:9/v1", 1, "");
    let text = std::fs::read_to_string(&session).unwrap().replace(
        "variants:\n",
        "rag:\n  docs:\n    corpus: [\"*.md\"]\n    retriever: bm25\n    top_k: 2\nvariants:\n  - { name: grounded, template: ask, model: main, rag: docs }\n",
    );
    std::fs::write(&session, text).unwrap();
    let store = dir.path().join("store");
    let out = loupe(&store, &["run", session.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"*.md\" matches no file"),
        "{}",
        stderr(&out)
    );
    // With a corpus the RAG variant retrieves (BM25 needs no model) and runs with the rest
    // (here against nothing listening, so cells fail, but the run is planned and stored).
    std::fs::write(dir.path().join("a.md"), "# A\n\nA cat sits.\n").unwrap();
    let out = loupe(&store, &["run", session.to_str().unwrap()]);
    assert!(!stdout(&out).trim().is_empty(), "{}", stderr(&out));
    let out = loupe(
        &store,
        &["run", session.to_str().unwrap(), "--variant", "plain"],
    );
    assert!(!stdout(&out).trim().is_empty(), "{}", stderr(&out));
}

#[test]
fn a_run_that_cannot_start_leaves_no_run_behind() {
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), "http://127.0.0.1:9/v1", 1, "");
    let text = std::fs::read_to_string(&session).unwrap().replace(
        "    concurrency: 2\n",
        "    concurrency: 2\n    api_key_env: LOUPE_TEST_KEY_NEVER_SET\n",
    );
    std::fs::write(&session, text).unwrap();
    let store = dir.path().join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(&store)
        .args(["run", session.to_str().unwrap()])
        .env_remove("LOUPE_TEST_KEY_NEVER_SET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("LOUPE_TEST_KEY_NEVER_SET"),
        "{}",
        stderr(&out)
    );
    let runs = loupe(&store, &["runs"]);
    assert!(
        !stdout(&runs).contains("running"),
        "a run that never started is not listed as running:\n{}",
        stdout(&runs)
    );
}

#[test]
fn run_options_that_cannot_apply_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let session = write_session(dir.path(), "http://127.0.0.1:9/v1", 1, "");
    let store = dir.path().join("store");
    let s = session.to_str().unwrap();
    // A resumed run keeps its own selection.
    let out = loupe(&store, &["run", s, "--resume", "r1", "--variant", "plain"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    // An unknown run to take the failed cases from is named as such.
    let out = loupe(&store, &["run", s, "--failed-in", "nosuch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no run nosuch"), "{}", stderr(&out));
}

#[test]
fn a_template_error_in_run_says_where_like_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("t.yaml");
    std::fs::write(
        &session,
        "name: t\nmodels:\n  m: { provider: openai, base_url: \"http://127.0.0.1:9/v1\", model: x }\ntemplates:\n  t:\n    user: \"Hi {{ nope }}\"\nvariants:\n  - { name: a, template: t, model: m }\ncases:\n  - { id: c1, text: hello }\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = loupe(&store, &["run", session.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("t.yaml:6:11: template `t` (user), line 1: undefined variable `nope`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let out = loupe(
        &dir.path().join("store"),
        &["check", missing.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot read the session file"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}
