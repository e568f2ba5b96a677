//! Retrieval for RAG variants, before their cells ask the model:
//! `query = rewrite(input); passages = rerank(retrieve(query, top_k))[..keep]`, then the
//! variant's template is rendered again with `passages` (and `query`, `rewritten_query`),
//! so the request, and with it the cache key, holds exactly what the model was given.
//!
//! Each config's index is built (or found) once per run. What retrieval did for a cell is
//! stored beside its output (`RetrievalRecord`); a cell whose retrieval failed gets an
//! error output and is not sent. Query rewrites and LLM rerank scores go through the
//! response cache like any chat request, and query vectors through the embedding store,
//! so a rerun with a warm index sends nothing but what changed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::{Cell, Endpoint, RunError};
use crate::providers::{ChatRequest, Completion, Failure, request_hash};
use crate::rag::build::{BuildStats, Embedder, Progress, build, embed_texts, text_hash};
use crate::rag::{ChunkSettings, Hit, Index};
use crate::session::Session;
use crate::spec::{Case, ModelSpec, RagSpec, RerankSpec, Retriever};
use crate::store::{
    CacheRecord, CorpusRecord, PassageRecord, RetrievalRecord, RunRecord, ScoredPassage, Store,
    now_ms,
};
use crate::template::{Passage, QueryVars, Renderer, build_rag_request};

/// What a run needs to retrieve: the session's RAG configs and the templates and models
/// they name, and for each RAG variant how its request is built.
pub struct RagPlan {
    pub dir: PathBuf,
    pub configs: IndexMap<String, RagSpec>,
    pub models: IndexMap<String, ModelSpec>,
    pub renderer: Arc<Renderer>,
    /// Variant name -> how its requests are built.
    pub variants: HashMap<String, RagVariant>,
}

pub struct RagVariant {
    pub rag: String,
    /// The template's name in `renderer`.
    pub template: String,
    pub model: ModelSpec,
    pub response_format: Option<serde_json::Value>,
    /// The pattern of the variant's `citations` check, if it has one.
    pub citation_pattern: Option<String>,
}

/// A plan for one config alone (`loupe rag`): no variants.
pub fn config_plan(session: &Session) -> Result<RagPlan, String> {
    let renderer = session
        .renderer()
        .map_err(|e| session.located_template_errors(e.0))?;
    Ok(RagPlan {
        dir: session.dir.clone(),
        configs: session.file.rag.clone(),
        models: session.file.models.clone(),
        renderer: Arc::new(renderer),
        variants: HashMap::new(),
    })
}

/// The RAG part of a plan, when any of the run's variants retrieves.
pub fn rag_plan(session: &Session, run: &RunRecord) -> Result<Option<Arc<RagPlan>>, String> {
    if run.variants.iter().all(|v| v.rag.is_none()) {
        return Ok(None);
    }
    let renderer = session
        .renderer()
        .map_err(|e| session.located_template_errors(e.0))?;
    let mut variants = HashMap::new();
    for v in &run.variants {
        let Some(rag) = &v.rag else { continue };
        let enforce = session.variant(&v.name).and_then(|s| s.enforce_schema);
        let citation_pattern = session.checks_for(&v.name).iter().find_map(|c| match c {
            crate::spec::CheckSpec::Citations(c) => Some(c.pattern.clone()),
            _ => None,
        });
        variants.insert(
            v.name.clone(),
            RagVariant {
                rag: rag.clone(),
                template: v.template.clone(),
                model: v.model.to_spec(),
                response_format: enforce.and(renderer.schema_json(&v.template)).cloned(),
                citation_pattern,
            },
        );
    }
    Ok(Some(Arc::new(RagPlan {
        dir: session.dir.clone(),
        configs: session.file.rag.clone(),
        models: session.file.models.clone(),
        renderer: Arc::new(renderer),
        variants,
    })))
}

impl RagPlan {
    /// The session models retrieval calls (embedders, rewriters, rerankers), by name, for
    /// the configs the variants use.
    pub fn model_names(&self) -> Vec<&str> {
        self.models_for(self.variants.values().map(|v| v.rag.as_str()))
    }

    /// The same for the named configs.
    pub fn models_for<'a>(&'a self, configs: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
        let mut out = Vec::new();
        for name in configs {
            let Some(c) = self.configs.get(name) else {
                continue;
            };
            out.extend(c.embedder.as_deref());
            out.extend(c.query_embedder.as_deref());
            out.extend(c.query_rewrite.as_ref().map(|q| q.model.as_str()));
            match &c.rerank {
                RerankSpec::Llm { model, .. } | RerankSpec::Api { model } => out.push(model),
                RerankSpec::None | RerankSpec::Mmr { .. } => {}
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// One config's index, ready to retrieve from.
pub struct Built {
    pub index: Index,
    pub corpus: CorpusRecord,
    query_embedder: Option<Embedder>,
}

/// Builds (or finds in the store) the index of the config `name`, reporting progress.
pub async fn build_config(
    store: &Store,
    rag: &RagPlan,
    name: &str,
    endpoints: &HashMap<String, Endpoint>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Built, BuildStats), RunError> {
    let index_store = store.rag_index()?;
    let spec = rag
        .configs
        .get(name)
        .ok_or_else(|| RunError::Rag(format!("no rag config {name:?} in the session")))?;
    let embedder = match (&spec.embedder, spec.retriever) {
        (Some(e), Retriever::Embedding | Retriever::Hybrid) => Some(embedder_for(endpoints, e)?),
        _ => None,
    };
    let query_embedder = match (&spec.query_embedder, &embedder) {
        (Some(q), Some(_)) => Some(embedder_for(endpoints, q)?),
        (_, e) => e.clone(),
    };
    let settings = ChunkSettings {
        tokens: spec.chunk.tokens,
        overlap: spec.chunk.overlap,
    };
    let (index, corpus, stats) = build(
        &rag.dir,
        &spec.corpus,
        settings,
        embedder.as_ref(),
        &index_store,
        cancel,
        progress,
    )
    .await
    .map_err(|e| RunError::Rag(format!("rag config {name}: {e}")))?;
    Ok((
        Built {
            index,
            corpus,
            query_embedder,
        },
        stats,
    ))
}

/// Retrieves for one query with a built config, as a run would for a case whose only
/// variable is `text` (what `loupe rag` shows).
pub async fn retrieve_query(
    store: &Store,
    rag: &RagPlan,
    name: &str,
    built: Arc<Built>,
    endpoints: &HashMap<String, Endpoint>,
    query: &str,
    cancel: &CancellationToken,
) -> Result<(RetrievalRecord, Vec<Passage>), String> {
    let mut vars = serde_json::Map::new();
    vars.insert("text".into(), serde_json::Value::String(query.to_owned()));
    let case = Case {
        id: "query".into(),
        vars,
        reference: None,
        tags: Vec::new(),
        split: None,
        gold: None,
        relevant: Vec::new(),
    };
    let built_map: HashMap<String, Arc<Built>> = HashMap::from([(name.to_owned(), built)]);
    let ctx = Ctx {
        store,
        rag,
        built: &built_map,
        endpoints,
        no_cache: false,
        cancel,
    };
    ctx.retrieve(name, &case)
        .await
        .map(|r| (r.record, r.passages))
}

fn embedder_for(endpoints: &HashMap<String, Endpoint>, name: &str) -> Result<Embedder, RunError> {
    let e = endpoints.get(name).ok_or_else(|| RunError::NoEndpoint {
        model: name.to_owned(),
    })?;
    Embedder::new(e.client.clone(), &e.spec.model)
        .map_err(|err| RunError::Rag(format!("embedder {name}: {err}")))
}

/// Builds the indexes the plan's RAG variants use and retrieves for every cell that has
/// no output yet; those cells' requests are rebuilt with their passages. An index that
/// cannot be built stops the run before anything is stored for it.
pub async fn prepare(
    store: &Store,
    rag: &RagPlan,
    cells: &mut [Arc<Cell>],
    endpoints: &HashMap<String, Endpoint>,
    no_cache: bool,
    cancel: &CancellationToken,
) -> Result<(), RunError> {
    let index_store = store.rag_index()?;
    let mut built: HashMap<String, Arc<Built>> = HashMap::new();
    let mut needed: Vec<&str> = rag.variants.values().map(|v| v.rag.as_str()).collect();
    needed.sort_unstable();
    needed.dedup();
    for name in needed {
        let b = build_config(store, rag, name, endpoints, cancel, &mut |_| {}).await?;
        built.insert(name.to_owned(), Arc::new(b.0));
    }

    // One retrieval per (variant, case); repeats share it.
    let mut jobs: Vec<(String, Arc<Case>)> = Vec::new();
    for cell in cells.iter() {
        if !rag.variants.contains_key(&cell.key.variant) || store.has_output(&cell.key)? {
            continue;
        }
        let job = (cell.key.variant.clone(), cell.case.clone());
        if !jobs.iter().any(|(v, c)| *v == job.0 && c.id == job.1.id) {
            jobs.push(job);
        }
    }
    let ctx = Ctx {
        store,
        rag,
        built: &built,
        endpoints,
        no_cache,
        cancel,
    };
    // Futures made up front (see `rag::build::embed_texts` for why).
    let futures: Vec<_> = jobs
        .into_iter()
        .map(|(variant, case)| async move {
            let key = (variant.clone(), case.id.clone());
            let config = &rag.variants[&variant].rag;
            let r = ctx.retrieve(config, &case).await;
            (key, r)
        })
        .collect();
    let results: Vec<((String, String), Result<Retrieved, String>)> =
        futures::stream::iter(futures)
            .buffer_unordered(8)
            .collect()
            .await;
    let results: HashMap<(String, String), Result<Retrieved, String>> =
        results.into_iter().collect();

    for cell in cells.iter_mut() {
        let key = (cell.key.variant.clone(), cell.key.case_id.clone());
        let Some(result) = results.get(&key) else {
            continue;
        };
        let v = &rag.variants[&cell.key.variant];
        let record = match result {
            Ok(r) => RetrievalRecord {
                relevant: cell.case.relevant.clone(),
                citation_pattern: v.citation_pattern.clone(),
                ..r.record.clone()
            },
            Err(e) => RetrievalRecord {
                config: v.rag.clone(),
                corpus: built
                    .get(&v.rag)
                    .map(|b| b.corpus.id.clone())
                    .unwrap_or_default(),
                query: String::new(),
                rewritten: None,
                retrieved: Vec::new(),
                reranked: Vec::new(),
                kept: Vec::new(),
                error: Some(e.clone()),
                relevant: cell.case.relevant.clone(),
                citation_pattern: v.citation_pattern.clone(),
            },
        };
        if cell.key.repeat == 0 {
            index_store.put_retrieval(
                &cell.key.run_id,
                &cell.key.variant,
                &cell.key.case_id,
                &record,
            )?;
        }
        let mut next = (**cell).clone();
        match result {
            Ok(r) => {
                let request = build_rag_request(
                    &rag.renderer,
                    &v.template,
                    &cell.case,
                    &r.passages,
                    Some(QueryVars {
                        query: &r.record.query,
                        rewritten: r.record.rewritten.as_deref(),
                    }),
                    &v.model,
                    v.response_format.as_ref(),
                )
                .map_err(|e| RunError::Rag(format!("variant {}: {e}", cell.key.variant)))?;
                let hash = request_hash(&v.model, &request);
                next.request_hash = match cell.key.repeat {
                    0 => hash,
                    n => format!("{hash}#{n}"),
                };
                next.request = request;
                next.passages = r
                    .passages
                    .iter()
                    .map(|p| PassageRecord {
                        id: p.id.clone(),
                        text: p.text.clone(),
                        score: p.score,
                        source: p.source.clone(),
                        headings: p.headings.clone(),
                    })
                    .collect();
            }
            Err(e) => next.retrieval_error = Some(format!("retrieval (rag config {}): {e}", v.rag)),
        }
        *cell = Arc::new(next);
    }
    Ok(())
}

/// What retrieval found for one (variant, case).
struct Retrieved {
    record: RetrievalRecord,
    passages: Vec<Passage>,
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    store: &'a Store,
    rag: &'a RagPlan,
    built: &'a HashMap<String, Arc<Built>>,
    endpoints: &'a HashMap<String, Endpoint>,
    no_cache: bool,
    cancel: &'a CancellationToken,
}

/// The text searched for a case when no rewrite is configured: its string variables, in
/// order, one per line (most cases have one input, `text`, and that is the query).
pub fn case_query(case: &Case) -> String {
    case.vars
        .values()
        .filter_map(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Ctx<'_> {
    async fn retrieve(self, config: &str, case: &Case) -> Result<Retrieved, String> {
        let spec = &self.rag.configs[config];
        let built = &self.built[config];
        let query = case_query(case);
        let rewritten = match &spec.query_rewrite {
            Some(q) => {
                let c = self
                    .chat(&q.model, &q.template, case, &[])
                    .await
                    .map_err(|e| format!("query rewrite with {}: {e}", q.model))?;
                Some(c.text.trim().to_owned())
            }
            None => None,
        };
        let search = rewritten.as_deref().unwrap_or(&query);
        let top_k = spec.top_k as usize;
        let vector = match (&built.query_embedder, spec.retriever) {
            (Some(e), Retriever::Embedding | Retriever::Hybrid) => {
                let hash = text_hash(search);
                let (mut v, _, _) = embed_texts(
                    e,
                    &[(hash.as_str(), search)],
                    &self.store.rag_index().map_err(|e| e.to_string())?,
                    self.cancel,
                    &mut |_| {},
                )
                .await
                .map_err(|e| e.to_string())?;
                v.pop()
            }
            _ => None,
        };
        let ix = &built.index;
        let hits = match (spec.retriever, &vector) {
            (Retriever::Bm25, _) => ix.bm25(search, top_k),
            (Retriever::Embedding, Some(q)) => ix.dense(q, top_k).map_err(|e| e.to_string())?,
            (Retriever::Hybrid, Some(q)) => {
                ix.hybrid(search, q, top_k).map_err(|e| e.to_string())?
            }
            (_, None) => return Err("the config has no embedder for its retriever".into()),
        };
        let reranked = match &spec.rerank {
            RerankSpec::None => hits.clone(),
            RerankSpec::Mmr { lambda } => ix.mmr(&hits, hits.len(), *lambda as f32),
            RerankSpec::Llm { template, model } => {
                self.llm_rerank(ix, &hits, template, model, case, search)
                    .await?
            }
            RerankSpec::Api { model } => self.api_rerank(ix, &hits, model, search).await?,
        };
        let keep = spec.keep.map_or(reranked.len(), |k| k as usize);
        let kept: Vec<Hit> = reranked.iter().take(keep).copied().collect();
        let scored = |hits: &[Hit]| -> Vec<ScoredPassage> {
            hits.iter()
                .map(|h| {
                    let p = ix.passage(h.chunk);
                    ScoredPassage {
                        id: p.id.clone(),
                        source: p.source.clone(),
                        score: f64::from(h.score),
                    }
                })
                .collect()
        };
        let passages = kept
            .iter()
            .map(|h| {
                let p = ix.passage(h.chunk);
                Passage {
                    id: p.id.clone(),
                    text: p.text.clone(),
                    score: f64::from(h.score),
                    source: p.source.clone(),
                    headings: p.headings.clone(),
                }
            })
            .collect();
        Ok(Retrieved {
            record: RetrievalRecord {
                config: config.to_owned(),
                corpus: built.corpus.id.clone(),
                query,
                rewritten,
                retrieved: scored(&hits),
                reranked: scored(&reranked),
                kept: scored(&kept),
                error: None,
                relevant: case.relevant.clone(),
                citation_pattern: None,
            },
            passages,
        })
    }

    /// One chat request for retrieval (a rewrite, a rerank score), through the cache.
    async fn chat(
        self,
        model_name: &str,
        template: &str,
        case: &Case,
        extra: &[(&str, &str)],
    ) -> Result<Completion, String> {
        let endpoint = self
            .endpoints
            .get(model_name)
            .ok_or_else(|| format!("no endpoint for model {model_name}"))?;
        let messages = self
            .rag
            .renderer
            .render_with(template, case, &[], extra)
            .map_err(|e| e.to_string())?;
        let req = ChatRequest {
            model: endpoint.spec.model.clone(),
            messages,
            params: endpoint.spec.params.clone(),
            response_format: None,
            top_logprobs: None,
        };
        let hash = request_hash(&endpoint.spec, &req);
        if !self.no_cache
            && let Some(hit) = self.store.cached(&hash).map_err(|e| e.to_string())?
        {
            return Ok(hit.completion);
        }
        let completion = endpoint
            .client
            .complete(&req, self.cancel, &mut |_| {})
            .await
            .map_err(|f: Failure| f.error.to_string())?;
        self.store
            .put_cached(
                &hash,
                &CacheRecord {
                    completion: completion.clone(),
                    provider: endpoint.spec.provider.into(),
                    created_ms: now_ms(),
                },
            )
            .map_err(|e| e.to_string())?;
        Ok(completion)
    }

    /// Each candidate scored 0-10 by a chat model (the first number in its answer; no
    /// number scores 0), then sorted by that score (ties keep retrieval order).
    async fn llm_rerank(
        self,
        ix: &Index,
        hits: &[Hit],
        template: &str,
        model: &str,
        case: &Case,
        query: &str,
    ) -> Result<Vec<Hit>, String> {
        let mut scored = Vec::with_capacity(hits.len());
        let futures: Vec<_> = hits
            .iter()
            .map(|h| {
                let text = ix.passage(h.chunk).text.clone();
                async move {
                    let extra = [("query", query), ("passage", text.as_str())];
                    self.chat(model, template, case, &extra).await
                }
            })
            .collect();
        let answers: Vec<Result<Completion, String>> =
            futures::stream::iter(futures).buffered(4).collect().await;
        for (h, answer) in hits.iter().zip(answers) {
            let answer = answer.map_err(|e| format!("llm rerank with {model}: {e}"))?;
            scored.push(Hit {
                chunk: h.chunk,
                score: first_number(&answer.text).unwrap_or(0.0).clamp(0.0, 10.0),
            });
        }
        // A stable sort: equal scores stay in retrieval order.
        scored.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(scored)
    }

    async fn api_rerank(
        self,
        ix: &Index,
        hits: &[Hit],
        model: &str,
        query: &str,
    ) -> Result<Vec<Hit>, String> {
        let endpoint = self
            .endpoints
            .get(model)
            .ok_or_else(|| format!("no endpoint for model {model}"))?;
        let documents: Vec<String> = hits
            .iter()
            .map(|h| ix.passage(h.chunk).text.clone())
            .collect();
        let ranked = endpoint
            .client
            .rerank(&endpoint.spec.model, query, &documents, self.cancel)
            .await
            .map_err(|f| format!("rerank endpoint of {model}: {}", f.error))?;
        let mut out: Vec<Hit> = ranked
            .into_iter()
            .map(|(i, score)| Hit {
                chunk: hits[i].chunk,
                score: score as f32,
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(out)
    }
}

/// The first decimal number in a text ("Score: 7/10" -> 7).
pub fn first_number(text: &str) -> Option<f32> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('.').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_model_answers() {
        assert_eq!(first_number("Score: 7/10"), Some(7.0));
        assert_eq!(first_number("8.5."), Some(8.5));
        assert_eq!(first_number("none"), None);
    }

    #[test]
    fn the_case_query_is_its_text_variables() {
        let case: Case = serde_json::from_value(serde_json::json!({
            "id": "c", "vars": {"text": "Drop the table.", "n": 3, "note": "tonight"}
        }))
        .expect("case");
        assert_eq!(case_query(&case), "Drop the table.\ntonight");
    }
}
