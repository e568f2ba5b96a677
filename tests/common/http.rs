//! The pieces every hand-written OpenAI-compatible test server shares: reading a request off
//! a keep-alive connection, the chat request's messages, and the response as llama.cpp
//! frames it (a whole JSON completion, or SSE events in chunked transfer encoding).
//!
//! The benches include this file beside `mock_openai.rs` and `mock_script.rs`, so it
//! depends on nothing else in `common`.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback port nothing listens on: the system's pick, let go at once (for a server
/// to start on, or for a refused connection).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test server listening at `addr` on loopback, with the `state` its answers keep.
pub struct Server<S> {
    pub addr: SocketAddr,
    pub state: Arc<S>,
}

impl<S> Server<S> {
    /// The OpenAI-compatible base URL a session names it by.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// The head of a streamed answer: SSE in chunked transfer encoding.
pub const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// The end of a chunked body.
pub const LAST_CHUNK: &str = "0\r\n\r\n";

/// Runs `start` on a one-worker tokio runtime in a thread of its own, which keeps running
/// (serving whatever `start` spawned) until the process ends; returns what `start` gave.
pub fn in_own_thread<T, F>(start: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tx.send(start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

/// Accepts connections on `listener` for as long as the current runtime runs, each with
/// Nagle's delay off and handed to `serve` in a task of its own.
pub fn serve_each<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock));
        }
    });
}

/// Reads one HTTP/1.1 request off a keep-alive connection and returns its body; `None`
/// when the connection is closed or broken.
pub async fn read_request<R: AsyncBufReadExt + AsyncReadExt + Unpin>(
    rd: &mut R,
) -> Option<Vec<u8>> {
    let mut request_line = String::new();
    if rd.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return None;
    }
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    rd.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// The content of the last message of chat request `req` whose role is `role`; empty when
/// there is none.
pub fn last_content(req: &Value, role: &str) -> String {
    req["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == role))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// A whole answer: HTTP 200 with `json` as its body.
pub fn json_ok(json: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    )
}

/// A whole (non-streamed) chat completion by `model` answering `text`, with its token
/// counts, as an HTTP 200 answer.
pub fn completion_ok(
    model: &Value,
    text: &str,
    prompt_tokens: usize,
    completion_tokens: usize,
) -> String {
    let json = json!({
        "id": "mock", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
    });
    json_ok(&json.to_string())
}

/// `data` as one chunk of a chunked body.
pub fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// One SSE event carrying `data`, as one chunk of a chunked body.
pub fn sse_chunk(data: &str) -> String {
    chunk(&format!("data: {data}\n\n"))
}

/// The streamed event that adds `piece` to the answer.
pub fn delta(piece: &str) -> Value {
    json!({"choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]})
}

/// The streamed event that ends the answer.
pub fn stop() -> Value {
    json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})
}

/// The streamed event that reports the tokens used, after the answer.
pub fn usage(prompt_tokens: usize, completion_tokens: usize) -> Value {
    json!({"choices":[],"usage":{"prompt_tokens":prompt_tokens,"completion_tokens":completion_tokens}})
}

/// `text` cut into `n` pieces of about equal length (on character boundaries), one a token.
pub fn token_pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..n)
        .map(|i| {
            chars[i * chars.len() / n..(i + 1) * chars.len() / n]
                .iter()
                .collect()
        })
        .collect()
}
