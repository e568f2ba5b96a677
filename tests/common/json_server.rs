//! A loopback HTTP server that answers JSON POSTs with a function of the path and body,
//! one request per connection (`Connection: close`). For faults and behaviours a real
//! server will not produce on demand: a `/v1/rerank` endpoint, a model that reads its
//! passages, a 404.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// Serves in a thread until the test process ends; returns `http://127.0.0.1:PORT`.
/// `answer(path, body)` gives the status and the JSON body of the response.
pub fn start(
    answer: impl Fn(&str, &serde_json::Value) -> (u16, serde_json::Value) + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { return };
            let mut reader = BufReader::new(sock.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let req = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let (status, out) = answer(&path, &req);
            let out = out.to_string();
            let _ = write!(
                sock,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    url
}

/// A whole (non-streamed) chat completion answering `text`.
pub fn chat_answer(text: &str) -> serde_json::Value {
    serde_json::json!({
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1}
    })
}

/// The content of the last message of a chat request.
pub fn last_user(req: &serde_json::Value) -> String {
    req["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}
