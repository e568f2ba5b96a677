//! `loupe compare RUN A B`: head to head of two variants of a run, case by case, from
//! check scores or from the judge (see [`crate::eval::compare`]).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{Format, Outcome, find_store};
pub use crate::eval::compare::CompareReport;
use crate::eval::compare::{self, Basis, head_to_head};
use crate::store::Store;

/// Arguments of `loupe compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (`loupe runs` lists them).
    pub run: String,
    /// The variant whose wins are counted.
    pub a: String,
    /// The variant it is compared with.
    pub b: String,
    #[command(flatten)]
    pub by: ByArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// What a head to head is decided by, shared with `loupe gate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ByArgs {
    /// Per-case scores from the checks, or the judge's verdicts.
    #[arg(long, value_enum, default_value = "check")]
    pub by: By,
    /// With `--by check`: this check's score (its pass as 1 or 0 when it has no score)
    /// instead of passing every check.
    #[arg(long, value_name = "NAME")]
    pub check: Option<String>,
    /// With `--by judge`: the judge (`template@model`) when the run has several.
    #[arg(long, value_name = "ID")]
    pub judge: Option<String>,
    /// Significance level; intervals are at 1 - alpha.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Bootstrap resamples for the interval of the mean difference.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Seed of the bootstrap: the same run and seed give the same interval.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Check,
    Judge,
}

impl ByArgs {
    /// The head to head's basis as the statistics service takes it.
    pub fn basis(&self) -> Basis {
        Basis {
            by: match self.by {
                By::Check => compare::By::Check,
                By::Judge => compare::By::Judge,
            },
            check: self.check.clone(),
            judge: self.judge.clone(),
            alpha: self.alpha,
            resamples: self.resamples,
            seed: self.seed,
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // every command's `main` takes its Args by value
pub fn main(store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let store = Store::open(&find_store(store)?)?;
    let run = store.run(&args.run)?;
    let report = head_to_head(&store, &run, &args.a, &args.b, &args.by.basis())?;
    // How each of the two retrieved and cited, when either is a RAG variant.
    let retrieval = if run
        .variants
        .iter()
        .any(|v| v.rag.is_some() && (v.name == args.a || v.name == args.b))
    {
        let outputs = store.outputs(&run.id).collect::<Result<Vec<_>, _>>()?;
        let retrievals = store.rag_index()?.retrievals(&run.id)?;
        crate::report::retrieval_report(&run, &outputs, &retrievals)
            .into_iter()
            .filter(|r| r.variant == args.a || r.variant == args.b)
            .collect()
    } else {
        Vec::new()
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut value = serde_json::to_value(&report)?;
            if !retrieval.is_empty()
                && let Some(map) = value.as_object_mut()
            {
                map.insert("retrieval".into(), serde_json::to_value(&retrieval)?);
            }
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        Format::Table => {
            let mut text = render_table(&report);
            if !retrieval.is_empty() {
                text.push_str(&crate::report::render_retrieval(&retrieval));
            }
            out.write_all(crate::sanitize::sanitize(&text).as_bytes())?;
        }
    }
    Ok(Outcome::Ok)
}

/// The head to head as plain text.
pub fn render_table(report: &CompareReport) -> String {
    let h = &report.head_to_head;
    let level = format!("{:.0}%", h.confidence * 100.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}: {} vs {} by {} ({} cases)",
        report.run_id, h.a, h.b, h.by, h.cases
    );
    let rate = h.win_rate.estimate.map_or_else(
        || "n/a".to_owned(),
        |r| format!("{r:.3} [{:.3}, {:.3}]", h.win_rate.low, h.win_rate.high),
    );
    let mean = h.mean_difference.map_or_else(
        || "n/a".to_owned(),
        |m| format!("{:+.3} [{:+.3}, {:+.3}]", m.estimate, m.low, m.high),
    );
    let rows = vec![
        vec![
            "wins".to_owned(),
            "ties".to_owned(),
            "losses".to_owned(),
            format!("win rate ({level} Wilson)"),
            "sign test p".to_owned(),
            format!("mean difference ({level} bootstrap)"),
        ],
        vec![
            h.wins.to_string(),
            h.ties.to_string(),
            h.losses.to_string(),
            rate,
            format!("{:.4}", h.sign_test_p),
            mean,
        ],
    ];
    crate::report::push_table(&mut out, &rows);
    let _ = writeln!(
        out,
        "win rate and sign test: {}'s wins against its losses, ties excluded (exact two-sided \
         binomial); mean difference: {} minus {} per case, ties included ({} resamples, seed {})",
        h.a, h.a, h.b, h.resamples, h.seed
    );
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
