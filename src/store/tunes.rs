//! Training runs: one record per `loupe tune NAME`, the link between a fine-tuned model and
//! the exported rows it learned from.
//!
//! Key scheme of the `tunes` tree: the run's name (what a session's `model: tuned:NAME`
//! refers to). A record is written when training starts (`running`) and rewritten, flushed,
//! when it ends: `finished` only once the model file is in place and hashed, so a trainer
//! killed half way never leaves a run that looks finished.

use serde::{Deserialize, Serialize};

use super::{Result, Store, TUNES, decode, get, put};

/// Where a training run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TuneStatus {
    /// Training, by this process (a record left `running` by a process that is gone was
    /// interrupted).
    Running {
        pid: u32,
    },
    Finished,
    Failed {
        reason: String,
    },
}

/// The export a run trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneData {
    /// The export folder, as given.
    pub dir: String,
    pub export_id: String,
    /// sha256 of `sft.manifest.json`: the manifest names every file (with its sha256) and
    /// `sft.rows.jsonl` traces every row to its source.
    pub manifest_sha256: String,
    pub rows_train: u64,
    pub rows_valid: u64,
    /// Rows the export read and wrote (before and after hygiene).
    pub rows_in: u64,
    pub rows_out: u64,
    /// Where the rows came from: `outputs` or `references`.
    pub source: String,
    /// sha256 of the training text handed to the trainer (the rows in the chat template).
    pub text_sha256: String,
    /// Tokens of that text, as the trainer counted them (known once it started).
    #[serde(default)]
    pub tokens: Option<u64>,
}

/// A model file: the base trained from, or the model written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// How the run trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneHyper {
    pub epochs: u32,
    pub learning_rate: f64,
    /// Tokens per training window.
    pub context: u32,
    /// Share of the text (its end) the trainer validates on.
    pub val_split: f64,
    pub threads: u32,
    pub optimizer: String,
}

/// Mean losses of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLoss {
    /// 1-based.
    pub epoch: u32,
    pub train_loss: f64,
    /// `None` when the validation share held no window.
    #[serde(default)]
    pub val_loss: Option<f64>,
}

/// One `loupe tune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRunRecord {
    pub name: String,
    /// `tune-20261205-011502-3fa9`.
    pub id: String,
    pub session: String,
    pub status: TuneStatus,
    pub data: TuneData,
    pub base: ModelFile,
    pub hyper: TuneHyper,
    /// The trainer program and its sha256.
    pub trainer: ModelFile,
    pub epochs: Vec<EpochLoss>,
    /// Training tokens per second over the whole run.
    #[serde(default)]
    pub tokens_per_s: Option<f64>,
    pub started_ms: u64,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    /// The model written; set only when the run finished.
    #[serde(default)]
    pub output: Option<ModelFile>,
    /// The copy served in its place: the same weights as `Q8_0` (`loupe tune --quantize`),
    /// smaller and faster to serve. `None` when no copy was made.
    #[serde(default)]
    pub served: Option<ModelFile>,
}

impl TrainingRunRecord {
    /// Wall time in milliseconds, once it ended.
    pub fn wall_ms(&self) -> Option<u64> {
        self.finished_ms.map(|f| f.saturating_sub(self.started_ms))
    }

    pub fn is_finished(&self) -> bool {
        self.status == TuneStatus::Finished && self.output.is_some()
    }
}

impl Store {
    /// Records (or replaces) a training run and waits until it is on disk.
    pub fn put_tune(&self, rec: &TrainingRunRecord) -> Result<()> {
        put(&self.inner.tunes, rec.name.as_bytes(), rec)?;
        self.inner.tunes.flush()?;
        Ok(())
    }

    pub fn tune(&self, name: &str) -> Result<Option<TrainingRunRecord>> {
        get(&self.inner.tunes, TUNES, name.as_bytes())
    }

    /// Every training run, by name.
    pub fn tunes(&self) -> impl Iterator<Item = Result<TrainingRunRecord>> + use<> {
        self.inner.tunes.iter().values().map(|v| decode(TUNES, &v?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> ModelFile {
        ModelFile {
            path: path.into(),
            sha256: "ab".repeat(32),
            bytes: 1,
        }
    }

    fn record(name: &str, status: TuneStatus) -> TrainingRunRecord {
        TrainingRunRecord {
            name: name.into(),
            id: format!("tune-{name}"),
            session: "s".into(),
            status,
            data: TuneData {
                dir: "d".into(),
                export_id: "e".into(),
                manifest_sha256: "m".into(),
                rows_train: 8,
                rows_valid: 1,
                rows_in: 10,
                rows_out: 9,
                source: "references".into(),
                text_sha256: "t".into(),
                tokens: Some(900),
            },
            base: file("base.gguf"),
            hyper: TuneHyper {
                epochs: 1,
                learning_rate: 3e-5,
                context: 128,
                val_split: 0.1,
                threads: 2,
                optimizer: "adamw".into(),
            },
            trainer: file("llama-finetune"),
            epochs: vec![EpochLoss {
                epoch: 1,
                train_loss: 2.5,
                val_loss: None,
            }],
            tokens_per_s: Some(80.0),
            started_ms: 1000,
            finished_ms: Some(4000),
            output: Some(file("out.gguf")),
            served: None,
        }
    }

    #[test]
    fn a_run_is_replaced_by_name_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut run = record("risk", TuneStatus::Running { pid: 7 });
        run.output = None;
        store.put_tune(&run).expect("put");
        assert!(
            !store
                .tune("risk")
                .expect("get")
                .expect("some")
                .is_finished()
        );
        let done = record("risk", TuneStatus::Finished);
        store.put_tune(&done).expect("put");
        store
            .put_tune(&record("other", TuneStatus::Finished))
            .expect("put");
        let back = store.tune("risk").expect("get").expect("some");
        assert_eq!(back, done);
        assert!(back.is_finished());
        assert_eq!(back.wall_ms(), Some(3000));
        let names: Vec<String> = store.tunes().map(|r| r.expect("decode").name).collect();
        assert_eq!(names, ["other", "risk"]);
    }
}
