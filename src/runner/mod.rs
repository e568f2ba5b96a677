//! Runs: variants x cases x repeats, each cell's output written to the store as it completes.
//!
//! Cells are grouped by model and each group is driven by that model's limits, which the
//! process shares (see [`crate::providers::ModelPool`]): a cell starts only once its model
//! has a free slot, so one slow endpoint never holds slots another could use, and two runs
//! at once share the model's concurrency instead of each having its own. The response cache is keyed by the
//! blake3 of the exact request; a cell that already has an output is skipped, which is all
//! that resuming an interrupted run needs. A session's `judge` checks run last, on the
//! finished outputs (`judging.rs`), resumable the same way.

mod judging;
mod plan;
pub mod retrieval;

use std::collections::HashMap;
use std::sync::Arc;

use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::providers::request_hash;
pub use plan::{Cell, JudgePlan, Plan, PlanError, Selection, plan_new_run, plan_resume};

use crate::eval::checks::{CheckInput, CompiledCheck, run_checks, validate_json};
use crate::providers::{
    ChatRequest, Client, Completion, Failure, Limits, Message, ModelPool, ProviderError, Role,
    Slot, StreamEvent,
};
use crate::spec::ModelSpec;
use crate::store::{
    CacheRecord, CellKey, OutputRecord, RunRecord, RunStatus, SchemaAttempt, Store, StoreError,
    cost_usd, now_ms,
};

/// What a run reports while it goes, for progress bars and the TUI.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Started {
        run_id: String,
        total: usize,
        already_done: usize,
    },
    /// Streamed text for a cell (only when the caller asked for deltas).
    Delta {
        key: CellKey,
        text: String,
    },
    /// The text streamed so far for a cell is void: a retry or a schema repair starts the
    /// answer again.
    Restart {
        key: CellKey,
    },
    CellDone {
        key: CellKey,
        cached: bool,
        error: Option<String>,
        passed: bool,
    },
    /// Every cell has an output; a judge now compares `comparisons` pairs of outputs, each
    /// in both orders.
    Judging {
        judge: String,
        comparisons: usize,
    },
    Finished {
        run_id: String,
        status: RunStatus,
    },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Send every request even when the cache has its answer.
    pub no_cache: bool,
    /// Forward streamed text as `RunEvent::Delta` (the TUI wants it, the CLI does not).
    pub deltas: bool,
}

/// One model endpoint as the runner uses it.
#[derive(Clone)]
pub struct Endpoint {
    pub client: Client,
    pub spec: ModelSpec,
}

/// The process's client for each model the plan uses, from `pool` (so the model's limits
/// are shared with every other run of the process).
pub fn endpoints(
    pool: &ModelPool,
    plan: &Plan,
) -> Result<HashMap<String, Endpoint>, ProviderError> {
    let mut out = HashMap::new();
    // A stored run's variants hold the store's record of each model: the client is built
    // from it as the session would say it.
    let models: Vec<(&String, ModelSpec)> = plan
        .run
        .variants
        .iter()
        .map(|v| (&v.model_name, v.model.to_spec()))
        .collect();
    let judges = plan.judges.iter().map(|j| (&j.model_name, j.model.clone()));
    // Retrieval's models (embedders, query rewriters, rerankers) by their session names.
    let rag_models: Vec<(String, ModelSpec)> = plan.rag.as_ref().map_or_else(Vec::new, |r| {
        r.model_names()
            .into_iter()
            .filter_map(|n| r.models.get(n).map(|m| (n.to_owned(), m.clone())))
            .collect()
    });
    let rag_models = rag_models.iter().map(|(n, m)| (n, m.clone()));
    for (name, spec) in models.into_iter().chain(judges).chain(rag_models) {
        let spec = &spec;
        if !out.contains_key(name) {
            let client = pool.client(spec)?;
            out.insert(
                name.clone(),
                Endpoint {
                    client,
                    spec: spec.clone(),
                },
            );
        }
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("model {model} has no endpoint")]
    NoEndpoint { model: String },
    /// Retrieval could not start (an index that cannot be built): nothing of the run is
    /// stored.
    #[error("{0}")]
    Rag(String),
}

/// Executes a plan to the end or until `cancel` fires; returns the run as stored last.
pub async fn execute(
    store: &Store,
    mut plan: Plan,
    endpoints: &HashMap<String, Endpoint>,
    opts: RunOptions,
    cancel: &CancellationToken,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> Result<RunRecord, RunError> {
    // Retrieval first: a RAG config whose index cannot be built refuses the run before
    // anything of it is stored.
    if let Some(rag) = plan.rag.clone() {
        retrieval::prepare(
            store,
            &rag,
            &mut plan.cells,
            endpoints,
            opts.no_cache,
            cancel,
        )
        .await?;
    }
    plan.run.status = RunStatus::Running;
    plan.run.finished_ms = None;
    store.put_run(&plan.run)?;

    let mut todo: HashMap<&str, Vec<Arc<Cell>>> = HashMap::new();
    let mut already_done = 0;
    for cell in &plan.cells {
        if store.has_output(&cell.key)? {
            already_done += 1;
        } else {
            todo.entry(cell.model.as_str())
                .or_default()
                .push(cell.clone());
        }
    }
    let _ = events.send(RunEvent::Started {
        run_id: plan.run.id.clone(),
        total: plan.cells.len(),
        already_done,
    });

    let mut groups = Vec::new();
    for (model, cells) in todo {
        let endpoint = endpoints.get(model).ok_or_else(|| RunError::NoEndpoint {
            model: model.into(),
        })?;
        let ctx = Ctx {
            store,
            endpoint,
            opts,
            cancel,
            events,
        };
        groups.push(admit(
            endpoint.client.limits(),
            cells,
            cancel,
            move |cell, slot| ctx.run_cell(cell, slot),
        ));
    }
    let results = futures::future::join_all(groups).await;
    for result in results.into_iter().flatten() {
        result?;
    }
    // The judges compare outputs, so they go once every cell has one.
    if !cancel.is_cancelled() {
        judging::judge_all(store, &plan, endpoints, opts, cancel, events).await?;
    }

    plan.run.status = if cancel.is_cancelled() {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    plan.run.finished_ms = Some(now_ms());
    store.put_run(&plan.run)?;
    store.flush()?;
    let _ = events.send(RunEvent::Finished {
        run_id: plan.run.id.clone(),
        status: plan.run.status,
    });
    Ok(plan.run)
}

/// The answer to one request, from the cache or the model.
struct Fetched {
    completion: Completion,
    cached: bool,
}

/// What every cell of one model's group shares.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    store: &'a Store,
    endpoint: &'a Endpoint,
    opts: RunOptions,
    cancel: &'a CancellationToken,
    events: &'a mpsc::UnboundedSender<RunEvent>,
}

impl Ctx<'_> {
    async fn fetch(
        self,
        slot: Option<Slot>,
        req: &ChatRequest,
        hash: &str,
        cell: &CellKey,
    ) -> Result<Result<Fetched, Failure>, StoreError> {
        let Self {
            store,
            endpoint,
            opts,
            cancel,
            events,
        } = self;
        if !opts.no_cache
            && let Some(hit) = store.cached(hash)?
        {
            return Ok(Ok(Fetched {
                completion: hit.completion,
                cached: true,
            }));
        }
        let mut on_event = |ev: &StreamEvent| match (opts.deltas, ev) {
            (true, StreamEvent::Delta(text)) => {
                let _ = events.send(RunEvent::Delta {
                    key: cell.clone(),
                    text: text.clone(),
                });
            }
            (true, StreamEvent::Restart { .. }) => {
                let _ = events.send(RunEvent::Restart { key: cell.clone() });
            }
            _ => {}
        };
        match endpoint
            .client
            .complete_in(slot, req, cancel, &mut on_event)
            .await
        {
            Ok(completion) => {
                store.put_cached(
                    hash,
                    &CacheRecord {
                        completion: completion.clone(),
                        provider: endpoint.spec.provider.into(),
                        created_ms: now_ms(),
                    },
                )?;
                Ok(Ok(Fetched {
                    completion,
                    cached: false,
                }))
            }
            Err(failure) => Ok(Err(failure)),
        }
    }

    /// Runs one cell whose first request goes in `slot`.
    async fn run_cell(self, cell: Arc<Cell>, slot: Slot) -> Result<(), StoreError> {
        let Self {
            store,
            endpoint,
            cancel,
            events,
            ..
        } = self;
        if cancel.is_cancelled() {
            return Ok(());
        }
        if let Some(error) = &cell.retrieval_error {
            // Retrieval failed: the model is not asked a question without its passages.
            let record = error_output(&cell, error.clone(), 0, Vec::new());
            drop(slot);
            store.put_output(&record)?;
            let _ = events.send(RunEvent::CellDone {
                key: cell.key.clone(),
                cached: false,
                passed: false,
                error: record.error,
            });
            return Ok(());
        }
        let mut req = cell.request.clone();
        let mut hash = cell.request_hash.clone();
        let mut schema_attempts = Vec::new();
        let mut repairs_left = cell.enforce.as_ref().map_or(0, |e| e.retries);
        let mut all_cached = true;
        let mut slot = Some(slot);
        let outcome = loop {
            // A repair turn waits for a slot of its own like any request.
            let fetched = match self.fetch(slot.take(), &req, &hash, &cell.key).await? {
                Ok(f) => f,
                Err(failure) => break Err(failure),
            };
            all_cached &= fetched.cached;
            let Some(enforce) = &cell.enforce else {
                break Ok(fetched.completion);
            };
            let Err(errors) = validate_json(&enforce.validator, &fetched.completion.text) else {
                break Ok(fetched.completion);
            };
            if repairs_left == 0 {
                break Ok(fetched.completion);
            }
            repairs_left -= 1;
            // A repair turn: the model sees its own answer and exactly what was wrong with it.
            req.messages.push(Message::new(
                Role::Assistant,
                fetched.completion.text.clone(),
            ));
            req.messages
                .push(Message::new(Role::User, repair_prompt(&errors)));
            // A repair of a later repeat is its own sample too (see the plan's repeat hashes).
            hash = match cell.key.repeat {
                0 => request_hash(&endpoint.spec, &req),
                n => format!("{}#{n}", request_hash(&endpoint.spec, &req)),
            };
            // What streamed so far was the rejected answer; the repair starts a new one.
            if self.opts.deltas {
                let _ = events.send(RunEvent::Restart {
                    key: cell.key.clone(),
                });
            }
            schema_attempts.push(SchemaAttempt {
                text: fetched.completion.text,
                errors,
            });
        };

        let record = match outcome {
            Err(failure) if matches!(failure.error, crate::providers::ProviderError::Cancelled) => {
                // Not finished: a resumed run asks again.
                return Ok(());
            }
            Err(failure) => error_output(
                &cell,
                failure.error.to_string(),
                failure.attempts,
                schema_attempts,
            ),
            Ok(completion) => {
                let cost = cost_usd(&endpoint.spec, &completion.usage);
                let checks = run_checks(
                    &cell.checks,
                    &CheckInput {
                        text: &completion.text,
                        case: &cell.case,
                        latency_ms: completion.latency_ms,
                        ttft_ms: completion.ttft_ms,
                        cost_usd: cost,
                        output_tokens: completion.usage.output_tokens,
                        schema: cell.schema.as_deref(),
                        passages: &cell
                            .passages
                            .iter()
                            .map(|p| p.id.clone())
                            .collect::<Vec<_>>(),
                    },
                );
                OutputRecord {
                    run_id: cell.key.run_id.clone(),
                    variant: cell.key.variant.clone(),
                    case_id: cell.key.case_id.clone(),
                    repeat: cell.key.repeat,
                    text: completion.text,
                    usage: completion.usage,
                    latency_ms: completion.latency_ms,
                    ttft_ms: completion.ttft_ms,
                    cost_usd: cost,
                    cached: all_cached,
                    attempts: completion.attempts,
                    finish_reason: completion.finish_reason,
                    error: None,
                    request_hash: cell.request_hash.clone(),
                    checks,
                    schema_attempts,
                    passages: cell.passages.clone(),
                    finished_ms: now_ms(),
                }
            }
        };
        store.put_output(&record)?;
        let _ = events.send(RunEvent::CellDone {
            key: cell.key.clone(),
            cached: record.cached,
            passed: record.passed(),
            error: record.error,
        });
        Ok(())
    }
}

/// The output of a cell that has no answer: `error` says why.
fn error_output(
    cell: &Cell,
    error: String,
    attempts: u32,
    schema_attempts: Vec<SchemaAttempt>,
) -> OutputRecord {
    OutputRecord {
        run_id: cell.key.run_id.clone(),
        variant: cell.key.variant.clone(),
        case_id: cell.key.case_id.clone(),
        repeat: cell.key.repeat,
        text: String::new(),
        usage: crate::providers::Usage::default(),
        latency_ms: 0,
        ttft_ms: None,
        cost_usd: None,
        cached: false,
        attempts,
        finish_reason: None,
        error: Some(error),
        request_hash: cell.request_hash.clone(),
        checks: Vec::new(),
        schema_attempts,
        passages: cell.passages.clone(),
        finished_ms: now_ms(),
    }
}

fn repair_prompt(errors: &[String]) -> String {
    let mut text = String::from("Your answer does not match the required JSON schema:\n");
    for e in errors {
        text.push_str("- ");
        text.push_str(e);
        text.push('\n');
    }
    text.push_str("Reply again with corrected JSON only, no other text.");
    text
}

/// Compiled checks shared by every cell of a variant.
pub type Checks = Arc<Vec<CompiledCheck>>;

/// Runs `work` on each item, starting an item only once `limits` gives it a slot (held by
/// its first request), and returns every result. The model's concurrency is thus kept in
/// one place, the limits the whole process shares, and an item waiting for its turn is
/// not yet a future. Stops admitting when `cancel` fires.
async fn admit<T, F, Fut>(
    limits: &Limits,
    items: Vec<T>,
    cancel: &CancellationToken,
    mut work: F,
) -> Vec<Fut::Output>
where
    F: FnMut(T, Slot) -> Fut,
    Fut: Future,
{
    let mut waiting = items.into_iter();
    let mut next = waiting.next();
    let mut running = FuturesUnordered::new();
    let mut results = Vec::new();
    while next.is_some() {
        tokio::select! {
            biased;
            () = cancel.cancelled() => next = None,
            Some(r) = running.next(), if !running.is_empty() => results.push(r),
            slot = limits.slot() => match (slot, next.take()) {
                (Ok(slot), Some(item)) => {
                    running.push(work(item, slot));
                    next = waiting.next();
                }
                // The limits were closed: nothing more can be sent.
                _ => next = None,
            },
        }
    }
    while let Some(r) = running.next().await {
        results.push(r);
    }
    results
}
