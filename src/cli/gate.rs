//! `loupe gate RUN --candidate V --baseline B`: exit 0 only when the candidate beats the
//! baseline significantly and by at least the minimum effect, and then record a frozen
//! release; exit 1 otherwise. The evidence is printed either way.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use super::compare::{self, ByArgs, CompareReport};
use super::{Format, Outcome, find_store};
use crate::eval::calibration::{JudgeCalibration, admits, calibrate};
use crate::eval::headtohead::{self, GateDecision, GateTest};
use crate::session::SessionFile;
use crate::store::{
    RagRecord, ReleaseRecord, ReleasedRag, RunStatus, Store, format_time, new_run_id, now_ms,
};

/// Arguments of `loupe gate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (`loupe runs` lists them).
    #[arg(required_unless_present = "list")]
    pub run: Option<String>,
    /// The variant that must win.
    #[arg(long, value_name = "V", required_unless_present = "list")]
    pub candidate: Option<String>,
    /// The variant it must beat.
    #[arg(long, value_name = "B", required_unless_present = "list")]
    pub baseline: Option<String>,
    /// The smallest mean per-case difference (candidate minus baseline) that counts, on
    /// the scale of the scores (pass rates: 0.05 is five points).
    #[arg(long, default_value_t = 0.05)]
    pub min_effect: f64,
    /// Decide significance with the anytime-valid sequential test instead of the
    /// fixed-sample sign test: right when the gate is run again as cases or judgements
    /// are added (stopping at the first pass would otherwise overstate the evidence).
    #[arg(long)]
    pub sequential: bool,
    #[command(flatten)]
    pub by: ByArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// List the releases recorded so far instead of gating.
    #[arg(long, conflicts_with_all = ["run", "candidate", "baseline"])]
    pub list: bool,
}

/// What `loupe gate --format json` prints.
#[derive(Debug, Clone, Serialize)]
struct GateReport<'a> {
    #[serde(flatten)]
    compare: &'a CompareReport,
    decision: &'a GateDecision,
    #[serde(skip_serializing_if = "Option::is_none")]
    judge_calibration: Option<&'a JudgeCalibration>,
    release: Option<&'a str>,
}

#[allow(clippy::needless_pass_by_value)] // every command's `main` takes its Args by value
pub fn main(store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let store = Store::open(&find_store(store)?)?;
    if args.list {
        return list(&store, args.format);
    }
    let (Some(run_id), Some(candidate), Some(baseline)) =
        (&args.run, &args.candidate, &args.baseline)
    else {
        anyhow::bail!("give RUN, --candidate and --baseline (or --list)");
    };
    if !args.min_effect.is_finite() {
        anyhow::bail!("--min-effect must be a number, not {}", args.min_effect);
    }
    let run = store.run(run_id)?;
    if run.status != RunStatus::Complete {
        anyhow::bail!(
            "run {} is {}: finish it first (`loupe run SESSION --resume {}`); a gate decides on \
             complete runs only",
            run.id,
            format!("{:?}", run.status).to_lowercase(),
            run.id
        );
    }
    let report =
        crate::eval::compare::head_to_head(&store, &run, candidate, baseline, &args.by.basis())?;
    // A judge decides only where it agrees with people on this session.
    let calibration = match args.by.by {
        super::compare::By::Judge => Some(judge_calibration(&store, &run, &report, &args)?),
        super::compare::By::Check => None,
    };
    let test = if args.sequential {
        GateTest::Sequential
    } else {
        GateTest::FixedSample
    };
    let decision = headtohead::gate(&report.head_to_head, args.min_effect, test);

    let release = if decision.passed {
        let evidence = serde_json::json!({
            "head_to_head": &report.head_to_head,
            "notes": &report.notes,
            "decision": &decision,
            "judge_calibration": &calibration,
        });
        let rec = release_record(&store, &run, candidate, baseline, evidence)?;
        store.put_release(&rec)?;
        Some(rec.id)
    } else {
        None
    };

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let json = GateReport {
                compare: &report,
                decision: &decision,
                judge_calibration: calibration.as_ref(),
                release: release.as_deref(),
            };
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::Table => {
            let mut text = compare::render_table(&report);
            let _ = writeln!(
                text,
                "\ngate: {} {} {}",
                candidate,
                if decision.passed {
                    "PASSES against"
                } else {
                    "does not pass against"
                },
                baseline
            );
            if let Some(c) = &calibration {
                let _ = writeln!(
                    text,
                    "  judge calibration: kappa {} against human consensus on {} comparisons{}; both orders agree on {} of {}",
                    c.kappa
                        .map_or_else(|| "n/a".to_owned(), |k| format!("{k:.2}")),
                    c.overlap,
                    c.kappa_interval
                        .map_or_else(String::new, |i| format!(" [{:.2}, {:.2}]", i.low, i.high)),
                    c.consistent,
                    c.judged
                );
            }
            for (reason, met) in decision.reasons.iter().zip(&decision.met) {
                let mark = if *met { "[pass]" } else { "[FAIL]" };
                let _ = writeln!(text, "  {mark} {reason}");
            }
            if let Some(id) = &release {
                let _ = writeln!(text, "release {id} recorded (`loupe gate --list`)");
            }
            out.write_all(crate::sanitize::sanitize(&text).as_bytes())?;
        }
    }
    Ok(if decision.passed {
        Outcome::Ok
    } else {
        Outcome::Problem
    })
}

/// The calibration of the judge the head to head used, against the human ratings of this
/// run, checked against the session's `judge:` bar (as the run recorded the session).
/// Refuses, naming why and how many human-rated comparisons are needed, below the bar.
fn judge_calibration(
    store: &Store,
    run: &crate::store::RunRecord,
    report: &CompareReport,
    args: &Args,
) -> anyhow::Result<JudgeCalibration> {
    let id = report
        .head_to_head
        .by
        .strip_prefix("judge ")
        .unwrap_or(&report.head_to_head.by)
        .to_owned();
    let policy = store
        .session(&run.session_hash)?
        .and_then(|s| serde_yaml::from_str::<SessionFile>(&s.source).ok())
        .and_then(|f| f.judge)
        .unwrap_or_default();
    let judgements: Vec<_> = store
        .judgements(&run.id)
        .filter(|j| j.as_ref().map_or(true, |j| j.judge == id))
        .collect::<Result<_, _>>()?;
    let ratings: Vec<_> = store
        .ratings(&run.session_name)
        .filter(|r| r.as_ref().map_or(true, |r| r.comparison.run_id == run.id))
        .collect::<Result<_, _>>()?;
    let confidence = 1.0 - args.by.alpha;
    let calibration = calibrate(
        &judgements,
        &ratings,
        confidence,
        args.by.resamples,
        args.by.seed,
    )
    .into_iter()
    .find(|c| c.judge == id)
    .unwrap_or_else(|| JudgeCalibration {
        judge: id.clone(),
        judged: 0,
        consistent: 0,
        consistency: crate::eval::stats::rate(0, 0, confidence),
        overlap: 0,
        agreement: None,
        kappa: None,
        kappa_interval: None,
        resamples: args.by.resamples,
        seed: args.by.seed,
    });
    if let Err(why) = admits(Some(&calibration), &id, &policy) {
        anyhow::bail!("loupe gate --by judge refuses: {why}");
    }
    Ok(calibration)
}

/// Freezes what the candidate is: template version and content, model and params, RAG
/// config, as the run used them.
fn release_record(
    store: &Store,
    run: &crate::store::RunRecord,
    candidate: &str,
    baseline: &str,
    evidence: serde_json::Value,
) -> anyhow::Result<ReleaseRecord> {
    let variant = run
        .variant(candidate)
        .ok_or_else(|| anyhow::anyhow!("run {} has no variant {candidate:?}", run.id))?;
    // A release says exactly what was frozen, or is not recorded.
    let template_content = match store.template_version(&variant.template_version)? {
        Some(t) => Some(t.content),
        None => anyhow::bail!(
            "the content of template {} version {} (variant {candidate} of run {}) is not in \
             the store, so a release could not say exactly what was frozen; nothing recorded. \
             Rerun the variant (`loupe run SESSION --variant {candidate}`) and gate that run",
            variant.template,
            variant.template_version,
            run.id
        ),
    };
    let rag = variant.rag.as_ref().map(|name| {
        // The session text the run recorded, so the config is the one that ran.
        let spec = store
            .session(&run.session_hash)
            .ok()
            .flatten()
            .and_then(|s| serde_yaml::from_str::<SessionFile>(&s.source).ok())
            .and_then(|f| f.rag.get(name).map(RagRecord::from));
        ReleasedRag {
            name: name.clone(),
            spec,
        }
    });
    // A fine-tuned model is frozen with the training run that made it, or not at all.
    let training = match crate::tune::run_name(&variant.model.model) {
        None => None,
        Some(name) => match store.tune(name)? {
            Some(t) if t.is_finished() => Some(t),
            Some(t) => anyhow::bail!(
                "variant {candidate} uses model {} and its training run {name:?} is {}, not \
                 finished, so a release could not say which rows made it; nothing recorded",
                variant.model.model,
                crate::tune::shown_status(&t)
            ),
            None => anyhow::bail!(
                "variant {candidate} uses model {} but this store has no training run {name:?} \
                 (`loupe tunes` lists them), so a release could not say which rows made it; \
                 nothing recorded. Train it here (`loupe tune SESSION --name {name} ...`)",
                variant.model.model
            ),
        },
    };
    Ok(ReleaseRecord {
        id: format!("rel-{}", new_run_id()),
        session: run.session_name.clone(),
        session_hash: run.session_hash.clone(),
        run_id: run.id.clone(),
        variant: candidate.to_owned(),
        baseline: baseline.to_owned(),
        template: variant.template.clone(),
        template_version: variant.template_version.clone(),
        template_content,
        model_name: variant.model_name.clone(),
        model: variant.model.clone(),
        rag,
        evidence,
        training,
        created_ms: now_ms(),
    })
}

fn list(store: &Store, format: Format) -> anyhow::Result<Outcome> {
    let releases = store.releases().collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &releases)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let mut rows = vec![
        [
            "release", "recorded", "session", "run", "variant", "baseline", "template", "model",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for r in &releases {
        rows.push(vec![
            r.id.clone(),
            format_time(r.created_ms),
            r.session.clone(),
            r.run_id.clone(),
            r.variant.clone(),
            r.baseline.clone(),
            format!(
                "{}@{}",
                r.template,
                r.template_version.get(..12).unwrap_or(&r.template_version)
            ),
            format!("{} ({})", r.model_name, r.model.model),
        ]);
    }
    let mut text = String::new();
    crate::report::push_table(&mut text, &rows);
    for r in &releases {
        if let Some(t) = &r.training {
            let _ = writeln!(
                text,
                "{}: model trained by {} ({}) on {}/sft.manifest.json sha256 {} ({} rows), \
                 base sha256 {}, model sha256 {}",
                r.id,
                t.name,
                t.id,
                t.data.dir,
                t.data.manifest_sha256,
                t.data.rows_out,
                t.base.sha256,
                t.output.as_ref().map_or("-", |o| o.sha256.as_str())
            );
        }
    }
    out.write_all(crate::sanitize::sanitize(&text).as_bytes())?;
    Ok(Outcome::Ok)
}
