//! Run and output records as the store keeps them, for tests that put a run straight into
//! the store or the workbench's state instead of planning and running it.

#![allow(dead_code, clippy::unwrap_used)]

use loupe::providers::Usage;
use loupe::session::Session;
use loupe::store::{EnforceRecord, OutputRecord, RunRecord, RunStatus, RunVariant};

/// The answer of `variant` on `case_id` in run `run_id`, first repeat: `text`, got on the
/// first attempt, uncached, in 1 ms, with no usage, cost, finish reason, request hash,
/// checks or passages. Change what a test is about with
/// `OutputRecord { latency_ms: 900, ..output(...) }`.
pub fn output(run_id: &str, variant: &str, case_id: &str, text: impl Into<String>) -> OutputRecord {
    OutputRecord {
        run_id: run_id.into(),
        variant: variant.into(),
        case_id: case_id.into(),
        repeat: 0,
        text: text.into(),
        usage: Usage::default(),
        latency_ms: 1,
        ttft_ms: None,
        cost_usd: None,
        cached: false,
        attempts: 1,
        finish_reason: None,
        error: None,
        request_hash: String::new(),
        checks: Vec::new(),
        schema_attempts: Vec::new(),
        passages: Vec::new(),
        finished_ms: 0,
    }
}

/// Run `id` of the session named `session_name`: `variants` on `case_ids`, one repeat,
/// created at 0 and not finished, with no session path or hash. Change the rest with
/// `RunRecord { finished_ms: Some(1), ..run(...) }`.
pub fn run(
    id: &str,
    session_name: &str,
    status: RunStatus,
    variants: Vec<RunVariant>,
    case_ids: Vec<String>,
) -> RunRecord {
    RunRecord {
        id: id.into(),
        session_name: session_name.into(),
        session_path: String::new(),
        session_hash: String::new(),
        created_ms: 0,
        finished_ms: None,
        status,
        variants,
        case_ids,
        repeats: 1,
        no_cache: false,
    }
}

/// Run `id` of `session`, complete at 1 ms: `variants` (as [`run_variant`] records them) on
/// `case_ids`, with the session's path as it was loaded and the stand-in hash `h`.
pub fn complete_run(
    session: &Session,
    id: &str,
    variants: &[&str],
    case_ids: Vec<String>,
) -> RunRecord {
    RunRecord {
        session_path: session.path.display().to_string(),
        session_hash: "h".into(),
        finished_ms: Some(1),
        ..run(
            id,
            &session.file.name,
            RunStatus::Complete,
            variants.iter().map(|v| run_variant(session, v)).collect(),
            case_ids,
        )
    }
}

/// How a run records variant `name` of `session`: its template, model and retrieval as the
/// session names them, the stand-in template version `{name}-0123456789abcdef`, and no
/// schema enforcement.
pub fn run_variant(session: &Session, name: &str) -> RunVariant {
    let variant = session.variant(name).unwrap();
    RunVariant {
        name: name.into(),
        template: variant.template.clone(),
        template_version: format!("{name}-0123456789abcdef"),
        model_name: variant.model.clone(),
        model: session.model_for(name).unwrap().into(),
        rag: variant.rag.clone(),
        enforce_schema: EnforceRecord::Off,
    }
}
