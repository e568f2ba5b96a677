//! `loupe rag SESSION CONFIG "query"`: the passages a RAG config retrieves for a query,
//! ranked, with scores and sources, to tune a config from the shell; `--index` builds or
//! refreshes the config's index with a progress bar.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::{Format, Outcome};
use crate::rag::build::Progress;
use crate::runner::Endpoint;
use crate::runner::retrieval::{self, Built, RagPlan};
use crate::sanitize::sanitize;
use crate::services::Services;
use crate::store::{RetrievalRecord, Store};
use crate::template::Passage;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub session: std::path::PathBuf,
    /// The RAG config (a name under `rag:` in the session).
    pub config: String,
    /// The query to retrieve for (not with --index).
    #[arg(required_unless_present = "index", conflicts_with = "index")]
    pub query: Option<String>,
    /// Build or refresh the index only: read and chunk the corpus, embed what is new.
    #[arg(long)]
    pub index: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn main(store_flag: Option<&Path>, args: &Args) -> anyhow::Result<Outcome> {
    let session = crate::session::load(&args.session)?;
    if !session.file.rag.contains_key(&args.config) {
        let known: Vec<&str> = session.file.rag.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no rag config `{}` in {} (expected one of: {})",
            args.config,
            args.session.display(),
            if known.is_empty() {
                "none: the session has no `rag:` block".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    let plan = retrieval::config_plan(&session).map_err(|e| anyhow::anyhow!(e))?;
    let store_dir = super::store_for_session(store_flag, &args.session);
    let services = Services::new(Store::open(&store_dir)?);
    let mut endpoints = HashMap::new();
    for name in plan.models_for(std::iter::once(args.config.as_str())) {
        let spec = plan
            .models
            .get(name)
            .with_context(|| format!("no model {name}"))?;
        let client = services
            .models()
            .client(spec)
            .with_context(|| format!("model {name}"))?;
        endpoints.insert(
            name.to_owned(),
            Endpoint {
                client,
                spec: spec.clone(),
            },
        );
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let store = services.store();
    rt.block_on(async {
        let cancel = CancellationToken::new();
        let ctrl_c = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            })
        };
        let result = work(store, &plan, args, &endpoints, &cancel).await;
        ctrl_c.abort();
        result
    })
}

async fn work(
    store: &Store,
    plan: &RagPlan,
    args: &Args,
    endpoints: &HashMap<String, Endpoint>,
    cancel: &CancellationToken,
) -> anyhow::Result<Outcome> {
    let bar = ProgressBar::hidden();
    let tty = std::io::stderr().is_terminal();
    if args.index && tty {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut last = None;
    let mut on_progress = |p: Progress| {
        let (msg, done, total) = match p {
            Progress::Chunking { done, total } => ("chunking", done, total),
            Progress::Embedding { done, total } => ("embedding", done, total),
        };
        bar.set_message(msg);
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        // Without a terminal, one line per stage end (a log, not a bar).
        if args.index && !tty && done == total && last != Some(msg) {
            eprintln!("{msg}: {done}/{total}");
            last = Some(msg);
        }
    };
    let (built, stats) = retrieval::build_config(
        store,
        plan,
        &args.config,
        endpoints,
        cancel,
        &mut on_progress,
    )
    .await?;
    bar.finish_and_clear();
    store.flush()?;
    if args.index {
        let msg = format!(
            "index of `{}`: {} documents, {} passages; chunked {} document(s) and embedded {} \
             text(s) in {} request(s) now, the rest was in the store",
            args.config,
            stats.documents,
            stats.passages,
            stats.chunked,
            stats.embedded,
            stats.requests
        );
        match args.format {
            Format::Table => eprintln!("{msg}"),
            Format::Json => {
                let json = serde_json::json!({
                    "config": args.config,
                    "corpus": built.corpus.id,
                    "documents": stats.documents,
                    "passages": stats.passages,
                    "chunked": stats.chunked,
                    "embedded": stats.embedded,
                    "requests": stats.requests,
                });
                println!("{}", serde_json::to_string_pretty(&json)?);
            }
        }
        return Ok(Outcome::Ok);
    }
    let query = args.query.as_deref().unwrap_or_default();
    let built = Arc::new(built);
    let (record, passages) = retrieval::retrieve_query(
        store,
        plan,
        &args.config,
        built.clone(),
        endpoints,
        query,
        cancel,
    )
    .await
    .map_err(|e| anyhow::anyhow!("rag config {}: {e}", args.config))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &json(&record, &built, &passages))?;
            writeln!(out)?;
        }
        Format::Table => table(&mut out, &record, &built)?,
    }
    Ok(Outcome::Ok)
}

fn json(record: &RetrievalRecord, built: &Built, passages: &[Passage]) -> serde_json::Value {
    let kept: Vec<&str> = record.kept.iter().map(|k| k.id.as_str()).collect();
    let by_id: HashMap<&str, &crate::rag::Passage> = built
        .index
        .passages()
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let ranked: Vec<serde_json::Value> = record
        .reranked
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = by_id.get(s.id.as_str());
            let retrieved_rank = record.retrieved.iter().position(|r| r.id == s.id);
            serde_json::json!({
                "rank": i + 1,
                "id": s.id,
                "source": s.source,
                "headings": p.map(|p| p.headings.clone()).unwrap_or_default(),
                "score": s.score,
                "retrieval_rank": retrieved_rank.map(|r| r + 1),
                "retrieval_score": retrieved_rank.map(|r| record.retrieved[r].score),
                "kept": kept.contains(&s.id.as_str()),
                "text": p.map(|p| p.text.clone()).unwrap_or_default(),
            })
        })
        .collect();
    serde_json::json!({
        "config": record.config,
        "corpus": record.corpus,
        "query": record.query,
        "rewritten_query": record.rewritten,
        "passages": ranked,
        "kept": passages.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
    })
}

/// Longest excerpt of a passage on one table line.
const EXCERPT: usize = 70;

fn table(out: &mut impl Write, record: &RetrievalRecord, built: &Built) -> anyhow::Result<()> {
    if let Some(r) = &record.rewritten {
        eprintln!("query rewritten to: {}", sanitize(r));
    }
    let texts: HashMap<&str, &crate::rag::Passage> = built
        .index
        .passages()
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    let width = record
        .reranked
        .iter()
        .map(|s| s.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    writeln!(out, "rank  kept  score     {:<width$}  text", "id")?;
    for (i, s) in record.reranked.iter().enumerate() {
        let kept = record.kept.iter().any(|k| k.id == s.id);
        let p = texts.get(s.id.as_str());
        let mut text: String = p
            .map(|p| {
                let heading = p
                    .headings
                    .last()
                    .map(|h| format!("[{h}] "))
                    .unwrap_or_default();
                format!(
                    "{heading}{}",
                    p.text.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            })
            .unwrap_or_default();
        if text.chars().count() > EXCERPT {
            text = text.chars().take(EXCERPT).collect::<String>() + "…";
        }
        writeln!(
            out,
            "{:>4}  {:^4}  {:<8.4}  {:<width$}  {}",
            i + 1,
            if kept { "*" } else { "" },
            s.score,
            sanitize(&s.id),
            sanitize(&text)
        )?;
    }
    if record.reranked.is_empty() {
        writeln!(
            out,
            "(nothing retrieved: no passage shares a word with the query)"
        )?;
    }
    Ok(())
}
