//! `loupe export`: labeled data for fine-tuning, with a manifest (see `crate::export`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::Outcome;
use crate::export::{self, Format, Options, Source, parse_min_rubric};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `OpenAI` chat fine-tuning JSONL: `{"messages": [...]}`.
    Sft,
    /// TRL conversational preference pairs: `{"prompt", "chosen", "rejected"}`.
    Dpo,
    /// `OpenAI` preference fine-tuning: `{"input", "preferred_output", "non_preferred_output"}`.
    OpenaiDpo,
    /// Rubric scores, one row per rater per rated output (JSONL and CSV).
    Rubric,
    /// Every output with its metadata.
    Raw,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::Sft => Format::Sft,
            ExportFormat::Dpo => Format::Dpo,
            ExportFormat::OpenaiDpo => Format::OpenaiDpo,
            ExportFormat::Rubric => Format::Rubric,
            ExportFormat::Raw => Format::Raw,
        }
    }
}

/// Where sft rows' assistant turns come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FromArg {
    /// Outputs of runs that passed the checks and, where rated, won.
    Outputs,
    /// Cases' reference answers (curated examples), the prompt rendered with one variant.
    References,
}

/// Arguments of `loupe export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session file.
    pub session: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Folder to write the files and the manifest to (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Runs to export (repeatable; default: the latest complete run for sft and raw, the
    /// rated runs for dpo, openai-dpo and rubric).
    #[arg(long = "run", value_name = "RUN")]
    pub runs: Vec<String>,
    /// Only these variants (repeatable; a pair is kept when either side is one).
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Minimum mean rubric score of an output, e.g. accuracy=4 (repeatable).
    #[arg(long = "min-rubric", value_name = "DIM=N")]
    pub min_rubric: Vec<String>,
    /// Raters who must agree on a winner, with no tie (default: the session's
    /// `rating.raters_per_comparison`).
    #[arg(long, value_name = "K")]
    pub consensus: Option<u32>,
    /// sft: keep outputs that failed a check.
    #[arg(long)]
    pub include_failing: bool,
    /// sft: leave out outputs a rater gave this failure-mode label (repeatable), e.g.
    /// `--exclude-label hallucination`.
    #[arg(long = "exclude-label", value_name = "LABEL")]
    pub exclude_labels: Vec<String>,
    /// Write personal data and secrets as they are (recorded in the manifest).
    #[arg(long)]
    pub no_redact: bool,
    /// Keep duplicate rows.
    #[arg(long)]
    pub no_dedupe: bool,
    /// Keep rows of evaluation cases.
    #[arg(long)]
    pub no_decontaminate: bool,
    /// Share of cases whose rows go to the validation file.
    #[arg(long, default_value_t = 0.1, value_name = "SHARE")]
    pub valid: f64,
    /// Seed of the train/valid split.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Replace the files of an earlier export of the same format in DIR.
    #[arg(long)]
    pub force: bool,
    /// sft: take the assistant turns from run outputs or from cases' reference answers
    /// (rendered with the template of `--variant`, default the first variant without rag).
    #[arg(long, value_enum, default_value = "outputs")]
    pub from: FromArg,
    /// With --from references: a JSONL file of cases (the session's case format) instead of
    /// the session's own cases; they are checked against its evaluation cases.
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
}

pub fn main(store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let mut opts = Options::new(args.format.into(), args.out);
    opts.runs = args.runs;
    opts.variants = args.variants;
    opts.tags = args.tags;
    for m in &args.min_rubric {
        let (dim, min) = parse_min_rubric(m)?;
        opts.min_rubric.insert(dim, min);
    }
    opts.consensus = args.consensus;
    opts.include_failing = args.include_failing;
    opts.exclude_labels.clone_from(&args.exclude_labels);
    opts.redact = !args.no_redact;
    opts.dedupe = !args.no_dedupe;
    opts.decontaminate = !args.no_decontaminate;
    opts.valid = args.valid;
    opts.seed = args.seed;
    opts.force = args.force;
    opts.from = match args.from {
        FromArg::Outputs => Source::Outputs,
        FromArg::References => Source::References,
    };
    opts.cases = args.cases;

    let session = crate::session::load(&args.session)?;
    let store = if opts.from == Source::References {
        // Reference rows need no run; the export is still recorded in the session's store.
        super::store_for_session(store, &args.session)
    } else {
        super::existing_store_for_session(store, &args.session, |dir| {
            format!(
                "no run of session {:?}: no store at {}; run it first (`loupe run {}`), or pass \
             --store DIR",
                session.file.name,
                dir.display(),
                args.session.display()
            )
        })?
    };

    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("exporting {bar:30} {pos}/{len} rows")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let manifest = export::export(&session, &store, &opts, &mut progress)?;
    bar.finish_and_clear();

    let c = &manifest.counts;
    let prefix = opts.format.as_str();
    // Only training formats are split; raw and rubric have one file.
    let split = if opts.format.is_training() {
        format!(" ({} train, {} valid)", c.train, c.valid)
    } else {
        String::new()
    };
    eprintln!(
        "{prefix}: {} of {} rows written{split}, {} dropped, {} redactions{}",
        c.rows_out,
        c.rows_in,
        c.dropped_total(),
        manifest.redactions.values().sum::<u64>(),
        if opts.redact { "" } else { " (--no-redact)" }
    );
    for (why, n) in &c.dropped {
        eprintln!("  dropped {n:>6} {why}");
    }
    for note in &manifest.notes {
        eprintln!("note: {note}");
    }
    println!(
        "{}",
        opts.out.join(format!("{prefix}.manifest.json")).display()
    );
    if c.rows_out == 0 {
        eprintln!(
            "nothing exported: every row was dropped (reasons above, rows in {})",
            opts.out.join(format!("{prefix}.dropped.jsonl")).display()
        );
        return Ok(Outcome::Problem);
    }
    Ok(Outcome::Ok)
}
