//! The judge phase of a run: once the cells have outputs, each `judge` check compares the
//! outputs of its pairs of variants, case by case, asking its model in both orders (see
//! [`crate::eval::judge`]).
//!
//! Like the cells, judgements go through the response cache and the model's client (its
//! concurrency and rate limits), are written to the store as each completes, and are
//! skipped when already stored, so a resumed run asks only what is missing. A comparison
//! whose outputs are missing or errored is not judged.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::{Endpoint, JudgePlan, Plan, RunError, RunOptions, admit, request_hash};
use crate::eval::judge::{self, JudgeVerdict, OUTPUT_A, OUTPUT_B};
use crate::providers::{ChatRequest, Completion, Failure, ProviderError, Slot, StreamEvent, Usage};
use crate::store::{
    CacheRecord, CellKey, JudgeAsk, JudgementKey, JudgementRecord, OutputRecord, Store, StoreError,
    now_ms,
};

/// One comparison to judge.
struct Task {
    key: JudgementKey,
    a: OutputRecord,
    b: OutputRecord,
}

/// Asks every judge about every comparison not judged yet. Stops early when `cancel` fires.
pub(super) async fn judge_all(
    store: &Store,
    plan: &Plan,
    endpoints: &HashMap<String, Endpoint>,
    opts: RunOptions,
    cancel: &CancellationToken,
    events: &tokio::sync::mpsc::UnboundedSender<super::RunEvent>,
) -> Result<(), RunError> {
    for judge in &plan.judges {
        let endpoint = endpoints
            .get(&judge.model_name)
            .ok_or_else(|| RunError::NoEndpoint {
                model: judge.model_name.clone(),
            })?;
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
                        tasks.push(Task { key, a, b });
                    }
                }
            }
        }
        if !tasks.is_empty() {
            let _ = events.send(super::RunEvent::Judging {
                judge: judge.id.clone(),
                comparisons: tasks.len(),
            });
        }
        let results: Vec<Result<(), StoreError>> =
            admit(endpoint.client.limits(), tasks, cancel, |task, slot| {
                judge_one(store, endpoint, opts, cancel, judge, task, slot, events)
            })
            .await;
        for r in results {
            r?;
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(())
}

/// Judges one comparison; the first order asked goes in `slot`. Says so on `events`
/// once recorded, for a progress bar.
#[allow(clippy::too_many_arguments)]
async fn judge_one(
    store: &Store,
    endpoint: &Endpoint,
    opts: RunOptions,
    cancel: &CancellationToken,
    judge: &JudgePlan,
    task: Task,
    slot: Slot,
    events: &tokio::sync::mpsc::UnboundedSender<super::RunEvent>,
) -> Result<(), StoreError> {
    if cancel.is_cancelled() {
        return Ok(());
    }
    let Task { key, a, b } = task;
    // Ask both orders at once: the second waits for a slot of the model's limits itself.
    let (ab, ba) = futures::join!(
        ask(
            store,
            endpoint,
            opts,
            cancel,
            judge,
            &key,
            &a,
            &b,
            Some(slot)
        ),
        ask(store, endpoint, opts, cancel, judge, &key, &b, &a, None),
    );
    let (Some(ab), Some(ba)) = (ab?, ba?) else {
        // Cancelled: not finished, a resumed run asks again.
        return Ok(());
    };
    let error = ab.error.clone().or_else(|| ba.error.clone());
    let (verdict, agreed, reason) = if let Some(e) = &error {
        (
            JudgeVerdict::Tie,
            false,
            format!("not judged: a request failed: {e}"),
        )
    } else {
        let (verdict, agreed) = judge::combine(ab.pick, ba.pick);
        let reason = judge::explain(&key.a, &key.b, ab.pick, ba.pick);
        (verdict, agreed, reason)
    };
    let failed = error.is_some();
    store.put_judgement(&JudgementRecord {
        run_id: key.run_id.clone(),
        judge: key.judge.clone(),
        template: judge.template.clone(),
        template_version: judge.template_version.clone(),
        model_name: judge.model_name.clone(),
        a: key.a.clone(),
        b: key.b.clone(),
        case_id: key.case_id.clone(),
        repeat: key.repeat,
        ab,
        ba,
        verdict,
        agreed,
        reason,
        error,
        finished_ms: now_ms(),
    })?;
    let _ = events.send(super::RunEvent::Judged {
        judge: key.judge.clone(),
        agreed,
        failed,
    });
    Ok(())
}

/// Asks the judge with `first` shown as answer A and `second` as answer B. `None` when
/// cancelled.
#[allow(clippy::too_many_arguments)]
async fn ask(
    store: &Store,
    endpoint: &Endpoint,
    opts: RunOptions,
    cancel: &CancellationToken,
    judge: &JudgePlan,
    key: &JudgementKey,
    first: &OutputRecord,
    second: &OutputRecord,
    slot: Option<Slot>,
) -> Result<Option<JudgeAsk>, StoreError> {
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
    };
    let Some(case) = judge.cases.get(&key.case_id) else {
        asked.error = Some(format!("case {} is not in the session", key.case_id));
        return Ok(Some(asked));
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
            return Ok(Some(asked));
        }
    };
    let req = ChatRequest {
        model: endpoint.spec.model.clone(),
        messages,
        params: endpoint.spec.params.clone(),
        response_format: None,
    };
    let hash = request_hash(&endpoint.spec, &req);
    asked.request_hash.clone_from(&hash);
    match fetch(store, endpoint, opts, cancel, &req, &hash, slot).await? {
        Ok((completion, cached)) => {
            asked.pick = judge::parse_answer(&completion.text);
            asked.answer = completion.text;
            asked.cached = cached;
            asked.latency_ms = completion.latency_ms;
            asked.usage = completion.usage;
        }
        Err(failure) if matches!(failure.error, ProviderError::Cancelled) => return Ok(None),
        Err(failure) => asked.error = Some(failure.error.to_string()),
    }
    Ok(Some(asked))
}

/// The answer from the response cache, or from the model (then cached).
async fn fetch(
    store: &Store,
    endpoint: &Endpoint,
    opts: RunOptions,
    cancel: &CancellationToken,
    req: &ChatRequest,
    hash: &str,
    slot: Option<Slot>,
) -> Result<Result<(Completion, bool), Failure>, StoreError> {
    if !opts.no_cache
        && let Some(hit) = store.cached(hash)?
    {
        return Ok(Ok((hit.completion, true)));
    }
    match endpoint
        .client
        .complete_in(slot, req, cancel, &mut |_: &StreamEvent| {})
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
            Ok(Ok((completion, false)))
        }
        Err(failure) => Ok(Err(failure)),
    }
}
