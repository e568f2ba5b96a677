//! An OpenAI-compatible chat server on loopback whose answers a test scripts.
//!
//! `mock_openai.rs` always answers with a small JSON verdict sent whole; the TUI tests need
//! more: chosen text (escape sequences, wide characters, texts that differ), sent as a real
//! stream of SSE events in chunked transfer encoding, slowly when asked, and held after its
//! first chunk until the test releases it, so that a test can see text *while* it streams.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::http::{
    LAST_CHUNK, SSE_HEAD, chunk, delta, in_own_thread, json_ok, last_content, read_request,
    serve_each, stop, usage,
};

/// What the server was asked: the model and the last system and user messages.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub model: String,
    pub system: String,
    pub user: String,
}

/// How to answer one request.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Sent one SSE event each (or joined, for a non-streaming request).
    pub chunks: Vec<String>,
    /// Pause before each chunk after the first.
    pub delay: Duration,
    /// After the first chunk, wait until [`ScriptedServer::release`] is called.
    pub hold: bool,
}

impl Reply {
    /// The whole text in `n` roughly equal chunks (split on char boundaries).
    pub fn split(text: &str, n: usize) -> Reply {
        let chars: Vec<char> = text.chars().collect();
        let size = chars.len().div_ceil(n.max(1)).max(1);
        Reply {
            chunks: chars.chunks(size).map(|c| c.iter().collect()).collect(),
            ..Reply::default()
        }
    }

    #[must_use]
    pub fn held(mut self) -> Reply {
        self.hold = true;
        self
    }

    #[must_use]
    pub fn every(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

pub type Script = Arc<dyn Fn(&Asked) -> Reply + Send + Sync>;

pub struct ScriptedServer {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    release: Arc<watch::Sender<bool>>,
}

impl ScriptedServer {
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Lets every held reply (now and later) finish.
    pub fn release(&self) {
        let _ = self.release.send(true);
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Starts the server on the current tokio runtime.
pub async fn start(script: Script) -> ScriptedServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let (release, _) = watch::channel(false);
    let release = Arc::new(release);
    let (n, rel) = (requests.clone(), release.clone());
    serve_each(listener, move |sock| {
        serve(sock, script.clone(), n.clone(), rel.subscribe())
    });
    ScriptedServer {
        addr,
        requests,
        release,
    }
}

/// Starts the server on a runtime of its own thread (for benches that own their runtime).
pub fn start_in_thread(script: Script) -> ScriptedServer {
    in_own_thread(move || start(script))
}

async fn serve(
    sock: TcpStream,
    script: Script,
    requests: Arc<AtomicUsize>,
    mut release: watch::Receiver<bool>,
) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(body) = read_request(&mut rd).await {
        requests.fetch_add(1, Ordering::SeqCst);
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let asked = Asked {
            model: req["model"].as_str().unwrap_or("").to_owned(),
            system: last_content(&req, "system"),
            user: last_content(&req, "user"),
        };
        let reply = script(&asked);
        let text: String = reply.chunks.concat();
        let (in_tok, out_tok) = (body.len() / 4, text.len().div_ceil(4));
        if req["stream"].as_bool() != Some(true) {
            let json = serde_json::json!({
                "id": "scripted", "object": "chat.completion", "model": asked.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": in_tok, "completion_tokens": out_tok}
            })
            .to_string();
            if wr.write_all(json_ok(&json).as_bytes()).await.is_err() {
                return;
            }
            continue;
        }
        if wr.write_all(SSE_HEAD.as_bytes()).await.is_err() {
            return;
        }
        for (i, piece) in reply.chunks.iter().enumerate() {
            if i > 0 {
                if reply.hold {
                    let _ = release.wait_for(|open| *open).await;
                }
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
            }
            if send_chunk(&mut wr, &format!("data: {}\n\n", delta(piece)))
                .await
                .is_err()
            {
                return;
            }
        }
        let (fin, usage) = (stop(), usage(in_tok, out_tok));
        let tail = format!("data: {fin}\n\ndata: {usage}\n\ndata: [DONE]\n\n");
        if send_chunk(&mut wr, &tail).await.is_err()
            || wr.write_all(LAST_CHUNK.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

async fn send_chunk(wr: &mut tokio::net::tcp::OwnedWriteHalf, data: &str) -> std::io::Result<()> {
    wr.write_all(chunk(data).as_bytes()).await?;
    wr.flush().await
}
