//! The provider-neutral request and response types every provider speaks.

use serde::{Deserialize, Serialize};

use crate::session::Params;

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
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// True when the API reported no usage and these are estimates (about 4 chars a token).
    #[serde(default)]
    pub estimated: bool,
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
    /// The attempt that streamed the text so far failed and another one starts: drop what
    /// was shown, the next `Delta`s start the answer again.
    Restart {
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// Why the last attempt failed.
        reason: String,
    },
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
}
