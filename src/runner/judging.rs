//! The judge phase of a run: once the cells have outputs, each `judge` check compares the
//! outputs of its pairs of variants, case by case, asking its model in both orders (see
//! [`crate::eval::judge`]).
//!
//! Like the cells, judgements go through the response cache and the model's client (its
//! concurrency and rate limits, shared by the process), are written to the store as each
//! completes (by the run's writer thread; the store is read on a blocking thread), and are
//! skipped when already stored, so a resumed run asks only what is missing. A comparison
//! whose outputs are missing or errored is not judged.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::{
    Endpoint, JudgePlan, Plan, RunError, RunOptions, admit, ask_model, blocking, request_hash,
};
use crate::eval::judge::{self, JudgeVerdict, OUTPUT_A, OUTPUT_B};
use crate::providers::{ChatRequest, Completion, ProviderError, Slot, StreamEvent, Usage};
use crate::spec::ModelSpec;
use crate::store::{
    CacheRecord, CellKey, JudgeAsk, JudgementKey, JudgementRecord, OutputRecord, Store, Writer,
    now_ms,
};

/// One order of one comparison, ready to ask: the record so far, the request (none when it
/// could not be made, the record's error says why) and its cached answer.
struct Ask {
    asked: JudgeAsk,
    request: Option<ChatRequest>,
    hit: Option<Completion>,
}

/// One comparison to judge, in both orders.
struct Task {
    key: JudgementKey,
    ab: Ask,
    ba: Ask,
}

/// Asks every judge about every comparison not judged yet. Stops early when `cancel` fires,
/// or when a judge's model stayed unreachable past the give-up time (its name goes in
/// `gave_up`). The plan is handed back: reading the store for each judge's comparisons
/// happens on a blocking thread, which needs the plan while it does.
#[allow(clippy::too_many_arguments)]
pub(super) async fn judge_all(
    store: &Store,
    mut plan: Plan,
    endpoints: &HashMap<String, Endpoint>,
    opts: RunOptions,
    cancel: &CancellationToken,
    events: &tokio::sync::mpsc::UnboundedSender<super::RunEvent>,
    writer: &Writer,
    gave_up: &Mutex<BTreeSet<String>>,
) -> Result<Plan, RunError> {
    for index in 0..plan.judges.len() {
        let model = &plan.judges[index].model_name;
        let endpoint = endpoints.get(model).ok_or_else(|| RunError::NoEndpoint {
            model: model.clone(),
        })?;
        let (back, tasks) = {
            let (store, spec) = (store.clone(), endpoint.spec.clone());
            blocking(move || {
                let tasks = comparisons(&store, &plan, index, &spec, opts)?;
                Ok((plan, tasks))
            })
            .await?
        };
        plan = back;
        let judge = &plan.judges[index];
        if !tasks.is_empty() {
            let _ = events.send(super::RunEvent::Judging {
                judge: judge.id.clone(),
                comparisons: tasks.len(),
            });
        }
        let stop = cancel.child_token();
        admit(endpoint.client.limits(), tasks, &stop, |task, slot| {
            judge_one(writer, endpoint, &stop, judge, task, slot, events)
        })
        .await;
        if cancel.is_cancelled() {
            break;
        }
        if stop.is_cancelled() {
            super::lock(gave_up).insert(judge.model_name.clone());
            break;
        }
    }
    Ok(plan)
}

/// The comparisons judge number `index` has still to judge (both outputs present and
/// without error), each order's request rendered and its cache looked up. Blocking.
fn comparisons(
    store: &Store,
    plan: &Plan,
    index: usize,
    spec: &ModelSpec,
    opts: RunOptions,
) -> Result<Vec<Task>, RunError> {
    let judge = &plan.judges[index];
    let mut tasks = Vec::new();
    for (a, b) in &judge.pairs {
        for case_id in &plan.run.case_ids {
            for repeat in 0..plan.run.repeats {
                let key = JudgementKey {
                    run_id: plan.run.id.clone(),
                    judge: judge.id.clone(),
                    a: a.clone(),
                    b: b.clone(),
                    case_id: case_id.clone(),
                    repeat,
                };
                if store.has_judgement(&key)? {
                    continue;
                }
                let output = |variant: &str| {
                    store.output(&CellKey {
                        run_id: plan.run.id.clone(),
                        variant: variant.to_owned(),
                        case_id: case_id.clone(),
                        repeat,
                    })
                };
                if let (Some(a), Some(b)) = (output(a)?, output(b)?)
                    && !a.is_error()
                    && !b.is_error()
                {
                    let ask = |first: &OutputRecord, second: &OutputRecord| {
                        let mut ask = request(judge, spec, &key, first, second);
                        if !opts.no_cache && ask.request.is_some() {
                            ask.hit = store.cached(&ask.asked.request_hash)?.map(|r| r.completion);
                        }
                        Ok::<_, RunError>(ask)
                    };
                    let (ab, ba) = (ask(&a, &b)?, ask(&b, &a)?);
                    tasks.push(Task { key, ab, ba });
                }
            }
        }
    }
    Ok(tasks)
}

/// The judge's request with `first` shown as answer A and `second` as answer B.
fn request(
    judge: &JudgePlan,
    spec: &ModelSpec,
    key: &JudgementKey,
    first: &OutputRecord,
    second: &OutputRecord,
) -> Ask {
    let mut asked = JudgeAsk {
        shown_a: first.variant.clone(),
        shown_b: second.variant.clone(),
        answer: String::new(),
        pick: None,
        error: None,
        request_hash: String::new(),
        cached: false,
        latency_ms: 0,
        usage: Usage::default(),
        p_first: None,
    };
    let Some(case) = judge.cases.get(&key.case_id) else {
        asked.error = Some(format!("case {} is not in the session", key.case_id));
        return Ask {
            asked,
            request: None,
            hit: None,
        };
    };
    let messages = match judge.renderer.render_with(
        &judge.template,
        case,
        &[],
        &[(OUTPUT_A, &first.text), (OUTPUT_B, &second.text)],
    ) {
        Ok(m) => m,
        Err(e) => {
            asked.error = Some(e.to_string());
            return Ask {
                asked,
                request: None,
                hit: None,
            };
        }
    };
    let req = ChatRequest {
        model: spec.model.clone(),
        messages,
        params: spec.params.clone(),
        response_format: None,
        // Enough alternatives that both letters show even when the model favours neither.
        top_logprobs: judge.logprob_margin.map(|_| 20),
    };
    asked.request_hash = request_hash(spec, &req);
    Ask {
        asked,
        request: Some(req),
        hit: None,
    }
}

/// Judges one comparison (the first order asked goes in `slot`) and hands the judgement to
/// the writer.
async fn judge_one(
    writer: &Writer,
    endpoint: &Endpoint,
    cancel: &CancellationToken,
    judge: &JudgePlan,
    task: Task,
    slot: Slot,
    events: &tokio::sync::mpsc::UnboundedSender<super::RunEvent>,
) {
    if cancel.is_cancelled() {
        return;
    }
    let Task { key, ab, ba } = task;
    // Ask both orders at once: the second waits for a slot of the model's limits itself.
    let (ab, ba) = futures::join!(
        ask(endpoint, cancel, ab, Some(slot)),
        ask(endpoint, cancel, ba, None),
    );
    let mut to_cache: Vec<(String, CacheRecord)> = Vec::new();
    let (ab, ba) = match (ab, ba) {
        (Some((ab, c1)), Some((ba, c2))) => {
            to_cache.extend(c1.into_iter().chain(c2));
            (ab, ba)
        }
        (ab, ba) => {
            // Cancelled: not finished, a resumed run asks again; what was answered is kept.
            to_cache.extend(ab.and_then(|a| a.1).into_iter().chain(ba.and_then(|b| b.1)));
            writer.send(move |store| super::put_cached(store, &to_cache));
            return;
        }
    };
    let error = ab.error.clone().or_else(|| ba.error.clone());
    let p_a = judge
        .logprob_margin
        .and_then(|_| Some(judge::average_over_placements(ab.p_first?, ba.p_first?)));
    let (verdict, agreed, reason) = if let Some(e) = &error {
        (
            JudgeVerdict::Tie,
            false,
            format!("not judged: a request failed: {e}"),
        )
    } else if let (Some(p), Some(margin)) = (p_a, judge.logprob_margin) {
        let (verdict, agreed) = judge::verdict_from_probability(p, margin, ab.p_first, ba.p_first);
        let reason = judge::explain_probability(&key.a, &key.b, p, margin, ab.p_first, ba.p_first);
        (verdict, agreed, reason)
    } else {
        let (verdict, agreed) = judge::combine(ab.pick, ba.pick);
        let reason = judge::explain(&key.a, &key.b, ab.pick, ba.pick);
        (verdict, agreed, reason)
    };
    // For a progress bar: one comparison done (its record is on the way to the store).
    let _ = events.send(super::RunEvent::Judged {
        judge: key.judge.clone(),
        agreed,
        failed: error.is_some(),
    });
    let record = JudgementRecord {
        run_id: key.run_id,
        judge: key.judge,
        template: judge.template.clone(),
        template_version: judge.template_version.clone(),
        model_name: judge.model_name.clone(),
        a: key.a,
        b: key.b,
        case_id: key.case_id,
        repeat: key.repeat,
        ab,
        ba,
        verdict,
        agreed,
        p_a,
        reason,
        error,
        finished_ms: now_ms(),
    };
    writer.send(move |store| {
        super::put_cached(store, &to_cache)?;
        store.put_judgement(&record)
    });
}

/// Asks one order: its cached answer, or the model's (with the cache record to write).
/// `None` when cancelled.
async fn ask(
    endpoint: &Endpoint,
    cancel: &CancellationToken,
    ask: Ask,
    slot: Option<Slot>,
) -> Option<(JudgeAsk, Option<(String, CacheRecord)>)> {
    let Ask {
        mut asked,
        request,
        hit,
    } = ask;
    let Some(req) = request else {
        return Some((asked, None));
    };
    let mut to_cache = Vec::new();
    let answer = match hit {
        Some(completion) => Ok((completion, true)),
        None => ask_model(
            endpoint,
            slot,
            &req,
            &asked.request_hash,
            cancel,
            &mut |_: &StreamEvent| {},
            &mut to_cache,
        )
        .await
        .map(|c| (c, false)),
    };
    match answer {
        Ok((completion, cached)) => {
            asked.pick = judge::parse_answer(&completion.text);
            asked.p_first = judge::first_better(&completion.top_logprobs);
            asked.answer = completion.text;
            asked.cached = cached;
            asked.latency_ms = completion.latency_ms;
            asked.usage = completion.usage;
        }
        Err(failure) if failure.error.is_unfinished() => {
            if matches!(failure.error, ProviderError::Unreachable { .. }) {
                // The judge's model stayed down: its other comparisons stop too.
                cancel.cancel();
            }
            return None;
        }
        Err(failure) => asked.error = Some(failure.error.to_string()),
    }
    Some((asked, to_cache.pop()))
}
