//! Runs: variants x cases x repeats, each cell's output written to the store as it completes.
//!
//! Cells are grouped by model and each group is driven by that model's limits, which the
//! process shares (see [`crate::providers::ModelPool`]): a cell starts only once its model
//! has a free slot, so one slow endpoint never holds slots another could use, and two runs
//! at once share the model's concurrency instead of each having its own. The response
//! cache is keyed by the blake3 of the exact request; a cell that already has an output is
//! skipped, which is all that resuming an interrupted run needs. Store work never runs on
//! the async threads (see [`execute`]). A session's `judge` checks run last, on the
//! finished outputs (`judging.rs`), resumable the same way.
//!
//! When a model's server goes away mid-run, its cells pause rather than fail (see
//! [`crate::providers::Reachability`]): the run reports the model as unreachable with the
//! wait before the next probe ([`RunEvent::Unreachable`]), other models' cells go on, and
//! the paused cells continue once it answers. A cell that waited longer than the give-up
//! time (15 minutes) stops unrecorded, with the rest of its model's cells: the run ends
//! interrupted and resumable. The run ends with a [`RunSummary`] of what failed and why.

mod judging;
mod plan;
pub mod retrieval;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::providers::request_hash;
pub use plan::{Cell, JudgePlan, Plan, PlanError, Selection, plan_new_run, plan_resume};

use crate::eval::checks::{CheckInput, CompiledCheck, run_checks, validate_json};
use crate::providers::{
    ChatRequest, Client, Completion, Failure, Limits, Message, ModelPool, ProviderError,
    ReachStatus, Reachability, Role, Slot, StreamEvent, Usage,
};
use crate::spec::ModelSpec;
use crate::store::{
    CacheRecord, CellKey, OutputRecord, RunRecord, RunStatus, SchemaAttempt, Store, StoreError,
    Writer, cost_usd, now_ms,
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
    /// One comparison of the judge is done (both orders asked and recorded).
    Judged {
        judge: String,
        /// The two orders gave the same verdict.
        agreed: bool,
        /// A request failed, so the comparison is not judged.
        failed: bool,
    },
    /// A model's endpoint stopped answering: its cells wait (none fails or spends a
    /// retry) and a probe asks again in `retry_in_ms`. Sent when it goes down, and again
    /// about every second while it stays down (for a countdown).
    Unreachable {
        model: String,
        retry_in_ms: u64,
        /// How long it has been down.
        down_ms: u64,
        /// The last connection failure.
        error: String,
    },
    /// The model answers again after `down_ms`; its cells go on.
    Reachable {
        model: String,
        down_ms: u64,
    },
    /// What failed and why; sent just before `Finished`.
    Summary(RunSummary),
    Finished {
        run_id: String,
        status: RunStatus,
    },
}

/// How a run went wrong, for its end: failed cells by model and cause, and the models that
/// were unreachable during it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Most frequent first.
    pub failed: Vec<FailedGroup>,
    pub outages: Vec<OutageSummary>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailedGroup {
    pub model: String,
    pub cause: String,
    pub count: usize,
}

/// A model that was unreachable during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageSummary {
    pub model: String,
    /// Times its cells paused.
    pub pauses: u32,
    pub down_ms: u64,
    /// Its cells stopped waiting (the give-up time passed); `not_run` of them have no
    /// output, and the run ended interrupted.
    pub gave_up: bool,
    pub not_run: usize,
}

impl RunSummary {
    pub fn is_empty(&self) -> bool {
        self.failed.is_empty() && self.outages.is_empty()
    }

    /// One line for the failed cells (when any), one per unreachable model.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let failed: usize = self.failed.iter().map(|g| g.count).sum();
        if failed > 0 {
            let groups: Vec<String> = self
                .failed
                .iter()
                .map(|g| format!("{} x {} from {}", g.count, g.cause, g.model))
                .collect();
            out.push(format!(
                "{failed} cell{} failed: {}",
                if failed == 1 { "" } else { "s" },
                groups.join(", ")
            ));
        }
        out.extend(self.outage_lines());
        out
    }

    /// One line per model that was unreachable during the run.
    pub fn outage_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.outages {
            let times = match o.pauses {
                0 | 1 => "once".to_owned(),
                2 => "twice".to_owned(),
                n => format!("{n} times"),
            };
            let end = if o.gave_up {
                format!(
                    "gave up waiting: {} of its cells not run (the run is interrupted; resume it \
                     once the model answers)",
                    o.not_run
                )
            } else if o.not_run > 0 {
                format!("{} of its cells not run when the run stopped", o.not_run)
            } else {
                "its cells waited and ran once it answered".to_owned()
            };
            out.push(format!(
                "model {} was unreachable for {}, paused {times}; {end}",
                o.model,
                secs(o.down_ms)
            ));
        }
        out
    }
}

/// What the CLI and the workbench say while a model does not answer (the last connection
/// failure goes beside it, where there is room).
pub fn unreachable_line(model: &str, retry_in_ms: u64) -> String {
    format!(
        "model {model} unreachable, retrying in {} s",
        retry_in_ms.div_ceil(1000)
    )
}

/// Whole seconds ("42 s"), or tenths below ten seconds.
pub fn secs(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} s", ms / 1000)
    }
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
    #[error("the run's store work stopped: {0}")]
    Worker(String),
}

/// Runs `work` on a blocking thread: sled calls and store scans never run on an async
/// worker, where they would hold up every other task of the process (another App's frames).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RunError> + Send + 'static,
) -> Result<T, RunError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RunError::Worker(e.to_string()))?
}

/// A cell still to run, with the cached answer to its first request when there is one.
struct Todo {
    cell: Arc<Cell>,
    hit: Option<Completion>,
}

/// Executes a plan to the end or until `cancel` fires; returns the run as stored last.
///
/// Store work stays off the async threads: what is already done or cached is found on a
/// blocking thread before any request goes out, and outputs, cache records and the run's
/// end go to a [`Writer`] thread in order (each `CellDone` is sent once its output is
/// written).
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
    // A failed write stops the run (the writer cancels this) without looking like the
    // user's interruption.
    let work = cancel.child_token();
    let writer = Writer::start(store.clone(), work.clone())?;

    let (plan, todo) = {
        let (store, endpoints, events) = (store.clone(), endpoints.clone(), events.clone());
        blocking(move || {
            let todo = prepare(&store, &plan, &endpoints, opts, &events)?;
            Ok((plan, todo))
        })
        .await?
    };

    let before: HashMap<&String, (ReachStatus, Duration)> = endpoints
        .iter()
        .map(|(m, e)| (m, snapshot(e.client.reachability())))
        .collect();
    // Models whose cells gave up waiting for their endpoint.
    let gave_up = Mutex::new(BTreeSet::new());
    let mut groups = Vec::new();
    for (model, cells) in todo {
        let endpoint = endpoints.get(&model).ok_or_else(|| RunError::NoEndpoint {
            model: model.clone(),
        })?;
        groups.push((endpoint, cells, work.child_token()));
    }
    let cells = async {
        let groups = groups.iter_mut().map(|(endpoint, cells, stop)| {
            let ctx = Ctx {
                store,
                writer: &writer,
                endpoint,
                opts,
                cancel: stop,
                events,
                gave_up: &gave_up,
            };
            admit(
                endpoint.client.limits(),
                std::mem::take(cells),
                stop,
                move |todo, slot| ctx.run_cell(todo, slot),
            )
        });
        futures::future::join_all(groups).await;
        // The judges compare outputs, so they go once every cell's output is written.
        writer.sync().await?;
        if work.is_cancelled() || !lock(&gave_up).is_empty() {
            Ok(plan)
        } else {
            judging::judge_all(
                store, plan, endpoints, opts, &work, events, &writer, &gave_up,
            )
            .await
        }
    };
    let mut plan = tokio::select! {
        biased;
        plan = cells => plan?,
        never = announce_all(endpoints, events) => match never {},
    };
    let gave_up = gave_up.into_inner().unwrap_or_else(PoisonError::into_inner);

    plan.run.status = if work.is_cancelled() || !gave_up.is_empty() {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    plan.run.finished_ms = Some(now_ms());
    let run = plan.run.clone();
    writer.send(move |store| store.put_run(&run));
    // Written and flushed before the run is said to be finished.
    writer.finish().await?;
    let outages: Vec<(String, u32, u64)> = before
        .into_iter()
        .filter_map(|(model, start)| {
            let end = snapshot(endpoints.get(model)?.client.reachability());
            let (pauses, down_ms) = outage_between(&start, &end);
            (pauses > 0 || gave_up.contains(model)).then(|| (model.clone(), pauses, down_ms))
        })
        .collect();
    let (summary, plan) = {
        let store = store.clone();
        blocking(move || Ok((summarize(&store, &plan, &outages, &gave_up)?, plan))).await?
    };
    let _ = events.send(RunEvent::Summary(summary));
    let _ = events.send(RunEvent::Finished {
        run_id: plan.run.id.clone(),
        status: plan.run.status,
    });
    Ok(plan.run)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A set of names is valid whatever a panicking holder was doing.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An endpoint's status with the time it has been down so far (its current outage
/// included), taken together.
fn snapshot(reach: &Reachability) -> (ReachStatus, Duration) {
    let status = reach.status();
    let down = Duration::from_millis(status.total_down_ms());
    (status, down)
}

/// Pauses that began (or were going on) between two snapshots, and the time down between
/// them.
fn outage_between(start: &(ReachStatus, Duration), end: &(ReachStatus, Duration)) -> (u32, u64) {
    let pauses = end.0.outages.saturating_sub(start.0.outages) + u32::from(start.0.down.is_some());
    let down = end.1.saturating_sub(start.1);
    (pauses, u64::try_from(down.as_millis()).unwrap_or(u64::MAX))
}

/// Tells the run's listeners when a model's endpoint goes down (and, every second while it
/// stays down, how long until the next probe) and when it answers again. Never ends: it
/// runs beside the run's work and stops with it.
async fn announce_all(
    endpoints: &HashMap<String, Endpoint>,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> std::convert::Infallible {
    let each = endpoints
        .iter()
        .map(|(model, e)| announce(model, e.client.reachability(), events));
    futures::future::join_all(each).await;
    std::future::pending().await
}

async fn announce(model: &str, reach: &Reachability, events: &mpsc::UnboundedSender<RunEvent>) {
    let mut changes = reach.subscribe();
    let mut recoveries = changes.borrow().recoveries;
    // Down when last seen, and the time down in ended outages before this one.
    let mut down_before: Option<u64> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let status = changes.borrow_and_update().clone();
        if status.recoveries > recoveries {
            recoveries = status.recoveries;
            // It answered (it may be down again already). An outage that was forgotten
            // because nothing waits for it any more is not an answer.
            if let Some(before) = down_before.take() {
                let _ = events.send(RunEvent::Reachable {
                    model: model.to_owned(),
                    down_ms: status.down_ms.saturating_sub(before),
                });
            }
        }
        match &status.down {
            Some(down) => {
                let before = *down_before.get_or_insert(status.down_ms);
                let retry_in = down
                    .retry_at
                    .saturating_duration_since(tokio::time::Instant::now());
                let _ = events.send(RunEvent::Unreachable {
                    model: model.to_owned(),
                    retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                    down_ms: status.total_down_ms().saturating_sub(before),
                    error: down.error.clone(),
                });
            }
            None => down_before = None,
        }
        if down_before.is_some() {
            tick.reset();
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = tick.tick() => {}
            }
        } else if changes.changed().await.is_err() {
            return;
        }
    }
}

/// The run's failed cells by model and cause, and its unreachable models, from the store
/// as written. Blocking.
fn summarize(
    store: &Store,
    plan: &Plan,
    outages: &[(String, u32, u64)],
    gave_up: &BTreeSet<String>,
) -> Result<RunSummary, RunError> {
    let model_of: HashMap<&str, &str> = plan
        .run
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.model_name.as_str()))
        .collect();
    // Only failed outputs are kept (a run of thousands would otherwise be held whole), and
    // which cells have an output only when a model was unreachable (its cells not run).
    let mut outputs = Vec::new();
    let mut done = HashSet::new();
    for o in store.outputs(&plan.run.id) {
        let o = o?;
        if !outages.is_empty() {
            done.insert(o.key());
        }
        if o.is_error() {
            outputs.push(o);
        }
    }
    let mut failed = Vec::new();
    for model in plan.run.variants.iter().map(|v| &v.model_name) {
        if failed.iter().any(|g: &FailedGroup| &g.model == model) {
            continue;
        }
        let mine = outputs.iter().filter(|o| {
            model_of
                .get(o.variant.as_str())
                .is_some_and(|m| *m == model.as_str())
        });
        failed.extend(
            crate::report::error_groups(mine)
                .into_iter()
                .map(|g| FailedGroup {
                    model: model.clone(),
                    cause: g.cause,
                    count: g.count,
                }),
        );
    }
    failed.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.model.cmp(&y.model)));
    let mut outages: Vec<OutageSummary> = outages
        .iter()
        .map(|(model, pauses, down_ms)| OutageSummary {
            model: model.clone(),
            pauses: *pauses,
            down_ms: *down_ms,
            gave_up: gave_up.contains(model),
            not_run: plan
                .cells
                .iter()
                .filter(|c| &c.model == model && !done.contains(&c.key))
                .count(),
        })
        .collect();
    outages.sort_by(|x, y| x.model.cmp(&y.model));
    Ok(RunSummary { failed, outages })
}

/// On a blocking thread, before any request: stores the run as started, skips the cells
/// that already have an output, finishes the cells whose answer is cached (checks and
/// all), and returns the rest by model, each with its cached first answer if it has one
/// that still needs a schema repair.
fn prepare(
    store: &Store,
    plan: &Plan,
    endpoints: &HashMap<String, Endpoint>,
    opts: RunOptions,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> Result<HashMap<String, Vec<Todo>>, RunError> {
    store.put_run(&plan.run)?;
    let mut todo: HashMap<String, Vec<Todo>> = HashMap::new();
    let mut finished = Vec::new();
    let mut already_done = 0;
    for cell in &plan.cells {
        if store.has_output(&cell.key)? {
            already_done += 1;
            continue;
        }
        let hit = if opts.no_cache {
            None
        } else {
            store.cached(&cell.request_hash)?.map(|r| r.completion)
        };
        match hit {
            Some(answer) if answer_stands(cell, &answer) => finished.push((cell, answer)),
            hit => todo.entry(cell.model.clone()).or_default().push(Todo {
                cell: cell.clone(),
                hit,
            }),
        }
    }
    let _ = events.send(RunEvent::Started {
        run_id: plan.run.id.clone(),
        total: plan.cells.len(),
        already_done,
    });
    for (cell, answer) in finished {
        let endpoint = endpoints
            .get(&cell.model)
            .ok_or_else(|| RunError::NoEndpoint {
                model: cell.model.clone(),
            })?;
        let record = output_record(cell, &endpoint.spec, Ok(answer), true, Vec::new());
        store.put_output(&record)?;
        let _ = events.send(cell_done(&record));
    }
    Ok(todo)
}

/// Whether a cached answer is the cell's final one: no schema to enforce, no repair turns
/// allowed, or an answer that matches the schema.
fn answer_stands(cell: &Cell, answer: &Completion) -> bool {
    cell.enforce
        .as_ref()
        .is_none_or(|e| e.retries == 0 || validate_json(&e.validator, &answer.text).is_ok())
}

fn cell_done(record: &OutputRecord) -> RunEvent {
    RunEvent::CellDone {
        key: record.key(),
        cached: record.cached,
        passed: record.passed(),
        error: record.error.clone(),
    }
}

/// A cell's output from the outcome of its requests.
fn output_record(
    cell: &Cell,
    spec: &ModelSpec,
    outcome: Result<Completion, Failure>,
    all_cached: bool,
    schema_attempts: Vec<SchemaAttempt>,
) -> OutputRecord {
    let mut record = OutputRecord {
        run_id: cell.key.run_id.clone(),
        variant: cell.key.variant.clone(),
        case_id: cell.key.case_id.clone(),
        repeat: cell.key.repeat,
        text: String::new(),
        usage: Usage::default(),
        latency_ms: 0,
        ttft_ms: None,
        cost_usd: None,
        cached: false,
        attempts: 0,
        finish_reason: None,
        error: None,
        request_hash: cell.request_hash.clone(),
        checks: Vec::new(),
        schema_attempts,
        passages: cell.passages.clone(),
        finished_ms: now_ms(),
    };
    match outcome {
        Err(failure) => {
            record.attempts = failure.attempts;
            record.error = Some(failure.error.to_string());
        }
        Ok(completion) => {
            let cost = cost_usd(spec, &completion.usage);
            record.checks = run_checks(
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
            record.text = completion.text;
            record.usage = completion.usage;
            record.latency_ms = completion.latency_ms;
            record.ttft_ms = completion.ttft_ms;
            record.cost_usd = cost;
            record.cached = all_cached;
            record.attempts = completion.attempts;
            record.finish_reason = completion.finish_reason;
        }
    }
    record
}

/// The answer to one request, from the cache or the model.
struct Fetched {
    completion: Completion,
    cached: bool,
}

/// The cached answer to `hash`, looked up on a blocking thread.
async fn cached(store: &Store, hash: &str) -> Result<Option<Completion>, StoreError> {
    let (store, hash) = (store.clone(), hash.to_owned());
    tokio::task::spawn_blocking(move || Ok(store.cached(&hash)?.map(|r| r.completion)))
        .await
        .map_err(|e| StoreError::Sled(std::io::Error::other(e.to_string()).into()))?
}

/// Asks the model (in `slot`, when the caller holds one) and, on success, gives the
/// answer's cache record to be written with the rest of the caller's results.
async fn ask_model(
    endpoint: &Endpoint,
    slot: Option<Slot>,
    req: &ChatRequest,
    hash: &str,
    cancel: &CancellationToken,
    on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    to_cache: &mut Vec<(String, CacheRecord)>,
) -> Result<Completion, Failure> {
    let completion = endpoint
        .client
        .complete_in(slot, req, cancel, on_event)
        .await?;
    to_cache.push((
        hash.to_owned(),
        CacheRecord {
            completion: completion.clone(),
            provider: endpoint.spec.provider.into(),
            created_ms: now_ms(),
        },
    ));
    Ok(completion)
}

/// What every cell of one model's group shares.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    store: &'a Store,
    writer: &'a Writer,
    endpoint: &'a Endpoint,
    opts: RunOptions,
    /// The model's cells' own token (a child of the run's): giving up on the model stops
    /// them and no other model's.
    cancel: &'a CancellationToken,
    events: &'a mpsc::UnboundedSender<RunEvent>,
    gave_up: &'a Mutex<BTreeSet<String>>,
}

impl Ctx<'_> {
    /// A repair turn's answer: from the cache (looked up on a blocking thread) or the model.
    async fn fetch(
        self,
        slot: Option<Slot>,
        req: &ChatRequest,
        hash: &str,
        cell: &CellKey,
        to_cache: &mut Vec<(String, CacheRecord)>,
    ) -> Result<Result<Fetched, Failure>, StoreError> {
        let Self {
            store,
            endpoint,
            opts,
            cancel,
            events,
            ..
        } = self;
        if !opts.no_cache
            && let Some(completion) = cached(store, hash).await?
        {
            return Ok(Ok(Fetched {
                completion,
                cached: true,
            }));
        }
        let mut on_event = |ev: &StreamEvent| {
            if opts.deltas {
                forward(events, cell, ev);
            }
        };
        Ok(
            ask_model(endpoint, slot, req, hash, cancel, &mut on_event, to_cache)
                .await
                .map(|completion| Fetched {
                    completion,
                    cached: false,
                }),
        )
    }

    /// Runs one cell whose first request goes in `slot`; its output goes to the writer.
    async fn run_cell(self, todo: Todo, slot: Slot) {
        let Self {
            writer,
            endpoint,
            cancel,
            events,
            ..
        } = self;
        if cancel.is_cancelled() {
            return;
        }
        let Todo { cell, mut hit } = todo;
        let mut repair: Option<ChatRequest> = None;
        if let Some(error) = &cell.retrieval_error {
            // Retrieval failed: the model is not asked a question without its passages.
            drop(slot);
            let mut record = output_record(
                &cell,
                &endpoint.spec,
                Err(Failure {
                    error: ProviderError::Config(String::new()),
                    attempts: 0,
                }),
                false,
                Vec::new(),
            );
            record.error = Some(error.clone());
            let events = events.clone();
            writer.send(move |store| {
                store.put_output(&record)?;
                let _ = events.send(cell_done(&record));
                Ok(())
            });
            return;
        }
        let mut hash = cell.request_hash.clone();
        let mut schema_attempts = Vec::new();
        let mut repairs_left = cell.enforce.as_ref().map_or(0, |e| e.retries);
        let mut all_cached = true;
        let mut slot = Some(slot);
        let mut to_cache = Vec::new();
        let outcome = loop {
            let req = repair.as_ref().unwrap_or(&cell.request);
            let fetched = match (hit.take(), repair.is_some()) {
                (Some(completion), _) => Ok(Fetched {
                    completion,
                    cached: true,
                }),
                // The first request's cache was looked up before the run started.
                (None, false) => {
                    let mut on_event = |ev: &StreamEvent| {
                        if self.opts.deltas {
                            forward(events, &cell.key, ev);
                        }
                    };
                    ask_model(
                        endpoint,
                        slot.take(),
                        req,
                        &hash,
                        cancel,
                        &mut on_event,
                        &mut to_cache,
                    )
                    .await
                    .map(|completion| Fetched {
                        completion,
                        cached: false,
                    })
                }
                // A repair turn waits for a slot of its own like any request.
                (None, true) => {
                    match self
                        .fetch(slot.take(), req, &hash, &cell.key, &mut to_cache)
                        .await
                    {
                        Ok(f) => f,
                        // The cache could not be read: the run fails with that error, as
                        // it does when a write fails.
                        Err(e) => {
                            writer.send(move |_| Err(e));
                            return;
                        }
                    }
                }
            };
            let fetched = match fetched {
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
            let mut next = req.clone();
            next.messages.push(Message::new(
                Role::Assistant,
                fetched.completion.text.clone(),
            ));
            next.messages
                .push(Message::new(Role::User, repair_prompt(&errors)));
            // A repair of a later repeat is its own sample too (see the plan's repeat hashes).
            hash = match cell.key.repeat {
                0 => request_hash(&endpoint.spec, &next),
                n => format!("{}#{n}", request_hash(&endpoint.spec, &next)),
            };
            repair = Some(next);
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

        if let Err(failure) = &outcome
            && failure.error.is_unfinished()
        {
            if matches!(failure.error, ProviderError::Unreachable { .. }) {
                // The endpoint stayed down past the give-up time: the model's other cells
                // stop too, and the run ends interrupted.
                lock(self.gave_up).insert(cell.model.clone());
                cancel.cancel();
            }
            // Not finished: a resumed run asks again (what was answered stays cached).
            writer.send(move |store| put_cached(store, &to_cache));
            return;
        }
        let record = output_record(&cell, &endpoint.spec, outcome, all_cached, schema_attempts);
        let events = events.clone();
        writer.send(move |store| {
            put_cached(store, &to_cache)?;
            store.put_output(&record)?;
            let _ = events.send(cell_done(&record));
            Ok(())
        });
    }
}

/// Passes streamed text on as run events.
fn forward(events: &mpsc::UnboundedSender<RunEvent>, key: &CellKey, ev: &StreamEvent) {
    match ev {
        StreamEvent::Delta(text) => {
            let _ = events.send(RunEvent::Delta {
                key: key.clone(),
                text: text.clone(),
            });
        }
        StreamEvent::Restart { .. } => {
            let _ = events.send(RunEvent::Restart { key: key.clone() });
        }
        _ => {}
    }
}

fn put_cached(store: &Store, records: &[(String, CacheRecord)]) -> Result<(), StoreError> {
    for (hash, rec) in records {
        store.put_cached(hash, rec)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_failed_from_which_model_and_each_outage() {
        let group = |model: &str, cause: &str, count| FailedGroup {
            model: model.into(),
            cause: cause.into(),
            count,
        };
        let outage = |model: &str, pauses, gave_up, not_run| OutageSummary {
            model: model.into(),
            pauses,
            down_ms: 42_300,
            gave_up,
            not_run,
        };
        let s = RunSummary {
            failed: vec![
                group("model-a", "HTTP 500 Internal Server Error", 2),
                group("model-b", "malformed response: expected value", 1),
            ],
            outages: vec![
                outage("model-b", 2, false, 0),
                outage("model-c", 1, true, 12),
                outage("model-d", 3, false, 4),
            ],
        };
        assert_eq!(
            s.lines(),
            [
                "3 cells failed: 2 x HTTP 500 Internal Server Error from model-a, \
                 1 x malformed response: expected value from model-b",
                "model model-b was unreachable for 42 s, paused twice; its cells waited and \
                 ran once it answered",
                "model model-c was unreachable for 42 s, paused once; gave up waiting: 12 of \
                 its cells not run (the run is interrupted; resume it once the model answers)",
                "model model-d was unreachable for 42 s, paused 3 times; 4 of its cells not \
                 run when the run stopped",
            ]
        );
        assert!(RunSummary::default().lines().is_empty());
        assert_eq!(secs(3_250), "3.2 s");
    }
}
