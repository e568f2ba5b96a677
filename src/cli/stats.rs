//! `loupe stats FILE`: the statistics of pairwise verdicts collected anywhere (see
//! [`crate::eval::verdicts`] for the input and the JSON it prints).

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Format, Outcome};
use crate::eval::verdicts::{self, AnalyseOptions};

/// Arguments of `loupe stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSONL verdicts, one per line (`-` reads stdin).
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Significance level; intervals are at 1 - alpha.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Bootstrap resamples for the ranking's intervals (0 skips them).
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Seed of the bootstrap: the same file and seed give the same report.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[allow(clippy::needless_pass_by_value)] // every command's `main` takes its Args by value
pub fn main(_store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        anyhow::bail!(
            "--alpha must be between 0 and 1 (exclusive), not {}",
            args.alpha
        );
    }
    let name = args.file.display().to_string();
    let verdicts = if name == "-" {
        verdicts::parse_verdicts(std::io::stdin().lock(), "<stdin>")?
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("cannot open {name}"))?;
        verdicts::parse_verdicts(BufReader::new(file), &name)?
    };
    let report = verdicts::analyse(
        &verdicts,
        &AnalyseOptions {
            seed: args.seed,
            bootstrap_resamples: args.resamples,
            alpha: args.alpha,
        },
    );
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        // Names come from a file anyone may have written: no escape sequence reaches the
        // terminal.
        Format::Table => {
            out.write_all(crate::sanitize::sanitize(&verdicts::render_table(&report)).as_bytes())?;
        }
    }
    Ok(Outcome::Ok)
}
