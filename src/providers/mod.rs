//! Model providers behind one streaming interface; retries, timeouts and limits live here once.
//!
//! Each API (`OpenAI`-compatible chat completions, Anthropic Messages, Ollama's
//! `/api/chat`) is a [`Provider`]: how to build its request and a [`Decoder`] that turns
//! the response bytes into [`StreamEvent`]s. The [`Client`] wraps any of them with what
//! they all need: connect, idle and total timeouts; retries with exponential backoff and
//! full jitter that honour Retry-After; cancellation; per-model concurrency and
//! requests-per-minute limits; usage (estimated when the API gives none) and timings.
//! The same client also embeds (`Client::embed`: `/v1/embeddings`, Ollama's `/api/embed`).
//! The process gets its clients from one [`ModelPool`], so a model's limits hold across
//! every run, App, judge and embedding call at once.
//!
//! Defaults (see the `DEFAULT_*` constants): connect 10 s, idle 60 s, total 300 s per
//! attempt, 3 retries, backoff base 250 ms capped at 20 s, concurrency 4, no rpm limit.

mod anthropic;
mod client;
mod error;
mod limits;
mod ollama;
mod openai;
mod pool;
mod protocol;
mod reachability;
pub mod types;
mod wire;

pub use anthropic::{
    API_VERSION as ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS as ANTHROPIC_DEFAULT_MAX_TOKENS,
};
pub use client::embed::{
    EmbedProtocol, EmbedRequest, Embeddings, OllamaEmbed, OpenAiEmbed, embed_protocol,
};
pub use client::{
    Backoff, Client, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP, DEFAULT_CONCURRENCY,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_RETRIES, DEFAULT_TOTAL_TIMEOUT,
    MAX_RETRY_AFTER, Settings, estimate_tokens, retry_after,
};
pub use error::{EXCERPT_CHARS, Failure, ProviderError, TimeoutPhase, excerpt};
pub use limits::{Limits, Slot};
pub use pool::ModelPool;
pub use protocol::{Decoder, Provider};
pub use reachability::{
    DEFAULT_GIVE_UP, DEFAULT_PROBE_CAP, DEFAULT_PROBE_FIRST, DEFAULT_UNREACHABLE_AFTER, Down,
    ReachPolicy, ReachStatus, Reachability,
};
pub use types::*;

/// The endpoint a provider uses when a model names no `base_url`.
pub fn default_base_url(kind: crate::spec::ProviderKind) -> &'static str {
    match kind {
        crate::spec::ProviderKind::Openai => openai::OpenAi.default_base_url(),
        crate::spec::ProviderKind::Anthropic => anthropic::Anthropic.default_base_url(),
        crate::spec::ProviderKind::Ollama => ollama::Ollama.default_base_url(),
    }
}
