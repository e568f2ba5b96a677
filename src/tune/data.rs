//! The training text: an sft export's rows, checked against its manifest, written in the
//! base model's chat template (`ChatML` for `SmolLM2`), training rows first and validation
//! rows last, because the trainer validates on the end of its text.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::TuneError;
use crate::export::files::{sha256_bytes, sha256_file};

/// An sft export read for training.
#[derive(Debug, Clone)]
pub struct TrainingData {
    pub dir: PathBuf,
    pub export_id: String,
    pub session: String,
    pub manifest_sha256: String,
    pub source: String,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_train: u64,
    pub rows_valid: u64,
    /// Every row in the chat template: training rows, then validation rows.
    pub text: String,
    /// Bytes at the end of `text` that are validation rows.
    pub valid_bytes: usize,
}

impl TrainingData {
    pub fn text_sha256(&self) -> String {
        sha256_bytes(self.text.as_bytes())
    }

    /// The share of the text the trainer should validate on: the validation rows, when the
    /// export has any (none: 0, the trainer then reports no validation loss).
    pub fn val_split(&self) -> f64 {
        if self.text.is_empty() {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)] // byte counts of a text held in memory
        let share = self.valid_bytes as f64 / self.text.len() as f64;
        share
    }
}

#[derive(Deserialize)]
struct ManifestView {
    export_id: String,
    format: String,
    session: SessionView,
    counts: CountsView,
    files: Vec<FileView>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
struct SessionView {
    name: String,
}

#[derive(Deserialize)]
struct CountsView {
    rows_in: u64,
    rows_out: u64,
    #[serde(default)]
    dropped: std::collections::BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct FileView {
    path: String,
    sha256: String,
}

#[derive(Deserialize)]
struct Row {
    messages: Vec<Turn>,
}

#[derive(Deserialize)]
struct Turn {
    role: String,
    content: String,
}

pub const MANIFEST: &str = "sft.manifest.json";
const TRAIN: &str = "sft.train.jsonl";
const VALID: &str = "sft.valid.jsonl";

/// Reads the sft export in `dir`: its manifest must be there and every data file must match
/// the sha256 the manifest gives, so the run's record names exactly the rows it trained on.
pub fn load(dir: &Path) -> Result<TrainingData, TuneError> {
    let usage = |m: String| Err(TuneError::Usage(m));
    if !dir.is_dir() {
        return usage(format!("--data {}: no such folder", dir.display()));
    }
    let manifest_path = dir.join(MANIFEST);
    let bytes = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return usage(format!(
                "--data {}: no {MANIFEST} there; make an sft export first (`loupe export \
                 SESSION --format sft --out {}`, or `--from references` for the cases' \
                 reference answers)",
                dir.display(),
                dir.display()
            ));
        }
        Err(e) => return usage(format!("cannot read {}: {e}", manifest_path.display())),
    };
    let manifest: ManifestView = serde_json::from_slice(&bytes).map_err(|e| {
        TuneError::Usage(format!(
            "{}:{}:{}: not an export manifest: {e}",
            manifest_path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if manifest.format != "sft" {
        return usage(format!(
            "{}: the export is {}, and training takes sft rows",
            manifest_path.display(),
            manifest.format
        ));
    }
    if manifest.counts.rows_out == 0 {
        let why: Vec<String> = manifest
            .counts
            .dropped
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        return usage(format!(
            "--data {}: the export has no rows: all {} were dropped by its hygiene ({}); \
             see {} for each",
            dir.display(),
            manifest.counts.rows_in,
            if why.is_empty() {
                "none read".to_owned()
            } else {
                why.join(", ")
            },
            dir.join("sft.dropped.jsonl").display()
        ));
    }
    for f in &manifest.files {
        if f.path == MANIFEST {
            continue;
        }
        let path = dir.join(&f.path);
        let got = sha256_file(&path)
            .map_err(|e| TuneError::Usage(format!("cannot read {}: {e}", path.display())))?;
        if got != f.sha256 {
            return usage(format!(
                "{} changed since the export wrote it (sha256 {got}, the manifest says {}); \
                 export again rather than train on rows the manifest does not describe",
                path.display(),
                f.sha256
            ));
        }
    }
    let listed = |name: &str| manifest.files.iter().any(|f| f.path == name);
    let mut text = String::new();
    let mut counts = [0u64; 2];
    let mut train_len = 0;
    for (i, name) in [TRAIN, VALID].into_iter().enumerate() {
        if !listed(name) {
            continue;
        }
        let path = dir.join(name);
        let body = std::fs::read_to_string(&path)
            .map_err(|e| TuneError::Usage(format!("cannot read {}: {e}", path.display())))?;
        for (n, line) in body.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: Row = serde_json::from_str(line).map_err(|e| {
                TuneError::Usage(format!(
                    "{}:{}:{}: not an sft row: {e}",
                    path.display(),
                    n + 1,
                    e.column()
                ))
            })?;
            chatml(&row, &mut text);
            counts[i] += 1;
        }
        if i == 0 {
            train_len = text.len();
        }
    }
    if counts[0] == 0 {
        return usage(format!(
            "--data {}: no {TRAIN} (every row fell in the validation share); export with a \
             smaller --valid",
            dir.display()
        ));
    }
    let valid_bytes = text.len() - train_len;
    Ok(TrainingData {
        dir: dir.to_owned(),
        export_id: manifest.export_id,
        session: manifest.session.name,
        manifest_sha256: sha256_bytes(&bytes),
        source: manifest.source.unwrap_or_else(|| "outputs".into()),
        rows_in: manifest.counts.rows_in,
        rows_out: manifest.counts.rows_out,
        rows_train: counts[0],
        rows_valid: counts[1],
        text,
        valid_bytes,
    })
}

/// One row in `ChatML`, `SmolLM2`'s chat template: `<|im_start|>role\ncontent<|im_end|>\n`
/// per turn, as the server formats a request, so the model learns the turns it will see.
fn chatml(row: &Row, out: &mut String) {
    for t in &row.messages {
        out.push_str("<|im_start|>");
        out.push_str(&t.role);
        out.push('\n');
        out.push_str(&t.content);
        out.push_str("<|im_end|>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_chatml_turns() {
        let row: Row = serde_json::from_str(
            r#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"U"},{"role":"assistant","content":"{\"a\":1}"}]}"#,
        )
        .expect("row");
        let mut s = String::new();
        chatml(&row, &mut s);
        assert_eq!(
            s,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n{\"a\":1}<|im_end|>\n"
        );
    }
}
