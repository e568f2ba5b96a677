//! `OpenAI`-compatible chat completions (`OpenAI`, llama.cpp, vLLM, TGI, `SGLang`, ...).

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ProviderError;
use super::protocol::{Decoder, Provider, Whole, bearer_headers, in_band_error, parse_json};
use super::types::{ChatRequest, StreamEvent};
use super::wire::{Sse, SseEvent};

#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAi;

impl Provider for OpenAi {
    fn default_base_url(&self) -> &'static str {
        "https://api.openai.com/v1"
    }

    fn url(&self, base: &str) -> String {
        format!("{base}/chat/completions")
    }

    fn headers(&self, key: Option<&str>) -> Result<HeaderMap, ProviderError> {
        bearer_headers(key)
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(req.model));
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        body.insert("messages".into(), Value::Array(messages));
        let p = &req.params;
        if let Some(t) = p.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(t) = p.top_p {
            body.insert("top_p".into(), json!(t));
        }
        if let Some(n) = p.max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if let Some(s) = p.seed {
            body.insert("seed".into(), json!(s));
        }
        if !p.stop.is_empty() {
            body.insert("stop".into(), json!(p.stop));
        }
        if let Some(schema) = &req.response_format {
            body.insert(
                "response_format".into(),
                json!({
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": schema, "strict": true}
                }),
            );
        }
        if let Some(n) = req.top_logprobs {
            body.insert("logprobs".into(), json!(true));
            body.insert("top_logprobs".into(), json!(n));
        }
        body.insert("stream".into(), json!(stream));
        if stream {
            // Without it the usage never comes on a stream and would have to be estimated.
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
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

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// An in-band error (`{"error": ...}`) in a streamed chunk.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    /// Streamed chunks carry `delta`, whole responses `message`.
    #[serde(default, alias = "message")]
    delta: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<WireLogprobs>,
}

#[derive(Debug, Deserialize)]
struct WireLogprobs {
    #[serde(default)]
    content: Option<Vec<WireToken>>,
}

#[derive(Debug, Deserialize)]
struct WireToken {
    #[serde(default)]
    top_logprobs: Vec<WireTop>,
}

#[derive(Debug, Deserialize)]
struct WireTop {
    token: String,
    logprob: f64,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

fn push_response(r: Response, out: &mut Vec<StreamEvent>) {
    // Only the first choice: Loupe never asks for n > 1.
    for choice in r.choices.into_iter().filter(|c| c.index == 0) {
        if let Some(text) = choice.delta.and_then(|d| d.content)
            && !text.is_empty()
        {
            out.push(StreamEvent::Delta(text));
        }
        for token in choice.logprobs.and_then(|l| l.content).unwrap_or_default() {
            out.push(StreamEvent::TopLogprobs(
                token
                    .top_logprobs
                    .into_iter()
                    .map(|t| (t.token, t.logprob))
                    .collect(),
            ));
        }
        if let Some(reason) = choice.finish_reason {
            out.push(StreamEvent::Finish(Some(reason)));
        }
    }
    if let Some(u) = r.usage {
        out.push(StreamEvent::Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        });
    }
}

fn parse_whole(body: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
    let v: Value = parse_json(body)?;
    if let Some(e) = in_band_error(&v) {
        return Err(e);
    }
    let r: Response = serde_json::from_value(v).map_err(|e| ProviderError::decode(e, body))?;
    if r.choices.is_empty() {
        return Err(ProviderError::decode("the response has no choices", body));
    }
    push_response(r, out);
    Ok(())
}

#[derive(Default)]
struct SseDecoder {
    sse: Sse,
    done: bool,
    finished: bool,
}

impl SseDecoder {
    fn on_event(&mut self, e: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if e.event == "error" && !self.done {
            // llama.cpp's mid-stream failure (`error: {"code","message","type"}`), or an
            // `event: error`: the answer is not whole, whatever follows.
            let v = serde_json::from_str::<Value>(&e.data)
                .unwrap_or_else(|_| Value::String(e.data.clone()));
            return Err(
                in_band_error(&json!({ "error": v })).unwrap_or(ProviderError::Api {
                    kind: String::new(),
                    message: "the server reported an error mid-stream".into(),
                }),
            );
        }
        self.on_data(&e.data, out)
    }

    fn on_data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        // Straight into the typed chunk: a stream has one of these per token, and a
        // `Value` (an ordered map per object) first cost more than everything else here.
        let mut r: Response = match serde_json::from_str(data) {
            Ok(r) => r,
            Err(e) => {
                // Not a chunk; it may still be an error object of another shape.
                let v: Value = parse_json(data.as_bytes())?;
                return Err(
                    in_band_error(&v).unwrap_or_else(|| ProviderError::decode(e, data.as_bytes()))
                );
            }
        };
        if let Some(error) = r.error.take()
            && let Some(e) = in_band_error(&json!({ "error": error }))
        {
            return Err(e);
        }
        let before = out.len();
        push_response(r, out);
        self.finished |= out[before..]
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish(_)));
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
        for e in &events {
            self.on_event(e, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if let Some(e) = self.sse.finish() {
            self.on_event(&e, out)?;
        }
        // Some servers omit `[DONE]`; a finish reason still says the answer is whole.
        if self.done || self.finished {
            Ok(())
        } else {
            Err(ProviderError::StreamCut {
                reason: "the body ended before `data: [DONE]`".into(),
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
    use crate::providers::types::{Message, Role};

    #[test]
    fn log_probabilities_are_asked_for_and_read() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![Message::new(Role::User, "u")],
            params: crate::spec::Params::default(),
            response_format: None,
            top_logprobs: Some(3),
        };
        let body = OpenAi.body(&req, false);
        assert_eq!(
            (body["logprobs"].clone(), body["top_logprobs"].clone()),
            (json!(true), json!(3))
        );
        // The shape llama.cpp's server answers with (non-streamed).
        let whole = r#"{"choices":[{"index":0,"message":{"content":"A"},"finish_reason":"stop",
            "logprobs":{"content":[{"token":"A","logprob":-0.1,"top_logprobs":[
                {"token":"A","logprob":-0.1},{"token":"B","logprob":-2.5}]}]}}]}"#;
        let mut out = Vec::new();
        parse_whole(whole.as_bytes(), &mut out).expect("parses");
        assert!(out.contains(&StreamEvent::TopLogprobs(vec![
            ("A".into(), -0.1),
            ("B".into(), -2.5)
        ])));
    }

    fn events(body: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut d = OpenAi.decoder(true);
        let mut out = Vec::new();
        d.feed(body.as_bytes(), &mut out)?;
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn stream_keeps_text_exactly() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" Hello\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"  \\n\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(
            events(body).expect("complete"),
            vec![
                StreamEvent::Delta(" Hello".into()),
                StreamEvent::Delta("  \n".into()),
                StreamEvent::Finish(Some("stop".into())),
                StreamEvent::Usage {
                    input_tokens: 5,
                    output_tokens: 2
                },
            ]
        );
    }

    #[test]
    fn cut_and_malformed_streams() {
        let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
        assert!(matches!(events(cut), Err(ProviderError::StreamCut { .. })));
        let bad = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"\n\n";
        assert!(matches!(events(bad), Err(ProviderError::Decode { .. })));
        let err = "data: {\"error\":{\"type\":\"server_error\",\"message\":\"boom\"}}\n\n";
        assert!(matches!(events(err), Err(ProviderError::Api { .. })));
        // An error beside fields of no chunk's shape is still the server's error.
        let odd = "data: {\"error\":{\"message\":\"boom\"},\"choices\":\"none\"}\n\n";
        assert!(matches!(events(odd), Err(ProviderError::Api { .. })));
        // llama.cpp's mid-stream failure, then `[DONE]`: an error, never an empty answer.
        let llama = "error: {\"code\":400,\"message\":\"the request exceeds the context size\",\"type\":\"exceed_context_size_error\"}\n\ndata: [DONE]\n\n";
        match events(llama) {
            Err(ProviderError::Api { kind, message }) => {
                assert_eq!(kind, "exceed_context_size_error");
                assert!(message.contains("context size"), "{message}");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn body_carries_params_and_schema() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::new(Role::System, "s"),
                Message::new(Role::User, "u"),
            ],
            params: crate::spec::Params {
                temperature: Some(0.5),
                max_tokens: Some(7),
                seed: Some(3),
                stop: vec!["\n\n".into()],
                ..Default::default()
            },
            response_format: Some(json!({"type": "object"})),
            top_logprobs: None,
        };
        let b = OpenAi.body(&req, true);
        assert_eq!(b["messages"][0]["role"], "system");
        assert_eq!(b["max_tokens"], 7);
        assert_eq!(b["seed"], 3);
        assert_eq!(b["stop"][0], "\n\n");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(OpenAi.body(&req, false).get("stream_options").is_none());
    }
}
