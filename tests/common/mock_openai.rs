//! A fast OpenAI-compatible chat server on loopback for tests and benchmarks.
//!
//! Hand-written HTTP/1.1 with keep-alive (no framework) so that it costs next to nothing
//! per request and its latency is exactly the configured one. It answers every chat
//! completion with a small JSON verdict, plain or as SSE, and counts requests by the text
//! of the last user message so tests can tell which cells were asked for again.
//!
//! With [`MockState::tokens`] set to n, a streamed answer comes as llama.cpp sends one:
//! chunked transfer encoding, one SSE event per token written on its own, n tokens (the
//! verdict's rationale is lengthened to about four characters a token); a non-streamed
//! answer carries the same text whole. Left at 0, the short verdict comes in two events
//! in one write.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::http::{
    LAST_CHUNK, SSE_HEAD, completion_ok, delta, in_own_thread, last_content, read_request,
    serve_each, sse_chunk, stop, token_pieces, usage,
};

#[derive(Default)]
pub struct MockState {
    pub latency: Mutex<Duration>,
    pub requests: AtomicUsize,
    /// Requests read and not yet answered, and the most there ever were at once.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Tokens per answer, each its own SSE event and write; 0 for the short two-event form.
    pub tokens: AtomicUsize,
    /// Requests seen per last user message.
    pub by_prompt: Mutex<HashMap<String, usize>>,
}

pub type MockServer = super::http::Server<MockState>;

impl MockServer {
    /// Waits until the server has read `n` requests; fails the test if a minute is not
    /// enough (the run never got going).
    pub fn wait_requests(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_mins(1);
        while self.state.requests.load(Ordering::SeqCst) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the run never got going"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Starts the server on the current tokio runtime.
pub async fn start(latency: Duration) -> MockServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(MockState::default());
    *state.latency.lock().unwrap() = latency;
    let st = state.clone();
    serve_each(listener, move |sock| serve(sock, st.clone()));
    MockServer { addr, state }
}

/// Starts the server on a runtime of its own thread (for synchronous tests and benches).
pub fn start_in_thread(latency: Duration) -> MockServer {
    in_own_thread(move || start(latency))
}

async fn serve(sock: TcpStream, state: Arc<MockState>) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(body) = read_request(&mut rd).await {
        // Counted from the request read to the answer written: never longer than the
        // client holds its slot, so a count above the limit is the client's doing.
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let latency = *state.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let response = respond(&state, &body);
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        for part in response {
            if wr.write_all(part.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// The response, as the pieces written one after the other.
fn respond(state: &MockState, body: &[u8]) -> Vec<String> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let prompt = last_content(&req, "user");
    let risk = ["low", "medium", "high"][prompt.len() % 3];
    let tokens = state.tokens.load(Ordering::Relaxed);
    let mut rationale = format!("Mock answer of {} chars.", prompt.len());
    while rationale.len() + 50 < 4 * tokens {
        rationale.push_str(" More words.");
    }
    let text =
        format!(r#"{{"title":"Mock assessment","risk":"{risk}","rationale":"{rationale}"}}"#);
    *state.by_prompt.lock().unwrap().entry(prompt).or_default() += 1;
    let (in_tok, out_tok) = (20 + body.len() / 4, text.len() / 4);
    let streamed = req["stream"].as_bool() == Some(true);
    if streamed && tokens > 0 {
        let mut parts = vec![SSE_HEAD.to_string()];
        for piece in token_pieces(&text, tokens) {
            parts.push(sse_chunk(&delta(&piece).to_string()));
        }
        parts.push(sse_chunk(&stop().to_string()));
        parts.push(format!(
            "{}{}{LAST_CHUNK}",
            sse_chunk(&usage(in_tok, tokens).to_string()),
            sse_chunk("[DONE]")
        ));
        return parts;
    }
    let response = if streamed {
        let mut sse = String::new();
        let (a, b) = text.split_at(text.len() / 2);
        for piece in [a, b] {
            sse.push_str(&format!("data: {}\n\n", delta(piece)));
        }
        let (fin, usage) = (stop(), usage(in_tok, out_tok));
        sse.push_str(&format!("data: {fin}\n\ndata: {usage}\n\ndata: [DONE]\n\n"));
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{sse}",
            sse.len()
        )
    } else {
        completion_ok(&req["model"], &text, in_tok, out_tok)
    };
    vec![response]
}
