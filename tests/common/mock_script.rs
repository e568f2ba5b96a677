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

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

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
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock, script.clone(), n.clone(), rel.subscribe()));
        }
    });
    ScriptedServer {
        addr,
        requests,
        release,
    }
}

/// Starts the server on a runtime of its own thread (for benches that own their runtime).
pub fn start_in_thread(script: Script) -> ScriptedServer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tx.send(start(script).await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

async fn serve(
    sock: TcpStream,
    script: Script,
    requests: Arc<AtomicUsize>,
    mut release: watch::Receiver<bool>,
) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut request_line = String::new();
        if rd.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
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
        if rd.read_exact(&mut body).await.is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let last = |role: &str| {
            req["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|m| m["role"] == role))
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_owned()
        };
        let asked = Asked {
            model: req["model"].as_str().unwrap_or("").to_owned(),
            system: last("system"),
            user: last("user"),
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
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                json.len()
            );
            if wr
                .write_all(format!("{head}{json}").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        if wr.write_all(head.as_bytes()).await.is_err() {
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
            let event = serde_json::json!({"choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]});
            if send_chunk(&mut wr, &format!("data: {event}\n\n"))
                .await
                .is_err()
            {
                return;
            }
        }
        let fin = serde_json::json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
        let usage = serde_json::json!({"choices":[],"usage":{"prompt_tokens":in_tok,"completion_tokens":out_tok}});
        let tail = format!("data: {fin}\n\ndata: {usage}\n\ndata: [DONE]\n\n");
        if send_chunk(&mut wr, &tail).await.is_err() || wr.write_all(b"0\r\n\r\n").await.is_err() {
            return;
        }
    }
}

async fn send_chunk(wr: &mut tokio::net::tcp::OwnedWriteHalf, data: &str) -> std::io::Result<()> {
    wr.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await?;
    wr.flush().await
}
