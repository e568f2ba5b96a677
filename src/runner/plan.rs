//! From a session and a selection to the list of cells a run executes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::eval::checks::CompiledCheck;
use crate::eval::judge::{OUTPUT_A, OUTPUT_B, judge_id};
use crate::providers::ChatRequest;
use crate::session::{Case, ModelSpec, Session};
use crate::store::{
    CellKey, EnforceRecord, PassageRecord, RunRecord, RunStatus, RunVariant, SessionRecord, Store,
    StoreError, new_run_id, now_ms,
};
use crate::template::build_request;

use super::{Checks, request_hash};

/// Which part of a session's matrix to run. Empty lists mean "all".
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub variants: Vec<String>,
    pub case_ids: Vec<String>,
    pub tags: Vec<String>,
    /// Only cases with a failed or errored output in this earlier run.
    pub failed_in: Option<String>,
    pub repeats: Option<u32>,
}

/// The `enforce_schema` loop for a cell: how many repair turns, against which schema.
#[derive(Clone)]
pub struct Enforce {
    pub retries: u32,
    pub validator: Arc<jsonschema::Validator>,
}

/// One request to make (or find in the cache), and how to judge its answer.
#[derive(Clone)]
pub struct Cell {
    pub key: CellKey,
    /// Session model name: cells are grouped by it to apply its concurrency.
    pub model: String,
    pub request: ChatRequest,
    pub request_hash: String,
    pub checks: Checks,
    pub schema: Option<Arc<jsonschema::Validator>>,
    pub enforce: Option<Enforce>,
    pub case: Arc<Case>,
    /// The passages a RAG variant's request was built with (see `runner::retrieval`).
    pub passages: Vec<PassageRecord>,
    /// Why retrieval failed for this cell: it is recorded as the output's error and no
    /// request is sent.
    pub retrieval_error: Option<String>,
}

pub struct Plan {
    pub run: RunRecord,
    pub cells: Vec<Arc<Cell>>,
    /// The judges to ask once the cells have outputs (see `runner::judging`).
    pub judges: Vec<JudgePlan>,
    /// What the RAG variants retrieve with, when the run has any.
    pub rag: Option<Arc<super::retrieval::RagPlan>>,
}

/// One `judge` check of the session, ready to ask about a run's outputs.
pub struct JudgePlan {
    /// `template@model`: what its judgements are stored under.
    pub id: String,
    pub template: String,
    pub template_version: String,
    pub model_name: String,
    pub model: ModelSpec,
    /// The pairs `(a, b)` it compares, all in the run.
    pub pairs: Vec<(String, String)>,
    pub renderer: Arc<crate::template::Renderer>,
    pub cases: HashMap<String, Arc<Case>>,
    /// With the session's `judge.logprobs`: the margin from ½ past which the averaged
    /// P(better) read from the answer tokens' log-probabilities is a winner.
    pub logprob_margin: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Template(String),
    #[error("no variant named {0:?} in the session")]
    NoVariant(String),
    #[error("no case {0:?} in the session")]
    NoCase(String),
    #[error("the selection has no cells: no variant or no case matched")]
    Empty,
    #[error("--failed-in {0}: no output of that run failed, so there is nothing to rerun")]
    NothingFailed(String),
    #[error(
        "the session changed since run {run} started: template {template} is now version {now}, \
         the run used {then}; start a new run instead"
    )]
    Changed {
        run: String,
        template: String,
        now: String,
        then: String,
    },
    #[error("check {check}: {reason}")]
    Check { check: String, reason: String },
    #[error("{0}")]
    Rag(String),
}

/// Plans a new run with the session and template versions (stored when `execute` starts it).
pub fn plan_new_run(
    session: &Session,
    store: &Store,
    sel: &Selection,
    no_cache: bool,
) -> Result<Plan, PlanError> {
    let variants: Vec<&crate::session::VariantSpec> = if sel.variants.is_empty() {
        session.file.variants.iter().collect()
    } else {
        sel.variants
            .iter()
            .map(|name| {
                session
                    .variant(name)
                    .ok_or_else(|| PlanError::NoVariant(name.clone()))
            })
            .collect::<Result<_, _>>()?
    };
    for id in &sel.case_ids {
        if !session.cases.iter().any(|c| &c.id == id) {
            return Err(PlanError::NoCase(id.clone()));
        }
    }
    let failed: Option<Vec<String>> = match &sel.failed_in {
        Some(run) => {
            // An unknown run says so (not "the selection has no cells").
            store.run(run)?;
            let mut ids = Vec::new();
            for o in store.outputs(run) {
                let o = o?;
                if !o.passed() && !ids.contains(&o.case_id) {
                    ids.push(o.case_id);
                }
            }
            if ids.is_empty() {
                return Err(PlanError::NothingFailed(run.clone()));
            }
            Some(ids)
        }
        None => None,
    };
    let case_ids: Vec<String> = session
        .cases
        .iter()
        .filter(|c| sel.case_ids.is_empty() || sel.case_ids.contains(&c.id))
        .filter(|c| sel.tags.is_empty() || c.tags.iter().any(|t| sel.tags.contains(t)))
        .filter(|c| failed.as_ref().is_none_or(|f| f.contains(&c.id)))
        .map(|c| c.id.clone())
        .collect();

    let now = now_ms();
    store.put_session(&SessionRecord {
        hash: session.hash.clone(),
        name: session.file.name.clone(),
        path: session.path.display().to_string(),
        source: session.source.clone(),
        created_ms: now,
    })?;
    let mut run_variants = Vec::new();
    for v in variants {
        let version = session
            .template_version(&session.template_specs(), &v.template)
            .map_err(|e| PlanError::Template(e.to_string()))?;
        store.put_template_version(&version)?;
        let model = session
            .file
            .models
            .get(&v.model)
            .cloned()
            .ok_or_else(|| PlanError::NoVariant(v.name.clone()))?;
        run_variants.push(RunVariant {
            name: v.name.clone(),
            template: v.template.clone(),
            template_version: version.hash,
            model_name: v.model.clone(),
            model: (&model).into(),
            rag: v.rag.clone(),
            enforce_schema: v
                .enforce_schema
                .map_or(EnforceRecord::Off, |e| EnforceRecord::On {
                    retries: e.retries,
                }),
        });
    }
    let run = RunRecord {
        id: new_run_id(),
        session_name: session.file.name.clone(),
        session_path: session.path.display().to_string(),
        session_hash: session.hash.clone(),
        created_ms: now,
        finished_ms: None,
        status: RunStatus::Running,
        variants: run_variants,
        case_ids,
        repeats: sel.repeats.unwrap_or(session.file.repeats).max(1),
        no_cache,
    };
    let cells = cells_for(session, &run)?;
    if cells.is_empty() {
        return Err(PlanError::Empty);
    }
    let judges = judges_for(session, store, &run)?;
    // Not stored yet: `execute` stores the run when it starts, so a run that cannot start
    // (a missing API key) leaves nothing behind that looks like it is running.
    let rag = super::retrieval::rag_plan(session, &run).map_err(PlanError::Rag)?;
    Ok(Plan {
        run,
        cells,
        judges,
        rag,
    })
}

/// Plans the rest of an interrupted run. The session's templates must be the versions the
/// run started with, so that resumed cells answer the same question as finished ones.
pub fn plan_resume(session: &Session, store: &Store, run_id: &str) -> Result<Plan, PlanError> {
    let run = store.run(run_id)?;
    for v in &run.variants {
        let now = session
            .template_version(&session.template_specs(), &v.template)
            .map_err(|e| PlanError::Template(e.to_string()))?;
        if now.hash != v.template_version {
            return Err(PlanError::Changed {
                run: run.id.clone(),
                template: v.template.clone(),
                now: now.hash,
                then: v.template_version.clone(),
            });
        }
    }
    let cells = cells_for(session, &run)?;
    let judges = judges_for(session, store, &run)?;
    let rag = super::retrieval::rag_plan(session, &run).map_err(PlanError::Rag)?;
    Ok(Plan {
        run,
        cells,
        judges,
        rag,
    })
}

/// The session's `judge` checks (global and per variant, each once) for this run: the
/// pairs they name that are in the run, or every pair of the run's variants when they
/// name none. The judge template is rendered once here with placeholder outputs, so a
/// template error stops the run before any model is asked.
fn judges_for(
    session: &Session,
    store: &Store,
    run: &RunRecord,
) -> Result<Vec<JudgePlan>, PlanError> {
    let mut specs = Vec::new();
    for v in &run.variants {
        for check in session.checks_for(&v.name) {
            if let crate::eval::spec::CheckSpec::Judge(j) = check
                && !specs.contains(&j)
            {
                specs.push(j);
            }
        }
    }
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let renderer = Arc::new(
        session
            .renderer()
            .map_err(|e| PlanError::Template(session.located_template_errors(e.0)))?,
    );
    let cases: HashMap<String, Arc<Case>> = session
        .cases
        .iter()
        .filter(|c| run.case_ids.contains(&c.id))
        .map(|c| (c.id.clone(), Arc::new(c.clone())))
        .collect();
    let names: Vec<&str> = run.variants.iter().map(|v| v.name.as_str()).collect();
    let mut judges = Vec::new();
    for spec in specs {
        let pairs: Vec<(String, String)> = if spec.pairs.is_empty() {
            names
                .iter()
                .enumerate()
                .flat_map(|(i, a)| {
                    names[i + 1..]
                        .iter()
                        .map(move |b| ((*a).to_owned(), (*b).to_owned()))
                })
                .collect()
        } else {
            spec.pairs
                .iter()
                .filter(|[a, b]| names.contains(&a.as_str()) && names.contains(&b.as_str()))
                .map(|[a, b]| (a.clone(), b.clone()))
                .collect()
        };
        if pairs.is_empty() {
            continue;
        }
        let model = session
            .file
            .models
            .get(&spec.model)
            .cloned()
            .ok_or_else(|| PlanError::Check {
                check: "judge".into(),
                reason: format!("no model {:?} in the session", spec.model),
            })?;
        let version = session
            .template_version(&session.template_specs(), &spec.template)
            .map_err(|e| PlanError::Template(e.to_string()))?;
        store.put_template_version(&version)?;
        if let Some(case) = run.case_ids.first().and_then(|id| cases.get(id)) {
            renderer
                .render_with(
                    &spec.template,
                    case,
                    &[],
                    &[(OUTPUT_A, "answer A"), (OUTPUT_B, "answer B")],
                )
                .map_err(|e| PlanError::Template(session.located_template_errors([e])))?;
        }
        judges.push(JudgePlan {
            id: judge_id(&spec),
            template: spec.template.clone(),
            template_version: version.hash,
            model_name: spec.model.clone(),
            model,
            pairs,
            renderer: renderer.clone(),
            cases: cases.clone(),
            logprob_margin: session
                .file
                .judge
                .as_ref()
                .filter(|j| j.logprobs)
                .map(|j| j.margin),
        });
    }
    Ok(judges)
}

fn cells_for(session: &Session, run: &RunRecord) -> Result<Vec<Arc<Cell>>, PlanError> {
    let cases: HashMap<&str, Arc<Case>> = session
        .cases
        .iter()
        .map(|c| (c.id.as_str(), Arc::new(c.clone())))
        .collect();
    let renderer = session
        .renderer()
        .map_err(|e| PlanError::Template(session.located_template_errors(e.0)))?;
    let mut cells = Vec::with_capacity(run.cell_count());
    for v in &run.variants {
        let spec = session
            .variant(&v.name)
            .ok_or_else(|| PlanError::NoVariant(v.name.clone()))?;
        let schema = renderer
            .schema_validator(&v.template)
            .map_err(|e| PlanError::Template(session.located_template_errors([e])))?;
        let checks: Checks = Arc::new(
            session
                .checks_for(&v.name)
                .iter()
                .map(|c| {
                    CompiledCheck::compile(c, &session.dir).map_err(|e| PlanError::Check {
                        check: c.to_string(),
                        reason: e.message,
                    })
                })
                .collect::<Result<_, _>>()?,
        );
        let model = v.model.to_spec();
        let response_format = spec
            .enforce_schema
            .and(renderer.schema_json(&v.template))
            .cloned();
        for case_id in &run.case_ids {
            let case = cases
                .get(case_id.as_str())
                .ok_or_else(|| PlanError::NoCase(case_id.clone()))?;
            let request = build_request(
                &renderer,
                &v.template,
                case,
                &[],
                &model,
                response_format.as_ref(),
            )
            .map_err(|e| PlanError::Template(session.located_template_errors([e])))?;
            let hash = request_hash(&model, &request);
            for repeat in 0..run.repeats {
                cells.push(Arc::new(Cell {
                    key: CellKey {
                        run_id: run.id.clone(),
                        variant: v.name.clone(),
                        case_id: case_id.clone(),
                        repeat,
                    },
                    model: v.model_name.clone(),
                    // Repeats differ only by the cache: each repeat beyond the first must
                    // be a fresh sample, so its hash carries the repeat number.
                    request_hash: if repeat == 0 {
                        hash.clone()
                    } else {
                        format!("{hash}#{repeat}")
                    },
                    request: request.clone(),
                    checks: checks.clone(),
                    schema: schema.clone(),
                    enforce: spec
                        .enforce_schema
                        .zip(schema.clone())
                        .map(|(e, validator)| Enforce {
                            retries: e.retries,
                            validator,
                        }),
                    case: case.clone(),
                    passages: Vec::new(),
                    retrieval_error: None,
                }));
            }
        }
    }
    Ok(cells)
}
