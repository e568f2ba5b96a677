//! What a session may ask to check, as written in its `checks:` lists.

use serde::{Deserialize, Serialize};

/// One automatic check. Written as a bare name (`- json_valid`) or a one-key map
/// (`- { max_latency_ms: 3000 }`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CheckSpec {
    JsonValid,
    JsonSchema,
    Regex(MatchSpec),
    MaxLatencyMs(u64),
}

/// A pattern applied to the text, or to the value at a JSON pointer into the parsed output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default)]
    pub path: Option<String>,
    pub pattern: String,
    #[serde(default)]
    pub ignore_case: bool,
}

/// The verdict of one check on one output, stored with the output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CheckResult {
    /// The check's display name, e.g. `json_schema` or `regex /risk`.
    pub name: String,
    pub pass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Why, for a person: what failed and where.
    pub reason: String,
}
