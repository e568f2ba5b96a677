//! A run planned by the real planner and answered through the store API, without a model:
//! the template versions and request hashes are the ones a real run stores, so exports and
//! the rating screen read it as they would a real run.

use loupe::eval::spec::CheckResult;
use loupe::providers::Usage;
use loupe::runner::{Cell, Plan, Selection, plan_new_run};
use loupe::session::Session;
use loupe::store::{OutputRecord, RunRecord, RunStatus, Store};

/// A check that passed.
pub fn passed(name: &str) -> CheckResult {
    check(name, true)
}

/// Check `name`'s result, passed or not, with no score or reason.
pub fn check(name: &str, pass: bool) -> CheckResult {
    CheckResult {
        name: name.into(),
        pass,
        score: None,
        reason: String::new(),
    }
}

/// A successful answer to `cell`; callers change the fields their test is about.
pub fn answer(cell: &Cell, text: String, checks: Vec<CheckResult>) -> OutputRecord {
    let k = &cell.key;
    OutputRecord {
        run_id: k.run_id.clone(),
        variant: k.variant.clone(),
        case_id: k.case_id.clone(),
        repeat: k.repeat,
        text,
        usage: Usage::default(),
        latency_ms: 10,
        ttft_ms: None,
        cost_usd: None,
        cached: false,
        attempts: 1,
        finish_reason: Some("stop".into()),
        error: None,
        request_hash: cell.request_hash.clone(),
        checks,
        schema_attempts: Vec::new(),
        passages: Vec::new(),
        finished_ms: 1,
    }
}

/// Plans a run of every variant on every case of `session`.
pub fn plan(session: &Session, store: &Store) -> Plan {
    plan_new_run(session, store, &Selection::default(), false).unwrap()
}

/// Stores `output(cell)` for every cell of `plan`, then the run, complete.
pub fn complete(store: &Store, plan: &Plan, output: impl Fn(&Cell) -> OutputRecord) -> RunRecord {
    for cell in &plan.cells {
        store.put_output(&output(cell)).unwrap();
    }
    let mut run = plan.run.clone();
    run.status = RunStatus::Complete;
    run.finished_ms = Some(run.created_ms + 1);
    store.put_run(&run).unwrap();
    store.flush().unwrap();
    run
}
