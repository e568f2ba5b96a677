//! `loupe tune`: trains a model on an sft export with llama.cpp's own trainer and records
//! the training run (data manifest, base model, hyperparameters, losses, output) in the
//! store, so a fine-tuned variant, and any release of it, traces back to its rows.
//!
//! The stock trainer's limits, stated rather than hidden: the loss counts every token
//! (system and user turns too, not only the answer); the text is cut into windows of
//! `context` tokens moved by half a window, so windows cross row boundaries; validation is
//! the end of the text (Loupe puts the export's validation rows there).

pub mod data;
pub mod gguf;
pub mod quantize;
pub mod trainer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::export::files::sha256_file;
use crate::store::{
    EpochLoss, ModelFile, Store, StoreError, TrainingRunRecord, TuneData, TuneHyper, TuneStatus,
    new_run_id, now_ms,
};
pub use data::TrainingData;
pub use trainer::Event;

/// The prefix of a session model's `model:` that names a training run: `tuned:NAME`.
pub const MODEL_PREFIX: &str = "tuned:";

/// The training run a model name refers to (`tuned:NAME` -> `NAME`).
pub fn run_name(model: &str) -> Option<&str> {
    model.strip_prefix(MODEL_PREFIX).filter(|n| !n.is_empty())
}

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Trainer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `loupe tune` is asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub name: String,
    pub session: String,
    pub data: PathBuf,
    pub base: PathBuf,
    pub out: PathBuf,
    pub trainer: Option<PathBuf>,
    pub epochs: u32,
    pub learning_rate: f64,
    pub context: u32,
    pub threads: u32,
    /// Train again even when a finished run of this name has the same inputs.
    pub force: bool,
    /// Also write a `Q8_0` copy beside the model, to serve in its place.
    pub quantize: bool,
}

/// How a `loupe tune` ended.
#[derive(Debug)]
pub enum Done {
    /// Trained now.
    Trained(TrainingRunRecord),
    /// A finished run of this name had the same data, base and hyperparameters, and its
    /// model file is unchanged: nothing was trained.
    Cached(TrainingRunRecord),
}

/// Checks the name, the hyperparameters, the data and the base model; no file is written.
pub fn validate(opts: &Options) -> Result<(TrainingData, gguf::GgufInfo), TuneError> {
    let usage = |m: String| Err(TuneError::Usage(m));
    if opts.name.is_empty()
        || !opts
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || opts.name.starts_with('.')
    {
        return usage(format!(
            "--name {:?}: use letters, digits, '-', '_' and '.' (it names the model file and \
             the session's `model: tuned:NAME`)",
            opts.name
        ));
    }
    if opts.epochs == 0 || opts.epochs > 1000 {
        return usage(format!("--epochs {}: expected 1 to 1000", opts.epochs));
    }
    if !(opts.learning_rate.is_finite() && opts.learning_rate > 0.0 && opts.learning_rate < 1.0) {
        return usage(format!(
            "--lr {}: expected a learning rate above 0 and below 1, e.g. 3e-5",
            opts.learning_rate
        ));
    }
    // llama.cpp rounds a context up to a multiple of 256, and the trainer's batch must be
    // the context: anything else trains a graph it was not built for.
    if !(256..=8192).contains(&opts.context) || !opts.context.is_multiple_of(256) {
        return usage(format!(
            "--ctx {}: expected a multiple of 256 from 256 to 8192 tokens per window",
            opts.context
        ));
    }
    if opts.threads == 0 {
        return usage("--threads 0: at least one".into());
    }
    let data = data::load(&opts.data)?;
    if !opts.base.is_file() {
        return usage(format!("--base {}: no such file", opts.base.display()));
    }
    let info = gguf::read(&opts.base).map_err(|e| TuneError::Usage(format!("--base: {e}")))?;
    if info.file_type != Some(0) {
        return usage(format!(
            "--base {}: the model is {}, and the trainer updates F32 weights; make an F32 copy \
             once with `scripts/tune.sh base {}` and pass the path it prints",
            opts.base.display(),
            info.file_type_name(),
            opts.base.display()
        ));
    }
    if !info
        .chat_template
        .as_deref()
        .is_some_and(|t| t.contains("<|im_start|>"))
    {
        return usage(format!(
            "--base {}: its chat template is not ChatML (<|im_start|>...), the one Loupe writes \
             training rows in",
            opts.base.display()
        ));
    }
    Ok((data, info))
}

fn model_file(path: &Path) -> Result<ModelFile, TuneError> {
    let sha256 = sha256_file(path)
        .map_err(|e| TuneError::Io(format!("cannot read {}: {e}", path.display())))?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| TuneError::Io(format!("cannot read {}: {e}", path.display())))?
        .len();
    Ok(ModelFile {
        path: path.display().to_string(),
        sha256,
        bytes,
    })
}

/// How long the end of a training waits for a store another process holds.
const STORE_WAIT: std::time::Duration = std::time::Duration::from_mins(2);

fn open_when_free(path: &Path) -> Result<Store, TuneError> {
    let deadline = Instant::now() + STORE_WAIT;
    let mut told = false;
    loop {
        match Store::open(path) {
            Err(StoreError::Locked { holder, .. }) if Instant::now() < deadline => {
                if !told {
                    eprintln!(
                        "tune: the store {} is in use by {holder}; waiting up to {} s to record \
                         the training run",
                        path.display(),
                        STORE_WAIT.as_secs()
                    );
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            other => return Ok(other?),
        }
    }
}

/// Whether the process that wrote a `running` record is still there.
fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The status to show: a `running` record whose process is gone was interrupted.
pub fn shown_status(rec: &TrainingRunRecord) -> String {
    match &rec.status {
        TuneStatus::Running { pid } if alive(*pid) => format!("running (pid {pid})"),
        TuneStatus::Running { .. } => "interrupted".into(),
        TuneStatus::Finished => "finished".into(),
        TuneStatus::Failed { .. } => "failed".into(),
    }
}

/// Trains, or finds the same training already done. `store_path` is opened only to read and
/// write the record (not while training, so the session's other commands can use it).
/// `on_event` sees the trainer's progress.
pub fn tune(
    opts: &Options,
    store_path: &Path,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Done, TuneError> {
    let (data, _info) = validate(opts)?;
    let trainer_path = trainer::locate(opts.trainer.as_deref())?;
    let base = model_file(&opts.base)?;
    let trainer_file = model_file(&trainer_path)?;
    let hyper = TuneHyper {
        epochs: opts.epochs,
        learning_rate: opts.learning_rate,
        context: opts.context,
        val_split: data.val_split(),
        threads: opts.threads,
        optimizer: "adamw".into(),
    };
    let tune_data = TuneData {
        dir: data.dir.display().to_string(),
        export_id: data.export_id.clone(),
        manifest_sha256: data.manifest_sha256.clone(),
        rows_train: data.rows_train,
        rows_valid: data.rows_valid,
        rows_in: data.rows_in,
        rows_out: data.rows_out,
        source: data.source.clone(),
        text_sha256: data.text_sha256(),
        tokens: None,
    };

    let store = Store::open(store_path)?;
    if let Some(old) = store.tune(&opts.name)? {
        if let TuneStatus::Running { pid } = old.status
            && pid != std::process::id()
            && alive(pid)
        {
            return Err(TuneError::Usage(format!(
                "training run {:?} is being trained by process {pid}; wait for it or stop it",
                opts.name
            )));
        }
        if old.is_finished() && !opts.force {
            let same = old.data.manifest_sha256 == tune_data.manifest_sha256
                && old.data.text_sha256 == tune_data.text_sha256
                && old.base.sha256 == base.sha256
                // Threads change how fast, not what is learned: a run trained on one
                // thread is the same run as on two.
                && TuneHyper {
                    threads: hyper.threads,
                    ..old.hyper.clone()
                } == hyper;
            if !same {
                return Err(TuneError::Usage(format!(
                    "a training run {:?} already exists with other data, base or \
                     hyperparameters (see `loupe tunes`); pass --force to replace it, or \
                     choose another --name",
                    opts.name
                )));
            }
            let unchanged = old
                .output
                .as_ref()
                .is_some_and(|o| Path::new(&o.path) == opts.out)
                && file_unchanged(old.output.as_ref());
            if unchanged {
                let mut old = old;
                if opts.quantize && !file_unchanged(old.served.as_ref()) {
                    old.served = Some(quantized_copy(&opts.out)?);
                    store.put_tune(&old)?;
                } else if !opts.quantize && old.served.take().is_some() {
                    store.put_tune(&old)?;
                }
                return Ok(Done::Cached(old));
            }
        }
    }

    let dir = opts
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| TuneError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let file_name = opts
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| TuneError::Usage(format!("--out {}: not a file", opts.out.display())))?;
    // Beside the model: the text trained on, the trainer's log, and the model while it is
    // written. A run killed half way leaves the partial file, which the next run replaces;
    // only a finished model is moved to `--out`.
    let text_path = dir.join(format!("{file_name}.train.txt"));
    let partial = dir.join(format!("{file_name}.partial"));
    let log = dir.join(format!("{file_name}.log"));
    let _ = std::fs::remove_file(&partial);
    std::fs::write(&text_path, data.text.as_bytes())
        .map_err(|e| TuneError::Io(format!("cannot write {}: {e}", text_path.display())))?;

    let started_ms = now_ms();
    let mut rec = TrainingRunRecord {
        name: opts.name.clone(),
        id: format!("tune-{}", new_run_id()),
        session: opts.session.clone(),
        status: TuneStatus::Running {
            pid: std::process::id(),
        },
        data: tune_data,
        base,
        hyper,
        trainer: trainer_file,
        epochs: Vec::new(),
        tokens_per_s: None,
        started_ms,
        finished_ms: None,
        output: None,
        served: None,
    };
    store.put_tune(&rec)?;
    // Closed while training: `loupe run` and the workbench need the store meanwhile.
    drop(store);

    let clock = Instant::now();
    let mut tokens_trained: u64 = 0;
    let mut epochs = Vec::new();
    let mut text_tokens = None;
    let job = trainer::Job {
        trainer: &trainer_path,
        base: &opts.base,
        text: &text_path,
        out: &partial,
        log: &log,
        epochs: opts.epochs,
        learning_rate: opts.learning_rate,
        context: opts.context,
        val_split: rec.hyper.val_split,
        threads: opts.threads,
    };
    let result = trainer::run(&job, &mut |ev| {
        match ev {
            Event::Tokens(n) => text_tokens = Some(*n),
            Event::Step {
                train: true,
                tokens,
                ..
            } => tokens_trained += tokens,
            Event::Step { .. } => {}
            Event::Epoch {
                epoch,
                train_loss,
                val_loss,
            } => epochs.push(EpochLoss {
                epoch: *epoch,
                train_loss: *train_loss,
                val_loss: *val_loss,
            }),
        }
        on_event(ev);
    });
    let elapsed = clock.elapsed().as_secs_f64();
    rec.epochs = epochs;
    rec.data.tokens = text_tokens;
    #[allow(clippy::cast_precision_loss)] // token counts far below 2^52
    let rate = (elapsed > 0.0).then(|| tokens_trained as f64 / elapsed);
    rec.tokens_per_s = rate;
    rec.finished_ms = Some(now_ms());

    let finished = result.and_then(|()| {
        std::fs::rename(&partial, &opts.out).map_err(|e| {
            TuneError::Io(format!(
                "cannot move {} to {}: {e}",
                partial.display(),
                opts.out.display()
            ))
        })?;
        model_file(&opts.out)
    });
    // The store may have been opened by the workbench meanwhile: the result is worth
    // waiting for, so the record is not left `running` for a model that is in place.
    let store = open_when_free(store_path)?;
    let fail = |rec: &mut TrainingRunRecord, e: TuneError| {
        rec.status = TuneStatus::Failed {
            reason: e.to_string(),
        };
        store.put_tune(rec)?;
        Err(e)
    };
    match finished {
        Ok(output) => {
            // The training is recorded before the copy is made: a `loupe tune` stopped while
            // quantizing keeps its finished model, and the next run only makes the copy.
            rec.output = Some(output);
            rec.status = TuneStatus::Finished;
            store.put_tune(&rec)?;
            if opts.quantize {
                match quantized_copy(&opts.out) {
                    Ok(served) => {
                        rec.served = Some(served);
                        store.put_tune(&rec)?;
                    }
                    Err(e) => return fail(&mut rec, e),
                }
            }
            Ok(Done::Trained(rec))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            fail(&mut rec, e)
        }
    }
}

/// Whether a recorded file is still there with the same content.
fn file_unchanged(file: Option<&ModelFile>) -> bool {
    file.is_some_and(|f| sha256_file(Path::new(&f.path)).is_ok_and(|s| s == f.sha256))
}

/// Where the `Q8_0` copy of the model at `out` goes: `NAME.gguf` -> `NAME.q8_0.gguf`.
pub fn quantized_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.q8_0.gguf"))
}

/// Writes the `Q8_0` copy of the finished model at `out` (through a partial file, so a copy
/// cut short is never taken for a whole one) and names it with its hash.
fn quantized_copy(out: &Path) -> Result<ModelFile, TuneError> {
    let dst = quantized_path(out);
    let partial = dst.with_extension("gguf.partial");
    let result = quantize::q8_0(out, &partial)
        .map_err(|e| TuneError::Io(format!("quantizing the trained model: {e}")))
        .and_then(|_| {
            std::fs::rename(&partial, &dst).map_err(|e| {
                TuneError::Io(format!(
                    "cannot move {} to {}: {e}",
                    partial.display(),
                    dst.display()
                ))
            })
        });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    model_file(&dst)
}

/// Where a fine-tuned variant's model came from, as a report, a release and an export
/// manifest name it: training run, data manifest, base and model file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lineage {
    pub variant: String,
    /// The model as the session names it (`tuned:NAME`).
    pub model: String,
    /// The training run's name.
    pub training_run: String,
    /// The run as the store has it; `None` when this store holds no run of that name.
    pub record: Option<TrainingRunRecord>,
}

impl Lineage {
    /// One line for a table: run, status, data manifest, base and model hashes, losses.
    pub fn describe(&self) -> String {
        let Some(r) = &self.record else {
            return format!(
                "{} ({}): no training run {:?} in this store",
                self.variant, self.model, self.training_run
            );
        };
        let short = |s: &str| s.chars().take(12).collect::<String>();
        let loss = r.epochs.last().map_or_else(String::new, |e| {
            format!(
                ", loss {:.3}{}",
                e.train_loss,
                e.val_loss
                    .map_or_else(String::new, |v| format!(" (val {v:.3})"))
            )
        });
        format!(
            "{} ({}): training run {} {}, {} epoch(s){loss}; data {}/sft.manifest.json sha256 {} \
             ({} rows from {}: {} train, {} valid; export {}); base sha256 {}; model {}{}",
            self.variant,
            self.model,
            r.id,
            shown_status(r),
            r.epochs.len(),
            r.data.dir,
            short(&r.data.manifest_sha256),
            r.data.rows_out,
            r.data.source,
            r.data.rows_train,
            r.data.rows_valid,
            r.data.export_id,
            short(&r.base.sha256),
            r.output.as_ref().map_or_else(
                || "not written".into(),
                |o| format!("{} sha256 {}", o.path, short(&o.sha256))
            ),
            r.served.as_ref().map_or_else(String::new, |o| format!(
                ", served as Q8_0 {} sha256 {}",
                o.path,
                short(&o.sha256)
            )),
        )
    }
}

/// The lineage of every variant of `run` whose model is `tuned:NAME`.
pub fn lineage(store: &Store, run: &crate::store::RunRecord) -> Result<Vec<Lineage>, StoreError> {
    let mut out = Vec::new();
    for v in &run.variants {
        let Some(name) = run_name(&v.model.model) else {
            continue;
        };
        out.push(Lineage {
            variant: v.name.clone(),
            model: v.model.model.clone(),
            training_run: name.to_owned(),
            record: store.tune(name)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_names_run_data_base_and_model_in_one_line() {
        let file = |p: &str, c: char| ModelFile {
            path: p.into(),
            sha256: c.to_string().repeat(64),
            bytes: 1,
        };
        let rec = TrainingRunRecord {
            name: "risk".into(),
            id: "tune-1".into(),
            session: "s".into(),
            status: TuneStatus::Finished,
            data: TuneData {
                dir: "exp".into(),
                export_id: "e1".into(),
                manifest_sha256: "a".repeat(64),
                rows_train: 7,
                rows_valid: 1,
                rows_in: 9,
                rows_out: 8,
                source: "references".into(),
                text_sha256: "t".into(),
                tokens: Some(900),
            },
            base: file("base.gguf", 'b'),
            hyper: TuneHyper {
                epochs: 1,
                learning_rate: 3e-5,
                context: 256,
                val_split: 0.1,
                threads: 2,
                optimizer: "adamw".into(),
            },
            trainer: file("llama-finetune", 'f'),
            epochs: vec![EpochLoss {
                epoch: 1,
                train_loss: 2.5,
                val_loss: Some(2.25),
            }],
            tokens_per_s: None,
            started_ms: 1,
            finished_ms: Some(2),
            output: Some(file("risk.gguf", 'c')),
            served: None,
        };
        let mut l = Lineage {
            variant: "fine-tuned".into(),
            model: "tuned:risk".into(),
            training_run: "risk".into(),
            record: Some(rec),
        };
        assert_eq!(
            l.describe(),
            "fine-tuned (tuned:risk): training run tune-1 finished, 1 epoch(s), loss 2.500 \
             (val 2.250); data exp/sft.manifest.json sha256 aaaaaaaaaaaa (8 rows from \
             references: 7 train, 1 valid; export e1); base sha256 bbbbbbbbbbbb; model \
             risk.gguf sha256 cccccccccccc"
        );
        l.record = None;
        assert_eq!(
            l.describe(),
            "fine-tuned (tuned:risk): no training run \"risk\" in this store"
        );
    }

    #[test]
    fn tuned_model_names_name_their_run() {
        assert_eq!(run_name("tuned:risk-v1"), Some("risk-v1"));
        assert_eq!(run_name("tuned:"), None);
        assert_eq!(run_name("smollm2-135m"), None);
    }
}
