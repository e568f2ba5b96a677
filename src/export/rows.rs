//! The export itself: rows read from the store one at a time, judged, cleaned and written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;

use super::files::{FileEntry, OutFile, Staged, sha256_bytes};
use super::hygiene::{
    Contamination, Decontaminator, Dedupe, Duplicate, RedactionCounts, Redactor, Split, add_counts,
    split_of,
};
use super::manifest::{CasesFileInfo, ReferencesInfo};
use super::manifest::{
    Duplicates, Filters, Hygiene, Manifest, RunInfo, SessionInfo, SplitInfo, VariantInfo,
};
use super::prompt::{PromptProblem, Prompts};
use super::ratings::{OutputRef, RatingIndex, Side, Standing};
use super::{Counts, ExportError, Format, Options, Source, reason, run_set};
use crate::eval::spec::CheckResult;
use crate::providers::{Message, Role, Usage};
use crate::session::{Case, Session};
use crate::store::{
    CellKey, ComparisonKey, ExportRecord, OutputRecord, PassageRecord, RunRecord, RunStatus,
    RunVariant, Store, format_time, new_run_id, now_ms,
};

/// Cases in this split are evaluation data, kept out of training files.
const EVAL_SPLIT: &str = "eval";

/// Exports what `opts` asks from `session`'s runs in `store`, and records it in the store.
/// `progress(done, total)` is called as rows are read.
///
/// The export opens the store at `store_path` itself: reading a run's outputs it closes and
/// reopens it every [`STRIDE`] outputs, which is what keeps its memory flat (see
/// `Store::outputs_after`).
pub fn export(
    session: &Session,
    store_path: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Manifest, ExportError> {
    let consensus = validate(session, opts)?;
    // References need no run: their rows come from cases, rendered with one variant.
    let refs = match opts.from {
        Source::References => Some(References::load(session, opts)?),
        Source::Outputs => None,
    };
    let store = open_store(store_path)?;
    let (runs, runs_from) = match &refs {
        Some(_) => (Vec::new(), "references"),
        None => select_runs(session, &store, opts)?,
    };

    let run_ids = run_set(&runs);
    let mut ratings = RatingIndex::load(&store, &session.file.name, &run_ids)?;
    if opts.format != Format::Rubric {
        // Only the rubric rows list each verdict; the others need the tallies alone.
        ratings.latest.clear();
    }
    if opts.format.from_ratings() && ratings.tallies.is_empty() {
        return Err(ExportError::Usage(format!(
            "no ratings of session {:?} for run(s) {}: rate outputs first (`loupe rate {}`), \
             or export sft or raw",
            session.file.name,
            run_ids.iter().cloned().collect::<Vec<_>>().join(", "),
            session.path.display()
        )));
    }
    // Before the folder is made: an export that cannot keep evaluation inputs out is refused.
    let decon = match &refs {
        // A training file's cases are checked against the session's evaluation cases too:
        // given together, a training case copying an evaluation case's input is found.
        Some(r) if r.file.is_some() => {
            let mut all: Vec<Case> = session
                .cases
                .iter()
                .filter(|c| c.split.as_deref() == Some(EVAL_SPLIT))
                .cloned()
                .collect();
            all.extend(r.cases.iter().map(|(c, _)| c.clone()));
            Decontaminator::new(&all, EVAL_SPLIT)
        }
        _ => Decontaminator::new(&session.cases, EVAL_SPLIT),
    }
    .map_err(|e| ExportError::Usage(e.to_string()))?;
    // Only now that there is something to export: a refused export leaves no folder behind.
    prepare_dir(&opts.out, opts)?;
    let keys = api_key_values(&runs);
    let prompts = Prompts::new(&store, session, &runs)?;
    let rag = super::manifest::rag_info(&store, session, &runs)?;
    let mut ctx = Ctx {
        session,
        store_path,
        // Moved in: the store must have no other handle for a page to close it.
        store: Some(store),
        opts,
        consensus,
        cases: session.cases.iter().map(|c| (c.id.as_str(), c)).collect(),
        prompts,
        ratings,
        redactor: Redactor::new(opts.redact, keys),
        decon,
        dedupe: Dedupe::default(),
        counts: Counts::default(),
        dups: Duplicates::default(),
        redactions: RedactionCounts::new(),
        memo: None,
        pairs_with_different_prompts: 0,
        outs: Outs::create(&opts.out, opts)?,
        lookups: 0,
    };
    let driven = match opts.format {
        Format::Sft if refs.is_some() => match &refs {
            Some(r) => ctx.references(r, progress),
            None => Ok(()),
        },
        Format::Sft => ctx.sft(&runs, progress),
        Format::Dpo | Format::OpenaiDpo => ctx.pairs(&runs, progress),
        Format::Rubric => ctx.rubric(&runs, progress),
        Format::Raw => ctx.raw(&runs, progress),
    };
    if let Err(e) = driven {
        ctx.outs.abandon();
        return Err(e);
    }
    let store = match ctx.store.take() {
        Some(s) => s,
        None => open_store(store_path)?,
    };
    let Ctx {
        counts,
        dups,
        redactions,
        outs,
        decon,
        ratings,
        pairs_with_different_prompts,
        ..
    } = ctx;
    let (files, empty_splits) = outs.commit()?;

    let mut training = Vec::new();
    for run in &runs {
        training.extend(crate::tune::lineage(&store, run)?);
    }
    let now = now_ms();
    let mut notes = Vec::new();
    for name in &empty_splits {
        let why = if name.ends_with(".valid.jsonl") {
            format!(
                "no row written belongs to a case in the validation share (--valid {}, split \
                 by case; with few cases the share can hold none)",
                opts.valid
            )
        } else {
            "every case with rows fell in the validation share".to_owned()
        };
        notes.push(format!(
            "{name} not written: the split is empty ({why}); load the other split alone"
        ));
    }
    if opts.format.is_pairs() && pairs_with_different_prompts > 0 {
        notes.push(format!(
            "{pairs_with_different_prompts} pair(s) compare variants whose prompts differ; \
             each such pair uses the prompt the chosen answer was produced with"
        ));
    }
    if runs.iter().any(|r| r.status != RunStatus::Complete) {
        notes.push("some runs exported are not complete".into());
    }
    let manifest = Manifest {
        export_id: new_run_id(),
        loupe_version: env!("CARGO_PKG_VERSION"),
        format: opts.format.as_str(),
        created: format_time(now),
        created_ms: now,
        session: SessionInfo {
            name: session.file.name.clone(),
            path: session.path.display().to_string(),
            // The bytes that were loaded (and that blake3 names), not the file as it may be
            // by now.
            sha256: sha256_bytes(session.source.as_bytes()),
            blake3: session.hash.clone(),
        },
        runs: runs.iter().map(|r| RunInfo::of(r, &session.hash)).collect(),
        variants: runs
            .iter()
            .flat_map(|r| r.variants.iter().map(|v| VariantInfo::of(&r.id, v)))
            .collect(),
        template_versions: runs
            .iter()
            .flat_map(|r| &r.variants)
            .map(|v| (v.template_version.clone(), v.template.clone()))
            .collect(),
        raters: ratings.raters.iter().cloned().collect(),
        filters: Filters {
            runs_from,
            variants: opts.variants.clone(),
            tags: opts.tags.clone(),
            min_rubric: opts.min_rubric.clone(),
            consensus,
            include_failing: opts.include_failing,
            exclude_labels: opts.exclude_labels.clone(),
        },
        hygiene: Hygiene {
            redact: opts.redact,
            no_redact: !opts.redact,
            dedupe: opts.dedupe && opts.format.is_training(),
            decontaminate: opts.decontaminate && opts.format != Format::Raw,
            eval_split: EVAL_SPLIT,
            eval_cases: decon.eval_cases,
            split: SplitInfo {
                valid: if opts.format.is_training() {
                    opts.valid
                } else {
                    0.0
                },
                seed: opts.seed,
                by: "case_id",
            },
        },
        counts,
        duplicates_removed: dups,
        redactions,
        files,
        notes,
        rag,
        training,
        source: opts.from.as_str(),
        references: refs.map(|r| r.info),
    };
    write_manifest(&store, session, opts, &manifest)?;
    Ok(manifest)
}

/// Outputs read per store opening. Each is handled as it is read, but sled keeps what a scan
/// touched until the store closes (about 0.5 KB an output); reopening costs about 13 ms.
pub const STRIDE: usize = 5_000;

/// Outputs looked up one by one (a pair's two sides) per store opening, for the same reason.
const LOOKUPS: u64 = 1_000;

/// sled's page cache while an export has the store open.
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

fn open_store(path: &Path) -> Result<Store, ExportError> {
    Ok(Store::open_with_cache(path, Some(CACHE_BYTES))?)
}

fn write_manifest(
    store: &Store,
    session: &Session,
    opts: &Options,
    manifest: &Manifest,
) -> Result<(), ExportError> {
    let name = format!("{}.manifest.json", opts.format.as_str());
    let value = serde_json::to_value(manifest)
        .map_err(|e| ExportError::Usage(format!("cannot encode the manifest: {e}")))?;
    let mut f = OutFile::create(&opts.out, &name)?;
    let mut text = serde_json::to_vec_pretty(&value)
        .map_err(|e| ExportError::Usage(format!("cannot encode the manifest: {e}")))?;
    text.push(b'\n');
    f.bytes(&text, false)?;
    let entry = f.finish()?.commit()?;
    store.put_export(&ExportRecord {
        id: manifest.export_id.clone(),
        session: session.file.name.clone(),
        format: opts.format.as_str().to_owned(),
        out_dir: opts.out.display().to_string(),
        manifest_sha256: entry.sha256,
        rows_in: manifest.counts.rows_in,
        rows_out: manifest.counts.rows_out,
        manifest: value,
        created_ms: manifest.created_ms,
    })?;
    Ok(())
}

/// Checks the options against the session; returns the consensus K in force.
fn validate(session: &Session, opts: &Options) -> Result<u32, ExportError> {
    let usage = |m: String| Err(ExportError::Usage(m));
    if opts.from == Source::References && opts.format != Format::Sft {
        return usage(format!(
            "--from references writes sft rows (reference answers as the assistant turns); \
             --format {} takes outputs",
            opts.format.as_str()
        ));
    }
    if opts.from == Source::Outputs && opts.cases.is_some() {
        return usage("--cases names the cases of --from references".into());
    }
    if !(0.0..1.0).contains(&opts.valid) {
        return usage(format!(
            "--valid {}: expected a share of cases from 0 up to (not including) 1, e.g. 0.1",
            opts.valid
        ));
    }
    if opts.consensus == Some(0) {
        return usage("--consensus 0: at least one rater must have chosen the winner".into());
    }
    if opts.format != Format::Sft && !opts.exclude_labels.is_empty() {
        return usage(
            "--exclude-label applies to --format sft (rubric and raw exports carry the labels)"
                .into(),
        );
    }
    let known = crate::rating::labels::of_session(session);
    for label in &opts.exclude_labels {
        if !known.contains(label) {
            return usage(format!(
                "--exclude-label {label}: not a label of session {} (its labels: {})",
                session.path.display(),
                known.join(", ")
            ));
        }
    }
    if opts.format == Format::Raw && !opts.min_rubric.is_empty() {
        return usage(
            "--min-rubric does not apply to --format raw, which exports every output".into(),
        );
    }
    for (dim, min) in &opts.min_rubric {
        let Some(d) = session.file.rubric.iter().find(|d| &d.key == dim) else {
            let known: Vec<&str> = session.file.rubric.iter().map(|d| d.key.as_str()).collect();
            return usage(if known.is_empty() {
                format!(
                    "--min-rubric {dim}={min}: the session {} has no rubric",
                    session.path.display()
                )
            } else {
                format!(
                    "--min-rubric {dim}={min}: the session's rubric has no dimension {dim:?} (it has {})",
                    known.join(", ")
                )
            });
        };
        if *min < 1.0 || *min > f64::from(d.scale) {
            return usage(format!(
                "--min-rubric {dim}={min}: {dim} is scored 1 to {}",
                d.scale
            ));
        }
    }
    for v in &opts.variants {
        if session.variant(v).is_none() {
            let known: Vec<&str> = session
                .file
                .variants
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            return usage(format!(
                "--variant {v}: no variant {v:?} in {} (it has {})",
                session.path.display(),
                known.join(", ")
            ));
        }
    }
    for t in &opts.tags {
        if !session.cases.iter().any(|c| c.tags.contains(t)) {
            return usage(format!(
                "--tag {t}: no case of {} has the tag {t:?}",
                session.path.display()
            ));
        }
    }
    let k = opts.consensus.unwrap_or_else(|| {
        session
            .file
            .rating
            .as_ref()
            .map_or(1, |r| r.raters_per_comparison)
    });
    Ok(k.max(1))
}

fn select_runs(
    session: &Session,
    store: &Store,
    opts: &Options,
) -> Result<(Vec<RunRecord>, &'static str), ExportError> {
    let name = &session.file.name;
    if !opts.runs.is_empty() {
        let mut runs = Vec::new();
        for id in &opts.runs {
            let run = store.run(id)?;
            if &run.session_name != name {
                return Err(ExportError::Usage(format!(
                    "--run {id}: that run belongs to session {:?}, not {name:?}",
                    run.session_name
                )));
            }
            if !runs.iter().any(|r: &RunRecord| r.id == run.id) {
                runs.push(run);
            }
        }
        return Ok((runs, "--run"));
    }
    if opts.format.from_ratings() {
        let mut ids = BTreeSet::new();
        for r in store.ratings(name) {
            ids.insert(r?.comparison.run_id);
        }
        let mut runs = Vec::new();
        for id in ids {
            // A rating of a run since deleted cannot be exported; the others can.
            if let Ok(run) = store.run(&id) {
                runs.push(run);
            }
        }
        if runs.is_empty() {
            return Err(ExportError::Usage(format!(
                "no ratings of session {name:?} in the store {}: rate outputs first (`loupe rate {}`)",
                store.path().display(),
                session.path.display()
            )));
        }
        return Ok((runs, "rated runs"));
    }
    if let Some(run) = store.latest_run(Some(name), true)? {
        return Ok((vec![run], "latest complete run"));
    }
    match store.latest_run(Some(name), false)? {
        Some(run) => Ok((vec![run], "latest run (none is complete)")),
        None => Err(ExportError::Usage(format!(
            "no run of session {name:?} in the store {}: run it first (`loupe run {}`)",
            store.path().display(),
            session.path.display()
        ))),
    }
}

fn prepare_dir(out: &Path, opts: &Options) -> Result<(), ExportError> {
    if out.exists() && !out.is_dir() {
        return Err(ExportError::Usage(format!(
            "--out {}: exists and is not a folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| {
        ExportError::Usage(format!(
            "--out {}: cannot create the folder: {e}",
            out.display()
        ))
    })?;
    if !opts.force {
        let existing: Vec<String> = opts
            .format
            .file_names()
            .into_iter()
            .filter(|n| out.join(n).exists())
            .collect();
        if !existing.is_empty() {
            return Err(ExportError::Usage(format!(
                "--out {}: {} already there from an earlier export; pass --force to replace, \
                 or choose another folder",
                out.display(),
                existing.join(", ")
            )));
        }
    }
    Ok(())
}

/// Values of the API keys the runs' models name, when set here: replaced wherever they
/// appear, so a key echoed by a model never leaves in an export.
fn api_key_values(runs: &[RunRecord]) -> Vec<String> {
    let names: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| &r.variants)
        .filter_map(|v| v.model.api_key_env.as_deref())
        .collect();
    names
        .into_iter()
        .filter_map(|n| std::env::var(n).ok())
        .filter(|v| !v.trim().is_empty())
        .collect()
}

/// The files being written.
struct Outs {
    train: Option<OutFile>,
    valid: Option<OutFile>,
    rows: Option<OutFile>,
    main: Option<OutFile>,
    csv: Option<OutFile>,
    dropped: Option<OutFile>,
}

impl Outs {
    fn create(dir: &Path, opts: &Options) -> Result<Self, ExportError> {
        let p = opts.format.as_str();
        let file = |suffix: &str| OutFile::create(dir, &format!("{p}.{suffix}"));
        let mut outs = Outs {
            train: None,
            valid: None,
            rows: None,
            main: None,
            csv: None,
            dropped: None,
        };
        let made = (|| -> Result<(), ExportError> {
            if opts.format.is_training() {
                outs.train = Some(file("train.jsonl")?);
                if opts.valid > 0.0 {
                    outs.valid = Some(file("valid.jsonl")?);
                }
                outs.rows = Some(file("rows.jsonl")?);
            } else {
                outs.main = Some(file("jsonl")?);
                if opts.format == Format::Rubric {
                    outs.csv = Some(file("csv")?);
                }
            }
            outs.dropped = Some(file("dropped.jsonl")?);
            Ok(())
        })();
        match made {
            Ok(()) => Ok(outs),
            Err(e) => {
                outs.abandon();
                Err(e)
            }
        }
    }

    fn all(self) -> impl Iterator<Item = OutFile> {
        [
            self.train,
            self.valid,
            self.rows,
            self.main,
            self.csv,
            self.dropped,
        ]
        .into_iter()
        .flatten()
    }

    fn abandon(self) {
        for f in self.all() {
            f.abandon();
        }
    }

    /// Finishes every file, then moves them all into place. A train or valid file without
    /// rows is not written (a trainer cannot load an empty split); its name is returned.
    fn commit(mut self) -> Result<(Vec<FileEntry>, Vec<String>), ExportError> {
        let mut empty = Vec::new();
        for split in [&mut self.train, &mut self.valid] {
            if split.as_ref().is_some_and(|f| f.rows() == 0)
                && let Some(f) = split.take()
            {
                empty.push(f.name().to_owned());
                f.abandon();
            }
        }
        let mut staged: Vec<Staged> = Vec::new();
        let mut failed = None;
        for f in self.all() {
            if failed.is_some() {
                f.abandon();
                continue;
            }
            match f.finish() {
                Ok(s) => staged.push(s),
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            for s in staged {
                s.abandon();
            }
            return Err(e.into());
        }
        let files = staged
            .into_iter()
            .map(|s| s.commit().map_err(ExportError::from))
            .collect::<Result<_, _>>()?;
        Ok((files, empty))
    }
}

/// The prompt of the last cell seen: outputs come in (variant, case, repeat) order, so a
/// cell's repeats reuse one rendering without keeping every cell's.
struct Memo {
    run_id: String,
    variant: String,
    case_id: String,
    base_hash: String,
    passages: Vec<PassageRecord>,
    messages: Result<Vec<Message>, PromptProblem>,
}

struct Ctx<'a> {
    session: &'a Session,
    store_path: &'a Path,
    /// Open while rows need it; closed between pages of outputs.
    store: Option<Store>,
    opts: &'a Options,
    consensus: u32,
    cases: HashMap<&'a str, &'a Case>,
    prompts: Prompts,
    ratings: RatingIndex,
    redactor: Redactor,
    decon: Decontaminator,
    dedupe: Dedupe,
    counts: Counts,
    dups: Duplicates,
    redactions: RedactionCounts,
    memo: Option<Memo>,
    pairs_with_different_prompts: u64,
    outs: Outs,
    /// Outputs looked up one by one so far.
    lookups: u64,
}

/// A row's fate: written, or dropped for a reason.
type Judged<T> = Result<T, &'static str>;

#[derive(Serialize)]
struct SftRow<'a> {
    messages: &'a [Message],
}

#[derive(Serialize)]
struct TrlRow<'a> {
    prompt: &'a [Message],
    chosen: [Message; 1],
    rejected: [Message; 1],
}

#[derive(Serialize)]
struct OpenAiInput<'a> {
    messages: &'a [Message],
}

#[derive(Serialize)]
struct OpenAiPrefRow<'a> {
    input: OpenAiInput<'a>,
    preferred_output: [Message; 1],
    non_preferred_output: [Message; 1],
}

/// Where a written training row came from: `<format>.rows.jsonl`.
#[derive(Serialize)]
struct Provenance<'a> {
    file: &'a str,
    line: u64,
    run_id: &'a str,
    case_id: &'a str,
    repeat: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chosen: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raters: Option<u32>,
}

/// Where a written reference row came from: the case's file and line.
#[derive(Serialize)]
struct ReferenceProvenance<'a> {
    file: &'a str,
    line: u64,
    source: &'static str,
    cases_file: &'a str,
    cases_line: usize,
    case_id: &'a str,
    /// The variant whose template rendered the prompt.
    variant: &'a str,
}

/// What `--from references` exports: the cases, and the variant whose template renders
/// their prompts.
struct References {
    /// Each case with its line (the row number for the session's own cases).
    cases: Vec<(Case, usize)>,
    /// Set when the cases come from `--cases FILE` rather than the session.
    file: Option<std::path::PathBuf>,
    renderer: crate::template::Renderer,
    info: ReferencesInfo,
}

impl References {
    fn load(session: &Session, opts: &Options) -> Result<Self, ExportError> {
        let usage = |m: String| ExportError::Usage(m);
        let variant = match opts.variants.as_slice() {
            [one] => session.variant(one).ok_or_else(|| {
                usage(format!(
                    "--variant {one}: no such variant in {}",
                    session.path.display()
                ))
            })?,
            [] => session
                .file
                .variants
                .iter()
                .find(|v| v.rag.is_none())
                .ok_or_else(|| {
                    usage(format!(
                        "--from references: every variant of {} retrieves; name one with \
                         --variant (its template renders the prompts, without passages)",
                        session.path.display()
                    ))
                })?,
            _ => {
                return Err(usage(
                    "--from references renders the prompts with one variant's template: give \
                     --variant once"
                        .into(),
                ));
            }
        };
        if let Some(rag) = &variant.rag {
            return Err(usage(format!(
                "--variant {}: it retrieves from `{rag}`, and reference rows are rendered \
                 without passages; pick a variant without rag (the one the tuned model will \
                 run with)",
                variant.name
            )));
        }
        let renderer = session
            .renderer()
            .map_err(|e| usage(format!("the session's templates do not compile: {e}")))?;
        let (cases, path, sha256) = if let Some(file) = &opts.cases {
            let cases = crate::session::load_jsonl_file(file).map_err(usage)?;
            let bytes = std::fs::read(file)
                .map_err(|e| usage(format!("cannot read cases file {}: {e}", file.display())))?;
            (cases, file.display().to_string(), sha256_bytes(&bytes))
        } else {
            // Each case's line in the file it was read from: the cases file, or the
            // session file for inline cases.
            let cases: Vec<(Case, usize)> = session
                .cases
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c.clone(),
                        session.case_location(i).map_or(i + 1, |l| l.line),
                    )
                })
                .collect();
            let file = session
                .case_location(0)
                .map_or_else(|| session.path.clone(), |l| l.file.clone());
            let sha256 = std::fs::read(&file).map_or_else(
                |_| sha256_bytes(session.source.as_bytes()),
                |bytes| sha256_bytes(&bytes),
            );
            (cases, file.display().to_string(), sha256)
        };
        let template_version = session
            .template_for(&variant.name)
            .map(crate::template::version_hash)
            .unwrap_or_default();
        Ok(Self {
            info: ReferencesInfo {
                variant: variant.name.clone(),
                template: variant.template.clone(),
                template_version,
                cases: CasesFileInfo {
                    path,
                    sha256,
                    rows: cases.len(),
                },
            },
            cases,
            file: opts.cases.clone(),
            renderer,
        })
    }
}

/// A dropped row: `<format>.dropped.jsonl`.
#[derive(Serialize)]
struct Dropped<'a> {
    reason: &'a str,
    /// Empty for a reference row, which no run made.
    #[serde(skip_serializing_if = "str::is_empty")]
    run_id: &'a str,
    case_id: &'a str,
    repeat: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comparison: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rater: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    fn dropped_file(&mut self) -> Result<&mut OutFile, ExportError> {
        self.outs
            .dropped
            .as_mut()
            .ok_or_else(|| ExportError::Usage("internal: no dropped-rows file".into()))
    }

    fn drop_row(&mut self, reason: &'static str, row: &Dropped<'_>) -> Result<(), ExportError> {
        *self.counts.dropped.entry(reason.to_owned()).or_insert(0) += 1;
        self.dropped_file()?.json_line(row)?;
        Ok(())
    }

    fn drop_output(&mut self, reason: &'static str, o: &OutputRecord) -> Result<(), ExportError> {
        self.drop_row(
            reason,
            &Dropped {
                reason,
                run_id: &o.run_id,
                case_id: &o.case_id,
                repeat: o.repeat,
                variant: Some(&o.variant),
                comparison: None,
                rater: None,
            },
        )
    }

    /// The variant and tag filters, and the case.
    fn select(&self, variants: &[&str], case_id: &str) -> Judged<&'a Case> {
        if !self.opts.variants.is_empty()
            && !variants
                .iter()
                .any(|v| self.opts.variants.iter().any(|f| f == v))
        {
            return Err(reason::FILTER_VARIANT);
        }
        let case = self
            .cases
            .get(case_id)
            .copied()
            .ok_or(reason::CASE_MISSING)?;
        if !self.opts.tags.is_empty() && !case.tags.iter().any(|t| self.opts.tags.contains(t)) {
            return Err(reason::FILTER_TAG);
        }
        Ok(case)
    }

    fn min_rubric(&self, out: &OutputRef) -> Judged<()> {
        for (dim, min) in &self.opts.min_rubric {
            match self.ratings.mean_score(out, dim) {
                None => return Err(reason::NO_RUBRIC_SCORE),
                Some(mean) if mean < *min => return Err(reason::BELOW_MIN_RUBRIC),
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn decontaminate(&self, case: &Case, messages: Option<&[Message]>) -> Judged<()> {
        if !self.opts.decontaminate {
            return Ok(());
        }
        let user = messages.and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(|m| m.content.as_str())
        });
        match self.decon.check(case, user) {
            None => Ok(()),
            Some(Contamination::EvalSplit) => Err(reason::EVAL_SPLIT),
            Some(Contamination::MatchesEvalCase) => Err(reason::MATCHES_EVAL_CASE),
        }
    }

    /// The messages `o` answered (memoised for the cell's repeats).
    fn prompt(
        &mut self,
        variant: &RunVariant,
        case: &Case,
        o: &OutputRecord,
    ) -> Result<Vec<Message>, PromptProblem> {
        let base = o.request_hash.split('#').next().unwrap_or_default();
        let hit = self.memo.as_ref().is_some_and(|m| {
            m.run_id == o.run_id
                && m.variant == o.variant
                && m.case_id == o.case_id
                && m.base_hash == base
                && m.passages == o.passages
        });
        if !hit {
            self.memo = Some(Memo {
                run_id: o.run_id.clone(),
                variant: o.variant.clone(),
                case_id: o.case_id.clone(),
                base_hash: base.to_owned(),
                passages: o.passages.clone(),
                messages: self.prompts.render(variant, case, o),
            });
        }
        self.memo
            .as_ref()
            .map_or(Err(PromptProblem::Render), |m| m.messages.clone())
    }

    fn redact_messages(
        &mut self,
        messages: &[Message],
        tally: &mut RedactionCounts,
    ) -> Vec<Message> {
        messages
            .iter()
            .map(|m| Message {
                role: m.role,
                content: self.redactor.redact(&m.content, tally),
            })
            .collect()
    }

    fn dedupe(&mut self, parts: &[&str]) -> Judged<()> {
        if !self.opts.dedupe {
            return Ok(());
        }
        match self.dedupe.check(parts) {
            None => Ok(()),
            Some(Duplicate::Exact) => {
                self.dups.exact += 1;
                Err(reason::DUPLICATE_EXACT)
            }
            Some(Duplicate::Folded) => {
                self.dups.folded += 1;
                Err(reason::DUPLICATE_FOLDED)
            }
        }
    }

    /// Writes a training row to train or valid, and its provenance.
    fn write_training<T: Serialize>(
        &mut self,
        row: &T,
        case_id: &str,
        prov: impl FnOnce(&str, u64) -> serde_json::Result<serde_json::Value>,
        tally: &RedactionCounts,
    ) -> Result<(), ExportError> {
        let split = split_of(self.opts.seed, case_id, self.opts.valid);
        let name = match split {
            Split::Train => "train",
            Split::Valid => "valid",
        };
        let file_name = format!("{}.{name}.jsonl", self.opts.format.as_str());
        let file = match split {
            Split::Train => self.outs.train.as_mut(),
            Split::Valid => self.outs.valid.as_mut(),
        }
        .ok_or_else(|| ExportError::Usage("internal: no training file".into()))?;
        file.json_line(row)?;
        let line = match split {
            Split::Train => {
                self.counts.train += 1;
                self.counts.train
            }
            Split::Valid => {
                self.counts.valid += 1;
                self.counts.valid
            }
        };
        let p = prov(&file_name, line)
            .map_err(|e| ExportError::Usage(format!("internal: provenance: {e}")))?;
        if let Some(rows) = self.outs.rows.as_mut() {
            rows.json_line(&p)?;
        }
        self.counts.rows_out += 1;
        add_counts(&mut self.redactions, tally);
        Ok(())
    }

    // ---- sft ----

    fn sft(
        &mut self,
        runs: &[RunRecord],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        self.each_output(runs, progress, Self::sft_row)
    }

    /// Every output of `runs`, page by page, through `row`; a row it judges out is dropped
    /// with its reason.
    fn each_output(
        &mut self,
        runs: &[RunRecord],
        progress: &mut dyn FnMut(u64, u64),
        row: fn(&mut Self, &RunRecord, &OutputRecord) -> Result<Judged<()>, ExportError>,
    ) -> Result<(), ExportError> {
        let total: u64 = runs.iter().map(|r| r.cell_count() as u64).sum();
        for run in runs {
            let mut after: Option<CellKey> = None;
            loop {
                // Closed first: what the last stride touched is freed before this one reads.
                self.store = None;
                let store = open_store(self.store_path)?;
                let mut read = 0;
                let mut last = None;
                for o in store.outputs_after(&run.id, after.as_ref()).take(STRIDE) {
                    let o = o?;
                    read += 1;
                    self.counts.rows_in += 1;
                    if let Err(why) = row(self, run, &o)? {
                        self.drop_output(why, &o)?;
                    }
                    if self.counts.rows_in.is_multiple_of(1024) {
                        progress(self.counts.rows_in, total);
                    }
                    last = Some(o);
                }
                match last {
                    Some(o) if read == STRIDE => after = Some(o.key()),
                    _ => break,
                }
            }
        }
        progress(self.counts.rows_in, total);
        Ok(())
    }

    fn sft_row(&mut self, run: &RunRecord, o: &OutputRecord) -> Result<Judged<()>, ExportError> {
        let case = match self.select(&[o.variant.as_str()], &o.case_id) {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        };
        if let Err(why) = self.decontaminate(case, None) {
            return Ok(Err(why));
        }
        let Some(variant) = run.variant(&o.variant) else {
            return Ok(Err(reason::VARIANT_MISSING));
        };
        if o.is_error() {
            return Ok(Err(reason::OUTPUT_ERROR));
        }
        if o.text.trim().is_empty() {
            return Ok(Err(reason::EMPTY_OUTPUT));
        }
        if !self.opts.include_failing && !o.passed() {
            return Ok(Err(reason::FAILED_CHECKS));
        }
        let me = OutputRef {
            run_id: o.run_id.clone(),
            case_id: o.case_id.clone(),
            repeat: o.repeat,
            variant: o.variant.clone(),
        };
        match self.ratings.standing(&me, self.consensus) {
            Standing::Lost => return Ok(Err(reason::LOST_COMPARISON)),
            Standing::NoConsensus => return Ok(Err(reason::NO_CONSENSUS)),
            Standing::Won | Standing::Unrated => {}
        }
        if let Err(why) = self.min_rubric(&me) {
            return Ok(Err(why));
        }
        if let Some(given) = self.ratings.labels(&me)
            && self
                .opts
                .exclude_labels
                .iter()
                .any(|l| given.contains_key(l))
        {
            return Ok(Err(reason::EXCLUDED_LABEL));
        }
        let prompt = match self.prompt(variant, case, o) {
            Ok(p) => p,
            Err(p) => return Ok(Err(p.reason())),
        };
        if let Err(why) = self.decontaminate(case, Some(&prompt)) {
            return Ok(Err(why));
        }
        let mut tally = RedactionCounts::new();
        let mut messages = self.redact_messages(&prompt, &mut tally);
        messages.push(Message {
            role: Role::Assistant,
            content: self.redactor.redact(&o.text, &mut tally),
        });
        if messages.iter().any(|m| m.content.trim().is_empty()) {
            return Ok(Err(reason::EMPTY_MESSAGE));
        }
        let parts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        if let Err(why) = self.dedupe(&parts) {
            return Ok(Err(why));
        }
        self.write_training(
            &SftRow {
                messages: &messages,
            },
            &o.case_id,
            |file, line| {
                serde_json::to_value(Provenance {
                    file,
                    line,
                    run_id: &o.run_id,
                    case_id: &o.case_id,
                    repeat: o.repeat,
                    variant: Some(&o.variant),
                    chosen: None,
                    rejected: None,
                    raters: None,
                })
            },
            &tally,
        )?;
        Ok(Ok(()))
    }

    // ---- reference answers ----

    fn references(
        &mut self,
        refs: &References,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        let total = refs.cases.len() as u64;
        for (case, line) in &refs.cases {
            self.counts.rows_in += 1;
            if let Err(why) = self.reference_row(refs, case, *line)? {
                self.drop_row(
                    why,
                    &Dropped {
                        reason: why,
                        run_id: "",
                        case_id: &case.id,
                        repeat: 0,
                        variant: Some(&refs.info.variant),
                        comparison: None,
                        rater: None,
                    },
                )?;
            }
            progress(self.counts.rows_in, total);
        }
        Ok(())
    }

    fn reference_row(
        &mut self,
        refs: &References,
        case: &Case,
        line: usize,
    ) -> Result<Judged<()>, ExportError> {
        if !self.opts.tags.is_empty() && !case.tags.iter().any(|t| self.opts.tags.contains(t)) {
            return Ok(Err(reason::FILTER_TAG));
        }
        if let Err(why) = self.decontaminate(case, None) {
            return Ok(Err(why));
        }
        let Some(reference) = case.reference.as_deref().filter(|r| !r.trim().is_empty()) else {
            return Ok(Err(reason::NO_REFERENCE));
        };
        let Ok(prompt) = refs.renderer.render(&refs.info.template, case, &[]) else {
            return Ok(Err(PromptProblem::Render.reason()));
        };
        if let Err(why) = self.decontaminate(case, Some(&prompt)) {
            return Ok(Err(why));
        }
        let mut tally = RedactionCounts::new();
        let mut messages = self.redact_messages(&prompt, &mut tally);
        messages.push(Message {
            role: Role::Assistant,
            content: self.redactor.redact(reference, &mut tally),
        });
        if messages.iter().any(|m| m.content.trim().is_empty()) {
            return Ok(Err(reason::EMPTY_MESSAGE));
        }
        let parts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        if let Err(why) = self.dedupe(&parts) {
            return Ok(Err(why));
        }
        let cases_file = refs.info.cases.path.as_str();
        let variant = refs.info.variant.as_str();
        self.write_training(
            &SftRow {
                messages: &messages,
            },
            &case.id,
            |file, out_line| {
                serde_json::to_value(ReferenceProvenance {
                    file,
                    line: out_line,
                    source: "reference",
                    cases_file,
                    cases_line: line,
                    case_id: &case.id,
                    variant,
                })
            },
            &tally,
        )?;
        Ok(Ok(()))
    }

    // ---- preference pairs ----

    fn pairs(
        &mut self,
        runs: &[RunRecord],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        let runs: HashMap<&str, &RunRecord> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
        // Taken, not copied: nothing after this reads the tallies.
        let comparisons = std::mem::take(&mut self.ratings.tallies);
        let total = comparisons.len() as u64;
        for (c, tally) in comparisons {
            self.counts.rows_in += 1;
            if let Err(why) = self.pair_row(&runs, &c, &tally)? {
                self.drop_row(
                    why,
                    &Dropped {
                        reason: why,
                        run_id: &c.run_id,
                        case_id: &c.case_id,
                        repeat: c.repeat,
                        variant: None,
                        comparison: Some(c.id()),
                        rater: None,
                    },
                )?;
            }
            progress(self.counts.rows_in, total);
        }
        Ok(())
    }

    fn output(
        &mut self,
        c: &ComparisonKey,
        variant: &str,
    ) -> Result<Option<OutputRecord>, ExportError> {
        // Reopened now and then: sled keeps every page a lookup touched until it closes.
        if self.store.is_none() || self.lookups.is_multiple_of(LOOKUPS) {
            self.store = None;
            self.store = Some(open_store(self.store_path)?);
        }
        self.lookups += 1;
        let Some(store) = &self.store else {
            return Ok(None);
        };
        Ok(store.output(&CellKey {
            run_id: c.run_id.clone(),
            variant: variant.to_owned(),
            case_id: c.case_id.clone(),
            repeat: c.repeat,
        })?)
    }

    fn pair_row(
        &mut self,
        runs: &HashMap<&str, &RunRecord>,
        c: &ComparisonKey,
        tally: &super::ratings::Tally,
    ) -> Result<Judged<()>, ExportError> {
        let case = match self.select(&[c.a.as_str(), c.b.as_str()], &c.case_id) {
            Ok(case) => case,
            Err(why) => return Ok(Err(why)),
        };
        if let Err(why) = self.decontaminate(case, None) {
            return Ok(Err(why));
        }
        let side = match tally.consensus(self.consensus) {
            Ok(side) => side,
            Err(why) => return Ok(Err(why.reason())),
        };
        let (chosen_v, rejected_v) = match side {
            Side::A => (&c.a, &c.b),
            Side::B => (&c.b, &c.a),
        };
        let Some(run) = runs.get(c.run_id.as_str()) else {
            return Ok(Err(reason::VARIANT_MISSING));
        };
        let (Some(cv), Some(rv)) = (run.variant(chosen_v), run.variant(rejected_v)) else {
            return Ok(Err(reason::VARIANT_MISSING));
        };
        let (Some(chosen), Some(rejected)) =
            (self.output(c, chosen_v)?, self.output(c, rejected_v)?)
        else {
            return Ok(Err(reason::OUTPUT_MISSING));
        };
        if chosen.is_error() || rejected.is_error() {
            return Ok(Err(reason::OUTPUT_ERROR));
        }
        if chosen.text.trim().is_empty() || rejected.text.trim().is_empty() {
            return Ok(Err(reason::EMPTY_OUTPUT));
        }
        if let Err(why) = self.min_rubric(&OutputRef::of(c, side)) {
            return Ok(Err(why));
        }
        let prompt = match self.prompt(cv, case, &chosen) {
            Ok(p) => p,
            Err(p) => return Ok(Err(p.reason())),
        };
        if let Err(why) = self.decontaminate(case, Some(&prompt)) {
            return Ok(Err(why));
        }
        if super::hygiene::fold(&chosen.text) == super::hygiene::fold(&rejected.text) {
            return Ok(Err(reason::IDENTICAL_OUTPUTS));
        }
        let other_prompt = self.prompts.render(rv, case, &rejected).ok();
        if other_prompt.as_ref().is_some_and(|p| p != &prompt) {
            self.pairs_with_different_prompts += 1;
        }
        let mut t = RedactionCounts::new();
        let prompt = self.redact_messages(&prompt, &mut t);
        let chosen_text = self.redactor.redact(&chosen.text, &mut t);
        let rejected_text = self.redactor.redact(&rejected.text, &mut t);
        if prompt.iter().any(|m| m.content.trim().is_empty())
            || chosen_text.trim().is_empty()
            || rejected_text.trim().is_empty()
        {
            return Ok(Err(reason::EMPTY_MESSAGE));
        }
        let mut parts: Vec<&str> = prompt.iter().map(|m| m.content.as_str()).collect();
        parts.push(&chosen_text);
        parts.push(&rejected_text);
        if let Err(why) = self.dedupe(&parts) {
            return Ok(Err(why));
        }
        let chosen_msg = Message::new(Role::Assistant, chosen_text);
        let rejected_msg = Message::new(Role::Assistant, rejected_text);
        let agreeing = tally.a.max(tally.b);
        let prov = |file: &str, line: u64| {
            serde_json::to_value(Provenance {
                file,
                line,
                run_id: &c.run_id,
                case_id: &c.case_id,
                repeat: c.repeat,
                variant: None,
                chosen: Some(chosen_v),
                rejected: Some(rejected_v),
                raters: Some(agreeing),
            })
        };
        if self.opts.format == Format::Dpo {
            let row = TrlRow {
                prompt: &prompt,
                chosen: [chosen_msg],
                rejected: [rejected_msg],
            };
            self.write_training(&row, &c.case_id, prov, &t)?;
        } else {
            let row = OpenAiPrefRow {
                input: OpenAiInput { messages: &prompt },
                preferred_output: [chosen_msg],
                non_preferred_output: [rejected_msg],
            };
            self.write_training(&row, &c.case_id, prov, &t)?;
        }
        Ok(Ok(()))
    }

    // ---- rubric ----

    fn rubric(
        &mut self,
        _runs: &[RunRecord],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        // Taken, not copied: nothing after this reads the verdicts.
        let ratings: Vec<_> = std::mem::take(&mut self.ratings.latest)
            .into_values()
            .collect();
        let dims = rubric_dims(self.session, ratings.iter().flat_map(|r| r.scores.values()));
        let mut header = vec![
            "comparison",
            "run_id",
            "case_id",
            "repeat",
            "variant",
            "rater",
        ];
        header.extend(dims.iter().map(String::as_str));
        header.extend(["mean", "output"]);
        let line = csv_line(&header)?;
        self.outs
            .csv
            .as_mut()
            .ok_or_else(|| ExportError::Usage("internal: no csv file".into()))?
            .bytes(&line, false)?;
        let total = ratings.len() as u64;
        for (i, r) in ratings.iter().enumerate() {
            for (variant, scores) in &r.scores {
                if scores.is_empty() {
                    continue;
                }
                self.counts.rows_in += 1;
                if let Err(why) = self.rubric_row(r, variant, scores, &dims)? {
                    let c = &r.comparison;
                    self.drop_row(
                        why,
                        &Dropped {
                            reason: why,
                            run_id: &c.run_id,
                            case_id: &c.case_id,
                            repeat: c.repeat,
                            variant: Some(variant),
                            comparison: Some(c.id()),
                            rater: Some(&r.rater),
                        },
                    )?;
                }
            }
            progress(i as u64 + 1, total);
        }
        Ok(())
    }

    fn rubric_row(
        &mut self,
        r: &crate::store::RatingRecord,
        variant: &str,
        scores: &BTreeMap<String, u8>,
        dims: &[String],
    ) -> Result<Judged<()>, ExportError> {
        let c = &r.comparison;
        let case = match self.select(&[variant], &c.case_id) {
            Ok(case) => case,
            Err(why) => return Ok(Err(why)),
        };
        for (dim, min) in &self.opts.min_rubric {
            match scores.get(dim) {
                None => return Ok(Err(reason::NO_RUBRIC_SCORE)),
                Some(v) if f64::from(*v) < *min => return Ok(Err(reason::BELOW_MIN_RUBRIC)),
                Some(_) => {}
            }
        }
        if let Err(why) = self.decontaminate(case, None) {
            return Ok(Err(why));
        }
        let Some(output) = self.output(c, variant)? else {
            return Ok(Err(reason::OUTPUT_MISSING));
        };
        let mut t = RedactionCounts::new();
        let text = self.redactor.redact(&output.text, &mut t);
        let note = r.note.as_deref().map(|n| self.redactor.redact(n, &mut t));
        let mean = scores.values().map(|v| f64::from(*v)).sum::<f64>() / scores.len() as f64;
        // Two decimals: a mean of 1-5 scores needs no more, and CSV readers agree on it.
        let mean = (mean * 100.0).round() / 100.0;
        let row = serde_json::json!({
            "comparison": c.id(),
            "run_id": c.run_id,
            "case_id": c.case_id,
            "repeat": c.repeat,
            "variant": variant,
            "rater": r.rater,
            "scores": scores,
            "mean": mean,
            "winner": r.winner,
            "preferred": r.preferred() == Some(variant),
            "labels": r.labels.get(variant).cloned().unwrap_or_default(),
            "note": note,
            "output": text,
        });
        let mut cells: Vec<String> = vec![
            c.id(),
            c.run_id.clone(),
            c.case_id.clone(),
            c.repeat.to_string(),
            variant.to_owned(),
            r.rater.clone(),
        ];
        cells.extend(
            dims.iter()
                .map(|d| scores.get(d).map(ToString::to_string).unwrap_or_default()),
        );
        cells.push(mean.to_string());
        cells.push(text);
        let line = csv_line(&cells)?;
        self.outs
            .main
            .as_mut()
            .ok_or_else(|| ExportError::Usage("internal: no rubric file".into()))?
            .json_line(&row)?;
        self.outs
            .csv
            .as_mut()
            .ok_or_else(|| ExportError::Usage("internal: no csv file".into()))?
            .bytes(&line, true)?;
        self.counts.rows_out += 1;
        add_counts(&mut self.redactions, &t);
        Ok(Ok(()))
    }

    // ---- raw ----

    fn raw(
        &mut self,
        runs: &[RunRecord],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ExportError> {
        self.each_output(runs, progress, Self::raw_row)
    }

    fn raw_row(&mut self, run: &RunRecord, o: &OutputRecord) -> Result<Judged<()>, ExportError> {
        // Raw keeps outputs whose case is gone (with no messages): only the filters drop.
        let case = match self.select(&[o.variant.as_str()], &o.case_id) {
            Ok(c) => Some(c),
            Err(reason::CASE_MISSING) if self.opts.tags.is_empty() => None,
            Err(why) => return Ok(Err(why)),
        };
        let variant = run.variant(&o.variant);
        let prompt = match (variant, case) {
            (Some(v), Some(c)) => self.prompt(v, c, o).map_err(|p| p.reason()),
            (None, _) => Err(reason::VARIANT_MISSING),
            (_, None) => Err(reason::CASE_MISSING),
        };
        let mut t = RedactionCounts::new();
        let messages = match &prompt {
            Ok(p) => Some(self.redact_messages(p, &mut t)),
            Err(_) => None,
        };
        let text = self.redactor.redact(&o.text, &mut t);
        let error = o.error.as_deref().map(|e| self.redactor.redact(e, &mut t));
        let checks: Vec<CheckResult> = o
            .checks
            .iter()
            .map(|c| CheckResult {
                reason: self.redactor.redact(&c.reason, &mut t),
                ..c.clone()
            })
            .collect();
        let passages: Vec<PassageRecord> = o
            .passages
            .iter()
            .map(|p| PassageRecord {
                text: self.redactor.redact(&p.text, &mut t),
                ..p.clone()
            })
            .collect();
        let me = OutputRef {
            run_id: o.run_id.clone(),
            case_id: o.case_id.clone(),
            repeat: o.repeat,
            variant: o.variant.clone(),
        };
        let labels = self.ratings.labels(&me).cloned().unwrap_or_default();
        let row = RawRow {
            labels,
            run_id: &o.run_id,
            variant: &o.variant,
            case_id: &o.case_id,
            repeat: o.repeat,
            split: case.and_then(|c| c.split.as_deref()),
            tags: case.map_or(&[][..], |c| &c.tags[..]),
            template: variant.map(|v| v.template.as_str()),
            template_version: variant.map(|v| v.template_version.as_str()),
            model: variant.map(|v| v.model.model.as_str()),
            messages,
            prompt_problem: prompt.as_ref().err().copied(),
            text,
            passed: o.passed(),
            error,
            checks,
            usage: o.usage,
            latency_ms: o.latency_ms,
            ttft_ms: o.ttft_ms,
            cost_usd: o.cost_usd,
            cached: o.cached,
            attempts: o.attempts,
            finish_reason: o.finish_reason.as_deref(),
            passages,
            schema_attempts: o.schema_attempts.len(),
            finished_ms: o.finished_ms,
        };
        self.outs
            .main
            .as_mut()
            .ok_or_else(|| ExportError::Usage("internal: no raw file".into()))?
            .json_line(&row)?;
        self.counts.rows_out += 1;
        add_counts(&mut self.redactions, &t);
        Ok(Ok(()))
    }
}

/// One output with its metadata, as `raw` writes it.
#[derive(Serialize)]
struct RawRow<'a> {
    run_id: &'a str,
    variant: &'a str,
    case_id: &'a str,
    repeat: u32,
    split: Option<&'a str>,
    tags: &'a [String],
    template: Option<&'a str>,
    template_version: Option<&'a str>,
    model: Option<&'a str>,
    /// The exact messages sent, `null` when they cannot be reproduced (see `prompt_problem`).
    messages: Option<Vec<Message>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_problem: Option<&'static str>,
    text: String,
    passed: bool,
    error: Option<String>,
    checks: Vec<CheckResult>,
    usage: Usage,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    cost_usd: Option<f64>,
    cached: bool,
    attempts: u32,
    finish_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    passages: Vec<PassageRecord>,
    schema_attempts: usize,
    finished_ms: u64,
    /// Failure-mode labels raters gave this output, with how many raters gave each.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, u32>,
}

/// The rubric's dimensions in the session's order, then any others the ratings carry.
fn rubric_dims<'r>(
    session: &Session,
    scores: impl Iterator<Item = &'r BTreeMap<String, u8>>,
) -> Vec<String> {
    let mut dims: Vec<String> = session.file.rubric.iter().map(|d| d.key.clone()).collect();
    let mut extra = BTreeSet::new();
    for s in scores {
        for k in s.keys() {
            if !dims.contains(k) {
                extra.insert(k.clone());
            }
        }
    }
    dims.extend(extra);
    dims
}

fn csv_line<S: AsRef<[u8]>>(cells: &[S]) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(cells)
        .map_err(|e| ExportError::Usage(format!("internal: csv: {e}")))?;
    w.into_inner()
        .map_err(|e| ExportError::Usage(format!("internal: csv: {e}")))
}
