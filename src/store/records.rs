//! The records kept in the store.

use serde::{Deserialize, Serialize};

use crate::spec::{CheckResult, Completion, Usage};
pub use crate::spec::{cost_usd, format_time, now_ms};

use super::models::{ModelRecord, ProviderRecord};

/// A run id that sorts by time: `20261128-215706-3fa9`.
pub fn new_run_id() -> String {
    let ms = now_ms();
    let stamp = format_time(ms).replace(['-', ':'], "").replace(' ', "-");
    format!("{stamp}-{:04x}", rand::random::<u16>())
}

/// A session file as it was when something used it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    pub hash: String,
    pub name: String,
    pub path: String,
    pub source: String,
    pub created_ms: u64,
}

/// One version of a template, named by the blake3 of its canonical form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateVersionRecord {
    pub hash: String,
    pub session: String,
    pub template: String,
    /// The canonical form (system, examples, user, schema) as JSON.
    pub content: serde_json::Value,
    /// The output schema exactly as a run sends it: `content` sorts the schema's keys, and a
    /// request's hash depends on their order. Absent from records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    pub created_ms: u64,
}

/// The version of a template a person last saved or wrote (see `Store::set_template_head`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateHead {
    pub hash: String,
    pub saved_ms: u64,
    /// The template as written (with its `inherits`), to open the editor on.
    pub spec: crate::spec::TemplateSpec,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Complete,
    /// Stopped before every cell had an output (Ctrl-C, a kill); resumable.
    Interrupted,
}

/// A variant as a run used it: its template version and its model, without anything secret
/// (the model holds only the *name* of the key's environment variable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunVariant {
    pub name: String,
    pub template: String,
    pub template_version: String,
    pub model_name: String,
    pub model: ModelRecord,
    #[serde(default)]
    pub rag: Option<String>,
    /// The variant's `enforce_schema` as the run used it.
    #[serde(default, skip_serializing_if = "EnforceRecord::is_unrecorded")]
    pub enforce_schema: EnforceRecord,
}

/// A variant's `enforce_schema` as a run recorded it. With it on, the run sent the
/// template's output schema as the response format.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EnforceRecord {
    /// A run stored before this was recorded: it may have sent the schema or not.
    #[default]
    Unrecorded,
    Off,
    On {
        /// Repair turns after the first answer.
        retries: u32,
    },
}

impl EnforceRecord {
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
    fn is_unrecorded(&self) -> bool {
        *self == EnforceRecord::Unrecorded
    }
}

impl RunVariant {
    /// Whether the run sent the template's output schema with each request; `None` when the
    /// run is older than this record of it.
    pub fn sent_schema(&self) -> Option<bool> {
        match self.enforce_schema {
            EnforceRecord::Unrecorded => None,
            EnforceRecord::Off => Some(false),
            EnforceRecord::On { .. } => Some(true),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub session_name: String,
    pub session_path: String,
    pub session_hash: String,
    pub created_ms: u64,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    pub status: RunStatus,
    pub variants: Vec<RunVariant>,
    pub case_ids: Vec<String>,
    pub repeats: u32,
    #[serde(default)]
    pub no_cache: bool,
}

impl RunRecord {
    pub fn cell_count(&self) -> usize {
        self.variants.len() * self.case_ids.len() * self.repeats as usize
    }

    pub fn variant(&self, name: &str) -> Option<&RunVariant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// Addresses one cell of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub run_id: String,
    pub variant: String,
    pub case_id: String,
    pub repeat: u32,
}

impl CellKey {
    /// `run \0 variant \0 case \0 repeat(be)`: NUL cannot occur in YAML names, so the
    /// parts never run into each other, and a run's cells are one prefix scan.
    pub fn encode(&self) -> Vec<u8> {
        let mut key = Self::run_prefix(&self.run_id);
        key.extend_from_slice(self.variant.as_bytes());
        key.push(0);
        key.extend_from_slice(self.case_id.as_bytes());
        key.push(0);
        key.extend_from_slice(&self.repeat.to_be_bytes());
        key
    }

    pub fn run_prefix(run_id: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(run_id.len() + 48);
        key.extend_from_slice(run_id.as_bytes());
        key.push(0);
        key
    }
}

/// A retrieved passage as given to the template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PassageRecord {
    pub id: String,
    pub text: String,
    pub score: f64,
    /// The document's path relative to the session file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headings: Vec<String>,
}

/// One answer that failed the schema in an `enforce_schema` loop, before its repair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchemaAttempt {
    pub text: String,
    pub errors: Vec<String>,
}

/// What one cell produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputRecord {
    pub run_id: String,
    pub variant: String,
    pub case_id: String,
    pub repeat: u32,
    pub text: String,
    pub usage: Usage,
    pub latency_ms: u64,
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// Served from the response cache: no request was made.
    #[serde(default)]
    pub cached: bool,
    /// HTTP attempts the last request took (retries included).
    pub attempts: u32,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub request_hash: String,
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_attempts: Vec<SchemaAttempt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passages: Vec<PassageRecord>,
    pub finished_ms: u64,
}

impl OutputRecord {
    pub fn key(&self) -> CellKey {
        CellKey {
            run_id: self.run_id.clone(),
            variant: self.variant.clone(),
            case_id: self.case_id.clone(),
            repeat: self.repeat,
        }
    }

    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// True when every check passed (and there was no error).
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.pass)
    }
}

/// A cached response: the exact request's hash names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheRecord {
    pub completion: Completion,
    pub provider: ProviderRecord,
    pub created_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_keys_group_by_run() {
        let a = CellKey {
            run_id: "r1".into(),
            variant: "v".into(),
            case_id: "c".into(),
            repeat: 0,
        };
        assert!(a.encode().starts_with(&CellKey::run_prefix("r1")));
        assert!(!a.encode().starts_with(&CellKey::run_prefix("r")));
    }
}
