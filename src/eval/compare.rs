//! The head to head of two variants of a stored run, case by case, from check scores or
//! from the judge: what `loupe compare`, `loupe gate` and the workbench all ask. The
//! statistics themselves are in [`super::headtohead`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::headtohead::{CaseDifference, HeadToHead, Options, compare};
use crate::spec::JudgeVerdict;
use crate::store::{OutputRecord, RunRecord, RunStatus, Store, StoreError};

/// What a head to head is decided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Per-case scores from the checks.
    Check,
    /// The judge's verdicts.
    Judge,
}

/// What a head to head is decided by, and how its statistics are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    pub by: By,
    /// With [`By::Check`]: this check's score (its pass as 1 or 0 when it has no score)
    /// instead of passing every check.
    pub check: Option<String>,
    /// With [`By::Judge`]: the judge (`template@model`) when the run has several.
    pub judge: Option<String>,
    /// Significance level; intervals are at 1 - alpha.
    pub alpha: f64,
    /// Bootstrap resamples for the interval of the mean difference.
    pub resamples: usize,
    /// Seed of the bootstrap: the same run and seed give the same interval.
    pub seed: u64,
}

/// A head to head of a run, with what a reader should know about how it was made.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub run_id: String,
    #[serde(flatten)]
    pub head_to_head: HeadToHead,
    pub notes: Vec<String>,
}

/// Why a head to head cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The question does not fit the run (a variant it lacks, no judgements, ...).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(CompareError::Invalid(format!($($arg)*)))
    };
}

/// The head to head of `a` against `b` in `run`, as `by` says.
pub fn head_to_head(
    store: &Store,
    run: &RunRecord,
    a: &str,
    b: &str,
    by: &Basis,
) -> Result<CompareReport, CompareError> {
    if !(by.alpha > 0.0 && by.alpha < 1.0) {
        bail!(
            "--alpha must be between 0 and 1 (exclusive), not {}",
            by.alpha
        );
    }
    for name in [a, b] {
        if run.variant(name).is_none() {
            bail!(
                "run {} has no variant {name:?} (it has: {})",
                run.id,
                run.variants
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if a == b {
        bail!("compare two different variants, not {a:?} with itself");
    }
    let mut notes = Vec::new();
    let (label, per_case) = match by.by {
        By::Check => {
            if by.judge.is_some() {
                bail!("--judge goes with --by judge");
            }
            by_checks(store, run, a, b, by.check.as_deref(), &mut notes)?
        }
        By::Judge => {
            if by.check.is_some() {
                bail!("--check goes with --by check");
            }
            by_judge(store, run, a, b, by.judge.as_deref(), &mut notes)?
        }
    };
    if run.status != RunStatus::Complete {
        notes.push(format!(
            "run {} is {:?}: only the cases finished so far are compared",
            run.id, run.status
        ));
    }
    let options = Options {
        alpha: by.alpha,
        resamples: by.resamples,
        seed: by.seed,
    };
    Ok(CompareReport {
        run_id: run.id.clone(),
        head_to_head: compare(a, b, &label, per_case, &options),
        notes,
    })
}

/// Scores per case (averaged over repeats) for both variants, from the outputs' checks.
/// An output with an error scores 0: it failed to answer.
fn by_checks(
    store: &Store,
    run: &RunRecord,
    a: &str,
    b: &str,
    check: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(String, Vec<CaseDifference>), CompareError> {
    let mut outputs: Vec<(usize, OutputRecord)> = Vec::new();
    for output in store.outputs(&run.id) {
        let output: OutputRecord = output?;
        if output.variant == a {
            outputs.push((0, output));
        } else if output.variant == b {
            outputs.push((1, output));
        }
    }
    let check = match check {
        Some(name) => Some(resolve_check(&outputs, name, a, b, &run.id)?),
        None => None,
    };
    let check = check.as_deref();
    let mut scores: BTreeMap<String, [(f64, u32); 2]> = BTreeMap::new();
    let mut errors = 0;
    for (side, output) in &outputs {
        let score = match check {
            None => f64::from(u8::from(output.passed())),
            Some(name) => output
                .checks
                .iter()
                .find(|c| c.name == name)
                .map_or(0.0, |c| c.score.unwrap_or(f64::from(u8::from(c.pass)))),
        };
        errors += usize::from(output.is_error());
        let slot = &mut scores.entry(output.case_id.clone()).or_default()[*side];
        slot.0 += score;
        slot.1 += 1;
    }
    if errors > 0 {
        notes.push(format!(
            "{errors} outputs had errors; each scored 0 (it failed to answer)"
        ));
    }
    let label = check.map_or_else(|| "pass_all".to_owned(), |name| format!("check {name}"));
    Ok((label, paired(scores, notes)))
}

/// The check a `--check NAME` means: a result name as stored (`regex /risk`), or the
/// kind of exactly one of them (`regex`).
fn resolve_check(
    outputs: &[(usize, OutputRecord)],
    name: &str,
    a: &str,
    b: &str,
    run_id: &str,
) -> Result<String, CompareError> {
    let mut known: Vec<&str> = Vec::new();
    for (_, o) in outputs {
        for c in &o.checks {
            if !known.contains(&c.name.as_str()) {
                known.push(&c.name);
            }
        }
    }
    if known.contains(&name) {
        return Ok(name.to_owned());
    }
    let of_kind: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| k.split_whitespace().next() == Some(name))
        .collect();
    match of_kind.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => bail!(
            "no output of {a} or {b} in run {run_id} has a check named {name:?} (checks: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ),
        several => bail!(
            "several checks of kind {name:?} in run {run_id}: name one ({})",
            several.join(", ")
        ),
    }
}

/// The judge's verdicts per case (averaged over repeats): 1 for the winner, 0 for the
/// loser, ½ each for a tie, so the difference is +1, 0 or −1.
fn by_judge(
    store: &Store,
    run: &RunRecord,
    a: &str,
    b: &str,
    judge: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(String, Vec<CaseDifference>), CompareError> {
    let all = store.judgements(&run.id).collect::<Result<Vec<_>, _>>()?;
    let mut ids: Vec<&str> = all.iter().map(|j| j.judge.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let id = match (judge, ids.as_slice()) {
        (Some(id), _) if ids.contains(&id) => id.to_owned(),
        (_, []) => bail!(
            "run {} has no judgements{}: add a `judge` check to the session and run it (or \
             resume the run with `loupe run SESSION --resume {}`)",
            run.id,
            judge.map_or_else(String::new, |id| format!(" by {id}")),
            run.id
        ),
        (Some(id), known) => bail!(
            "run {} has no judge {id:?} (it has: {})",
            run.id,
            known.join(", ")
        ),
        (None, [one]) => (*one).to_owned(),
        (None, several) => bail!(
            "run {} has several judges: pick one with --judge ({})",
            run.id,
            several.join(", ")
        ),
    };
    let mut scores: BTreeMap<String, [(f64, u32); 2]> = BTreeMap::new();
    let (mut judged, mut agreed, mut failed) = (0usize, 0usize, 0usize);
    for j in all.iter().filter(|j| j.judge == id) {
        let flipped = if j.a == a && j.b == b {
            false
        } else if j.a == b && j.b == a {
            true
        } else {
            continue;
        };
        if j.error.is_some() {
            failed += 1;
            continue;
        }
        judged += 1;
        agreed += usize::from(j.agreed);
        let (score_a, score_b) = match (j.verdict, flipped) {
            (JudgeVerdict::A, false) | (JudgeVerdict::B, true) => (1.0, 0.0),
            (JudgeVerdict::B, false) | (JudgeVerdict::A, true) => (0.0, 1.0),
            (JudgeVerdict::Tie, _) => (0.5, 0.5),
        };
        let slots = scores.entry(j.case_id.clone()).or_default();
        slots[0].0 += score_a;
        slots[0].1 += 1;
        slots[1].0 += score_b;
        slots[1].1 += 1;
    }
    if judged == 0 {
        bail!(
            "judge {id} compared no output of {a} with one of {b} in run {} (name the pair in \
             the judge's `pairs`, or leave `pairs` out to judge every pair)",
            run.id
        );
    }
    notes.push(format!(
        "the judge's two orders agreed on {agreed} of {judged} comparisons; disagreements count as ties"
    ));
    if failed > 0 {
        notes.push(format!(
            "{failed} judgements failed (a request error) and are left out"
        ));
    }
    Ok((format!("judge {id}"), paired(scores, notes)))
}

/// Cases scored for both variants, as differences of their mean scores.
fn paired(
    scores: BTreeMap<String, [(f64, u32); 2]>,
    notes: &mut Vec<String>,
) -> Vec<CaseDifference> {
    let mut unpaired = 0;
    let mut out = Vec::with_capacity(scores.len());
    for (case, [(sum_a, n_a), (sum_b, n_b)]) in scores {
        if n_a == 0 || n_b == 0 {
            unpaired += 1;
            continue;
        }
        let (a, b) = (sum_a / f64::from(n_a), sum_b / f64::from(n_b));
        out.push(CaseDifference {
            case,
            a,
            b,
            difference: a - b,
        });
    }
    if unpaired > 0 {
        notes.push(format!(
            "{unpaired} cases have an output from only one of the two variants and are left out"
        ));
    }
    out
}
