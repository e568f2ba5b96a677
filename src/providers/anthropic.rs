//! Anthropic Messages API (`/messages`), plain and streamed.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::{ProviderError, excerpt};
use super::protocol::{Decoder, Provider, Whole, api_error, parse_json, secret_header};
use super::types::{ChatRequest, Role, StreamEvent};
use super::wire::Sse;

pub const API_VERSION: &str = "2023-06-01";
/// The API requires `max_tokens`; this is sent when the session sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct Anthropic;

impl Provider for Anthropic {
    fn default_base_url(&self) -> &'static str {
        "https://api.anthropic.com/v1"
    }

    fn url(&self, base: &str) -> String {
        format!("{base}/messages")
    }

    fn headers(&self, key: Option<&str>) -> Result<HeaderMap, ProviderError> {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        if let Some(key) = key {
            h.insert(HeaderName::from_static("x-api-key"), secret_header(key)?);
        }
        Ok(h)
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(req.model));
        // The API takes the system prompt apart from the turns.
        let system: Vec<&str> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        if !system.is_empty() {
            body.insert("system".into(), json!(system.join("\n\n")));
        }
        let messages: Vec<Value> = req
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        body.insert("messages".into(), Value::Array(messages));
        let p = &req.params;
        body.insert(
            "max_tokens".into(),
            json!(p.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        );
        if let Some(t) = p.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(t) = p.top_p {
            body.insert("top_p".into(), json!(t));
        }
        if !p.stop.is_empty() {
            body.insert("stop_sequences".into(), json!(p.stop));
        }
        // No `seed` and no schema-constrained output in this API version: both are left
        // out rather than refused, and the json_schema check still judges the answer.
        body.insert("stream".into(), json!(stream));
        Value::Object(body)
    }

    fn decoder(&self, stream: bool) -> Box<dyn Decoder> {
        if stream {
            Box::new(SseDecoder::default())
        } else {
            Box::new(Whole::new(parse_whole))
        }
    }
}

// Field names are the API's.
#[allow(clippy::struct_field_names)]
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Anthropic counts cached prompt tokens apart from `input_tokens`; the prompt is all
    /// of them (llama.cpp's server reports its prompt cache hits the same way).
    fn input(&self) -> Option<u64> {
        self.input_tokens.map(|n| {
            n + self.cache_read_input_tokens.unwrap_or(0)
                + self.cache_creation_input_tokens.unwrap_or(0)
        })
    }
}

#[derive(Debug, Deserialize)]
struct Block {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

fn api_error_of(v: &Value) -> ProviderError {
    let (kind, message) = api_error(v).unwrap_or_else(|| (String::new(), v.to_string()));
    ProviderError::Api {
        kind: excerpt(&kind),
        message: excerpt(&message),
    }
}

fn parse_whole(body: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
    let v: Value = parse_json(body)?;
    if v.get("type").and_then(Value::as_str) == Some("error") || v.get("error").is_some() {
        return Err(api_error_of(&v));
    }
    let m: Message = serde_json::from_value(v).map_err(|e| ProviderError::decode(e, body))?;
    let text: String = m
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .collect();
    if !text.is_empty() {
        out.push(StreamEvent::Delta(text));
    }
    out.push(StreamEvent::Finish(m.stop_reason));
    if let Some(u) = m.usage
        && let (Some(input), Some(output)) = (u.input(), u.output_tokens)
    {
        out.push(StreamEvent::Usage {
            input_tokens: input,
            output_tokens: output,
        });
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockDelta {
        delta: BlockDelta,
    },
    MessageDelta {
        #[serde(default)]
        delta: Option<MessageDeltaBody>,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: Value,
    },
    /// `ping`, `content_block_start`, `content_block_stop` and whatever comes next.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct BlockDelta {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Default)]
struct SseDecoder {
    sse: Sse,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    done: bool,
}

impl SseDecoder {
    fn on_data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        let event: Event = parse_json(data.as_bytes())?;
        match event {
            Event::MessageStart { message } => {
                if let Some(u) = message.usage {
                    self.input_tokens = u.input().or(self.input_tokens);
                    self.output_tokens = u.output_tokens.or(self.output_tokens);
                }
            }
            Event::ContentBlockDelta { delta } => {
                // Only text: thinking and tool-input deltas are not the answer.
                if delta.kind == "text_delta"
                    && let Some(text) = delta.text.filter(|t| !t.is_empty())
                {
                    out.push(StreamEvent::Delta(text));
                }
            }
            Event::MessageDelta { delta, usage } => {
                if let Some(d) = delta {
                    out.push(StreamEvent::Finish(d.stop_reason));
                }
                if let Some(u) = usage {
                    // Counts here are cumulative; newer API versions repeat the input too.
                    self.input_tokens = u.input().or(self.input_tokens);
                    self.output_tokens = u.output_tokens.or(self.output_tokens);
                }
                if let (Some(input), Some(output)) = (self.input_tokens, self.output_tokens) {
                    out.push(StreamEvent::Usage {
                        input_tokens: input,
                        output_tokens: output,
                    });
                }
            }
            Event::MessageStop => self.done = true,
            Event::Error { error } => return Err(api_error_of(&json!({ "error": error }))),
            Event::Other => {}
        }
        Ok(())
    }
}

impl Decoder for SseDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        self.sse.feed(chunk, |e| {
            events.push(e);
            Ok(())
        })?;
        for e in events {
            self.on_data(&e.data, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if let Some(e) = self.sse.finish() {
            self.on_data(&e.data, out)?;
        }
        if self.done {
            Ok(())
        } else {
            Err(ProviderError::StreamCut {
                reason: "the body ended before `message_stop`".into(),
            })
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::types::Message as Msg;

    fn events(body: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut d = Anthropic.decoder(true);
        let mut out = Vec::new();
        d.feed(body.as_bytes(), &mut out)?;
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn stream_events() {
        let body = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":30,\"output_tokens\":0}}}\n\n",
            "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" Hi \"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        assert_eq!(
            events(body).expect("complete"),
            vec![
                StreamEvent::Delta(" Hi ".into()),
                StreamEvent::Finish(Some("end_turn".into())),
                StreamEvent::Usage {
                    input_tokens: 31,
                    output_tokens: 4
                },
            ]
        );
    }

    #[test]
    fn error_event() {
        let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let e = events(body).expect_err("an error");
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "the API reported an error (overloaded_error): Overloaded"
        );
    }

    #[test]
    fn system_goes_top_level_and_max_tokens_defaults() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                Msg::new(Role::System, "be brief"),
                Msg::new(Role::User, "hi"),
            ],
            params: crate::spec::Params::default(),
            response_format: None,
            top_logprobs: None,
        };
        let b = Anthropic.body(&req, false);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"].as_array().map(Vec::len), Some(1));
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
    }
}
