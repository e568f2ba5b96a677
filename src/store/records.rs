//! The records kept in the store.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::eval::spec::CheckResult;
use crate::providers::{Completion, Usage};
use crate::session::{ModelSpec, ProviderKind};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-28 21:57:06` in UTC, from epoch milliseconds (no time-zone database needed).
pub fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days` (days since 1970-01-01 to a proleptic Gregorian date).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Complete,
    /// Stopped before every cell had an output (Ctrl-C, a kill); resumable.
    Interrupted,
}

/// A model as used by a run: the session's spec without anything secret (the spec holds
/// only the *name* of the key's environment variable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunVariant {
    pub name: String,
    pub template: String,
    pub template_version: String,
    pub model_name: String,
    pub model: ModelSpec,
    #[serde(default)]
    pub rag: Option<String>,
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
    pub provider: ProviderKind,
    pub created_ms: u64,
}

/// Cost in US dollars from usage and a model's price, when the model has one.
pub fn cost_usd(model: &ModelSpec, usage: &Usage) -> Option<f64> {
    model.price.map(|p| {
        (usage.input_tokens as f64 * p.input_per_mtok
            + usage.output_tokens as f64 * p.output_per_mtok)
            / 1_000_000.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_902_226_000), "2026-11-28 21:43:46");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00");
    }

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
