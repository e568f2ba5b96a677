//! The one trait each API implements: how to ask, and how to turn the answer's bytes into
//! [`StreamEvent`]s. Everything else (HTTP, timeouts, retries, limits) is the `Client`'s.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::Value;

use super::error::{ProviderError, excerpt};
use super::types::{ChatRequest, StreamEvent};

/// Largest non-streamed body read (a streamed one is bounded per line and by time).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// One API's wire protocol.
pub trait Provider: Send + Sync + 'static {
    /// The base URL used when the session names none.
    fn default_base_url(&self) -> &'static str;
    /// The chat endpoint under `base` (which has no trailing slash).
    fn url(&self, base: &str) -> String;
    /// Headers for every request, the key among them; values holding it are marked
    /// sensitive so they never show in Debug output.
    fn headers(&self, key: Option<&str>) -> Result<HeaderMap, ProviderError>;
    /// The JSON body for `req`.
    fn body(&self, req: &ChatRequest, stream: bool) -> Value;
    /// A fresh decoder for one response body: streamed (SSE/NDJSON) or whole.
    fn decoder(&self, stream: bool) -> Box<dyn Decoder>;
}

/// A header value that carries a secret (an API key), marked sensitive so that it never
/// shows in Debug output.
pub fn secret_header(value: &str) -> Result<HeaderValue, ProviderError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ProviderError::Config("the API key holds characters a header cannot carry".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Authorization: Bearer KEY` when there is a key, else no header.
pub fn bearer_headers(key: Option<&str>) -> Result<HeaderMap, ProviderError> {
    let mut h = HeaderMap::new();
    if let Some(key) = key {
        h.insert(AUTHORIZATION, secret_header(&format!("Bearer {key}"))?);
    }
    Ok(h)
}

/// Turns a response body into events, chunk by chunk.
pub trait Decoder: Send {
    /// Feeds the next chunk of the body; pushes the events it completes.
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
    /// The body ended: pushes what remains. An error when the response was incomplete.
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
    /// The protocol's end marker arrived; nothing after it matters.
    fn is_done(&self) -> bool;
}

/// A non-streamed body: buffered (bounded), then parsed at the end.
pub struct Whole<F> {
    buf: Vec<u8>,
    parse: F,
}

impl<F> Whole<F>
where
    F: FnMut(&[u8], &mut Vec<StreamEvent>) -> Result<(), ProviderError> + Send,
{
    pub fn new(parse: F) -> Self {
        Self {
            buf: Vec::new(),
            parse,
        }
    }
}

impl<F> Decoder for Whole<F>
where
    F: FnMut(&[u8], &mut Vec<StreamEvent>) -> Result<(), ProviderError> + Send,
{
    fn feed(&mut self, chunk: &[u8], _out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.buf.len() + chunk.len() > MAX_BODY {
            return Err(ProviderError::TooLarge { limit: MAX_BODY });
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        (self.parse)(&self.buf, out)
    }

    fn is_done(&self) -> bool {
        false
    }
}

/// Parses one JSON document of the expected shape, or says what was wrong with it.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(bytes).map_err(|e| ProviderError::decode(e, bytes))
}

/// The error an API put in a JSON body, in any of the common shapes:
/// `{"error": {"type", "message"}}` (`OpenAI`, Anthropic), `{"error": "..."}` (Ollama,
/// llama.cpp's older builds), `{"message": ...}`, `{"detail": ...}` (vLLM, `FastAPI`).
pub fn api_error(v: &Value) -> Option<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    if let Some(err) = v.get("error") {
        return match err {
            Value::Object(o) => {
                let kind = o
                    .get("type")
                    .or_else(|| o.get("code"))
                    .and_then(text)
                    .unwrap_or_default();
                let message = o
                    .get("message")
                    .and_then(text)
                    .unwrap_or_else(|| err.to_string());
                Some((kind, message))
            }
            Value::Null => None,
            other => text(other).map(|m| (String::new(), m)),
        };
    }
    v.get("message")
        .or_else(|| v.get("detail"))
        .and_then(text)
        .map(|m| (String::new(), m))
}

/// The readable part of an error body: the API's own message when it is JSON that has
/// one, otherwise the start of the body.
pub fn error_body_excerpt(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some((kind, message)) = api_error(&v)
    {
        return if kind.is_empty() {
            excerpt(&message)
        } else {
            excerpt(&format!("{kind}: {message}"))
        };
    }
    excerpt(&String::from_utf8_lossy(body))
}

/// `{"error": ...}` inside a successful response, as an error.
pub fn in_band_error(v: &Value) -> Option<ProviderError> {
    v.get("error")?;
    api_error(v).map(|(kind, message)| ProviderError::Api {
        kind: excerpt(&kind),
        message: excerpt(&message),
    })
}

pub(crate) fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_in_sensitive_headers() {
        let h = bearer_headers(Some("sk-1")).expect("ascii key");
        let v = &h[AUTHORIZATION];
        assert_eq!(v.to_str().expect("ascii"), "Bearer sk-1");
        assert!(v.is_sensitive());
        assert!(!format!("{h:?}").contains("sk-1"));
        assert!(bearer_headers(None).expect("no key").is_empty());
        assert!(matches!(
            bearer_headers(Some("bad\nkey")),
            Err(ProviderError::Config(_))
        ));
    }
    use serde_json::json;

    #[test]
    fn error_shapes() {
        assert_eq!(
            error_body_excerpt(br#"{"error":{"type":"invalid_request_error","message":"bad"}}"#),
            "invalid_request_error: bad"
        );
        assert_eq!(
            error_body_excerpt(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            error_body_excerpt(b"<html>\n oops</html>"),
            "<html> oops</html>"
        );
        assert!(in_band_error(&json!({"choices": []})).is_none());
    }
}
