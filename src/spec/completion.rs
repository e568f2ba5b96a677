//! What a model answered, with the measurements Loupe keeps.

use serde::{Deserialize, Serialize};

use super::session::ModelSpec;

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// True when the API reported no usage and these are estimates (about 4 chars a token).
    #[serde(default)]
    pub estimated: bool,
}

/// A finished response with the measurements Loupe keeps.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// From sending the request to the last byte.
    pub latency_ms: u64,
    /// From sending the request to the first text delta.
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// How many HTTP attempts it took (1 when nothing was retried).
    pub attempts: u32,
    /// When asked for: the most likely tokens at each of the answer's first positions, with
    /// their natural-log probabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_logprobs: Vec<Vec<(String, f64)>>,
}

/// Cost in US dollars from usage and a model's price, when the model has one.
pub fn cost_usd(model: &ModelSpec, usage: &Usage) -> Option<f64> {
    model.price.map(|p| {
        (usage.input_tokens as f64 * p.input_per_mtok
            + usage.output_tokens as f64 * p.output_per_mtok)
            / 1_000_000.0
    })
}
