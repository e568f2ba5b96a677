//! Exports: labeled data for fine-tuning, written as plain JSONL (and CSV) that training
//! stacks read as they are, with a manifest a person can audit.
//!
//! | format | rows | from |
//! | --- | --- | --- |
//! | `sft` | `{"messages": [system, examples..., user, assistant]}` (`OpenAI` chat fine-tuning) | outputs that pass every check and, where rated, won by consensus |
//! | `dpo` | `{"prompt": [...], "chosen": [...], "rejected": [...]}` (TRL conversational preference) | comparisons with a consensus |
//! | `openai-dpo` | `{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}` | the same |
//! | `rubric` | one row per rater per rated output: scores, mean, rater (JSONL and CSV) | ratings with scores |
//! | `raw` | every output with its metadata | outputs |
//!
//! Hygiene is on by default: redaction, deduplication (sft and preference pairs),
//! decontamination against the evaluation split (every format but raw), and a
//! deterministic train/valid split by case (sft and preference pairs). Every dropped row is
//! counted by reason and listed in `<format>.dropped.jsonl`; every written row of a training
//! file is traced to its outputs in `<format>.rows.jsonl`.
//!
//! Rows stream from the store to the files: memory holds the ratings, the session's cases
//! and 16 bytes per distinct row for deduplication, never the rows.

pub mod files;
pub mod hygiene;
mod manifest;
pub mod prompt;
pub mod ratings;
mod rows;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use manifest::Manifest;
pub use rows::export;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Sft,
    Dpo,
    OpenaiDpo,
    Rubric,
    Raw,
}

impl Format {
    /// The name used on the command line, in the manifest and as the files' prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Sft => "sft",
            Format::Dpo => "dpo",
            Format::OpenaiDpo => "openai-dpo",
            Format::Rubric => "rubric",
            Format::Raw => "raw",
        }
    }

    /// Preference pairs: one row per comparison.
    pub fn is_pairs(self) -> bool {
        matches!(self, Format::Dpo | Format::OpenaiDpo)
    }

    /// Formats made for training, which get a train/valid split and deduplication.
    pub fn is_training(self) -> bool {
        matches!(self, Format::Sft | Format::Dpo | Format::OpenaiDpo)
    }

    /// Formats built from ratings, whose default runs are the rated ones.
    pub fn from_ratings(self) -> bool {
        matches!(self, Format::Dpo | Format::OpenaiDpo | Format::Rubric)
    }

    /// Every file name this format may write in its folder (existing ones are not
    /// overwritten without `--force`).
    pub fn file_names(self) -> Vec<String> {
        let p = self.as_str();
        let mut names = match self {
            Format::Sft | Format::Dpo | Format::OpenaiDpo => vec![
                format!("{p}.train.jsonl"),
                format!("{p}.valid.jsonl"),
                format!("{p}.rows.jsonl"),
            ],
            Format::Rubric => vec![format!("{p}.jsonl"), format!("{p}.csv")],
            Format::Raw => vec![format!("{p}.jsonl")],
        };
        names.push(format!("{p}.dropped.jsonl"));
        names.push(format!("{p}.manifest.json"));
        names
    }
}

/// Where an sft export's assistant turns come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Outputs of runs that passed the checks (and, where rated, won).
    #[default]
    Outputs,
    /// Cases' reference answers: curated examples, rendered with one variant's template.
    References,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Outputs => "outputs",
            Source::References => "references",
        }
    }
}

/// Everything `loupe export` can be asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    pub out: PathBuf,
    /// Runs to export; empty: the latest complete run (sft, raw) or the rated runs (dpo,
    /// openai-dpo, rubric).
    pub runs: Vec<String>,
    /// Only rows of these variants (a pair when either side is one).
    pub variants: Vec<String>,
    /// Only rows of cases with one of these tags.
    pub tags: Vec<String>,
    /// Minimum mean rubric score per dimension (of the chosen output, for pairs).
    pub min_rubric: BTreeMap<String, f64>,
    /// Raters who must agree for a consensus; `None`: the session's
    /// `rating.raters_per_comparison` (1 without a rating section).
    pub consensus: Option<u32>,
    /// sft: keep outputs that failed a check.
    pub include_failing: bool,
    /// sft: leave out outputs a rater gave one of these failure-mode labels.
    pub exclude_labels: Vec<String>,
    pub redact: bool,
    pub dedupe: bool,
    pub decontaminate: bool,
    /// Share of cases whose rows go to the validation file.
    pub valid: f64,
    pub seed: u64,
    /// Overwrite files of an earlier export of the same format in `out`.
    pub force: bool,
    /// sft: outputs of runs, or cases' reference answers.
    pub from: Source,
    /// With `from: References`: a JSONL file of cases to take the references from (default:
    /// the session's own cases).
    pub cases: Option<PathBuf>,
}

impl Options {
    /// The defaults: every hygiene step on, 10% validation, seed 7.
    pub fn new(format: Format, out: impl Into<PathBuf>) -> Self {
        Self {
            format,
            out: out.into(),
            runs: Vec::new(),
            variants: Vec::new(),
            tags: Vec::new(),
            min_rubric: BTreeMap::new(),
            consensus: None,
            include_failing: false,
            exclude_labels: Vec::new(),
            redact: true,
            dedupe: true,
            decontaminate: true,
            valid: 0.1,
            seed: 7,
            force: false,
            from: Source::Outputs,
            cases: None,
        }
    }
}

/// A usage or input problem: the command exits 2 with this message.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Write(#[from] files::WriteError),
}

/// Parses `accuracy=4` (a `--min-rubric` value).
pub fn parse_min_rubric(s: &str) -> Result<(String, f64), ExportError> {
    let (dim, value) = s.split_once('=').ok_or_else(|| {
        ExportError::Usage(format!(
            "--min-rubric {s:?}: expected DIM=N, for example accuracy=4"
        ))
    })?;
    let dim = dim.trim();
    let n: f64 = value.trim().parse().map_err(|_| {
        ExportError::Usage(format!(
            "--min-rubric {s:?}: {value:?} is not a number (expected DIM=N, for example accuracy=4)"
        ))
    })?;
    if dim.is_empty() || !n.is_finite() {
        return Err(ExportError::Usage(format!(
            "--min-rubric {s:?}: expected DIM=N, for example accuracy=4"
        )));
    }
    Ok((dim.to_owned(), n))
}

/// Counts the manifest reports: rows in, out, and why each dropped row was dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub rows_in: u64,
    pub rows_out: u64,
    pub train: u64,
    pub valid: u64,
    /// Reason -> rows dropped for it (each dropped row counted once, for its first reason).
    pub dropped: BTreeMap<String, u64>,
}

impl Counts {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

/// Names of the rows' reasons, so tests and the manifest agree on spelling.
pub mod reason {
    pub const FILTER_VARIANT: &str = "filter_variant";
    pub const FILTER_TAG: &str = "filter_tag";
    pub const CASE_MISSING: &str = "case_not_in_session";
    pub const VARIANT_MISSING: &str = "variant_not_in_run";
    pub const OUTPUT_MISSING: &str = "output_missing";
    pub const OUTPUT_ERROR: &str = "output_error";
    pub const EMPTY_OUTPUT: &str = "empty_output";
    pub const EMPTY_MESSAGE: &str = "empty_message";
    pub const FAILED_CHECKS: &str = "failed_checks";
    pub const LOST_COMPARISON: &str = "lost_comparison";
    pub const NO_CONSENSUS: &str = "no_consensus";
    pub const NO_RUBRIC_SCORE: &str = "no_rubric_score";
    pub const BELOW_MIN_RUBRIC: &str = "below_min_rubric";
    pub const EXCLUDED_LABEL: &str = "excluded_label";
    pub const EVAL_SPLIT: &str = "eval_split";
    pub const NO_REFERENCE: &str = "no_reference";
    pub const MATCHES_EVAL_CASE: &str = "matches_eval_case";
    pub const IDENTICAL_OUTPUTS: &str = "identical_outputs";
    pub const DUPLICATE_EXACT: &str = "duplicate_exact";
    pub const DUPLICATE_FOLDED: &str = "duplicate_folded";
}

/// The set of run ids, for filtering ratings.
fn run_set(runs: &[crate::store::RunRecord]) -> BTreeSet<String> {
    runs.iter().map(|r| r.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_rubric_parses_dim_and_number() {
        assert_eq!(
            parse_min_rubric("accuracy=4").ok(),
            Some(("accuracy".to_owned(), 4.0))
        );
        assert_eq!(
            parse_min_rubric(" tone = 3.5").ok(),
            Some(("tone".to_owned(), 3.5))
        );
        for bad in ["accuracy", "=4", "accuracy=high", "accuracy=NaN"] {
            let err = parse_min_rubric(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("--min-rubric")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn every_format_names_its_manifest_and_dropped_rows() {
        for f in [
            Format::Sft,
            Format::Dpo,
            Format::OpenaiDpo,
            Format::Rubric,
            Format::Raw,
        ] {
            let names = f.file_names();
            assert!(names.contains(&format!("{}.manifest.json", f.as_str())));
            assert!(names.contains(&format!("{}.dropped.jsonl", f.as_str())));
        }
    }
}
