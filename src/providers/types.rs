//! The provider-neutral request and response types every provider speaks.

use serde::{Deserialize, Serialize};

pub use crate::spec::{Completion, Usage};
use crate::spec::{ModelSpec, Params, ProviderKind};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Exactly what is sent: the cache key is the hash of this (plus the endpoint).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub params: Params,
    /// A JSON Schema the server should constrain the output to, where it supports that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
    /// Ask for the log-probabilities of this many most likely tokens at each position of
    /// the answer (OpenAI-compatible `logprobs`/`top_logprobs`; llama.cpp's server has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
}

/// One piece of a streamed response.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Text to append to the output.
    Delta(String),
    /// Token usage as reported by the API.
    Usage {
        input_tokens: u64,
        output_tokens: u64,
    },
    /// The model stopped; the reason as the API names it.
    Finish(Option<String>),
    /// The most likely tokens at the next position of the answer, with their natural-log
    /// probabilities (only when the request asked for `top_logprobs`).
    TopLogprobs(Vec<(String, f64)>),
    /// The attempt that streamed the text so far failed and another one starts: drop what
    /// was shown, the next `Delta`s start the answer again.
    Restart {
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// Why the last attempt failed.
        reason: String,
    },
}

/// The blake3 of the exact request and where it goes; never includes the key.
pub fn request_hash(model: &ModelSpec, req: &ChatRequest) -> String {
    #[derive(serde::Serialize)]
    struct Keyed<'a> {
        provider: ProviderKind,
        base_url: Option<&'a str>,
        request: &'a ChatRequest,
    }
    let keyed = Keyed {
        provider: model.provider,
        base_url: model.base_url.as_deref(),
        request: req,
    };
    // serde_json writes struct fields in declaration order, so this is canonical.
    let bytes = serde_json::to_vec(&keyed).unwrap_or_default();
    blake3::hash(&bytes).to_hex().to_string()
}
