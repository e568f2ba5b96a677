//! Check results for test outputs, computed the way the runner computes them: the
//! session's own checks for the variant, run on the output's text. A fixture never says
//! "not JSON" about valid JSON.

#![allow(dead_code, clippy::unwrap_used)]

use loupe::eval::checks::{CheckInput, CompiledCheck, run_checks};
use loupe::eval::spec::CheckResult;
use loupe::session::Session;
use loupe::store::OutputRecord;

/// The checks of `variant` named in `kinds` (all of them when empty), run on `out` as the
/// runner would run them on a finished cell; an errored output gets none, as in a run.
pub fn computed(
    session: &Session,
    variant: &str,
    out: &OutputRecord,
    kinds: &[&str],
) -> Vec<CheckResult> {
    if out.error.is_some() {
        return Vec::new();
    }
    let specs: Vec<_> = session
        .checks_for(variant)
        .into_iter()
        .filter(|c| kinds.is_empty() || kinds.contains(&c.kind_name()))
        .collect();
    let compiled = CompiledCheck::compile_all(&specs, &session.dir).unwrap();
    let case = session.cases.iter().find(|c| c.id == out.case_id).unwrap();
    let schema = session
        .template_for(variant)
        .and_then(|t| t.output_schema.as_ref())
        .map(|s| s.validator.clone());
    run_checks(
        &compiled,
        &CheckInput {
            text: &out.text,
            case,
            latency_ms: out.latency_ms,
            ttft_ms: out.ttft_ms,
            cost_usd: out.cost_usd,
            output_tokens: out.usage.output_tokens,
            schema: schema.as_deref(),
            passages: &out
                .passages
                .iter()
                .map(|p| p.id.clone())
                .collect::<Vec<_>>(),
        },
    )
}

/// `out` with its checks: those of `variant` named in `kinds`, as [`computed`] runs them.
pub fn with_checks(
    session: &Session,
    variant: &str,
    mut out: OutputRecord,
    kinds: &[&str],
) -> OutputRecord {
    out.checks = computed(session, variant, &out, kinds);
    out
}
