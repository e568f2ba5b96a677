//! Ollama's native chat API (`/api/chat`): one JSON object a line, `done: true` last.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ProviderError;
use super::protocol::{Decoder, Provider, bearer_headers, in_band_error, parse_json};
use super::types::{ChatRequest, StreamEvent};
use super::wire::Lines;

#[derive(Debug, Clone, Copy, Default)]
pub struct Ollama;

impl Provider for Ollama {
    fn default_base_url(&self) -> &'static str {
        "http://127.0.0.1:11434"
    }

    fn url(&self, base: &str) -> String {
        // Accept both `http://host:11434` and `http://host:11434/api`.
        match base.strip_suffix("/api") {
            Some(root) => format!("{root}/api/chat"),
            None => format!("{base}/api/chat"),
        }
    }

    fn headers(&self, key: Option<&str>) -> Result<HeaderMap, ProviderError> {
        // Ollama itself takes no key; a proxy in front of it may want a bearer token.
        bearer_headers(key)
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let p = &req.params;
        let mut options = Map::new();
        if let Some(t) = p.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if let Some(t) = p.top_p {
            options.insert("top_p".into(), json!(t));
        }
        if let Some(n) = p.max_tokens {
            options.insert("num_predict".into(), json!(n));
        }
        if let Some(s) = p.seed {
            options.insert("seed".into(), json!(s));
        }
        if !p.stop.is_empty() {
            options.insert("stop".into(), json!(p.stop));
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(req.model));
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(stream));
        if !options.is_empty() {
            body.insert("options".into(), Value::Object(options));
        }
        if let Some(schema) = &req.response_format {
            // Ollama takes the JSON Schema itself as `format`.
            body.insert("format".into(), schema.clone());
        }
        Value::Object(body)
    }

    fn decoder(&self, _stream: bool) -> Box<dyn Decoder> {
        // A whole response is one line of the same shape as the last streamed one.
        Box::new(NdjsonDecoder::default())
    }
}

#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    message: Option<LineMessage>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct LineMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Default)]
struct NdjsonDecoder {
    lines: Lines,
    done: bool,
}

impl NdjsonDecoder {
    fn on_line(&mut self, line: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.done || line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let v: Value = parse_json(line)?;
        if let Some(e) = in_band_error(&v) {
            return Err(e);
        }
        let l: Line = serde_json::from_value(v).map_err(|e| ProviderError::decode(e, line))?;
        if let Some(text) = l.message.and_then(|m| m.content)
            && !text.is_empty()
        {
            out.push(StreamEvent::Delta(text));
        }
        if l.done {
            self.done = true;
            out.push(StreamEvent::Finish(l.done_reason));
            if let (Some(input), Some(output)) = (l.prompt_eval_count, l.eval_count) {
                out.push(StreamEvent::Usage {
                    input_tokens: input,
                    output_tokens: output,
                });
            }
        }
        Ok(())
    }
}

impl Decoder for NdjsonDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut lines = Vec::new();
        self.lines.feed(chunk, |l| {
            lines.push(l.to_vec());
            Ok(())
        })?;
        for l in lines {
            self.on_line(&l, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        // A last line without its newline is whole if it parses (a plain response has
        // none); a cut one fails to parse and then the stream was cut, not malformed.
        let rest = self.lines.pending().to_vec();
        if !self.done && !rest.is_empty() {
            if serde_json::from_slice::<Value>(&rest).is_ok() {
                self.on_line(&rest, out)?;
            } else {
                return Err(ProviderError::StreamCut {
                    reason: "the body ended inside a line".into(),
                });
            }
        }
        if self.done {
            Ok(())
        } else {
            Err(ProviderError::StreamCut {
                reason: "the body ended before the line with `\"done\": true`".into(),
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

    fn events(body: &str) -> Result<Vec<StreamEvent>, ProviderError> {
        let mut d = Ollama.decoder(true);
        let mut out = Vec::new();
        d.feed(body.as_bytes(), &mut out)?;
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lines_and_usage() {
        let body = concat!(
            "{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n",
            "{\"message\":{\"role\":\"assistant\",\"content\":\"lo \"},\"done\":false}\n",
            "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":9,\"eval_count\":2}",
        );
        assert_eq!(
            events(body).expect("complete"),
            vec![
                StreamEvent::Delta("Hel".into()),
                StreamEvent::Delta("lo ".into()),
                StreamEvent::Finish(Some("stop".into())),
                StreamEvent::Usage {
                    input_tokens: 9,
                    output_tokens: 2
                },
            ]
        );
        assert!(matches!(
            events("{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"mess"),
            Err(ProviderError::StreamCut { .. })
        ));
        assert!(matches!(
            events("{\"error\":\"model 'x' not found\"}\n"),
            Err(ProviderError::Api { .. })
        ));
    }

    #[test]
    fn url_forms() {
        assert_eq!(Ollama.url("http://h:11434"), "http://h:11434/api/chat");
        assert_eq!(Ollama.url("http://h:11434/api"), "http://h:11434/api/chat");
    }
}
