//! An OpenAI-compatible chat server on loopback that streams like llama.cpp (chunked SSE,
//! one event per token, written one by one with a pause between) and can go away and come
//! back on the same port on demand: `stop` closes the listener (new connections are
//! refused) and cuts every connection, streams in flight included; `start` listens again.
//! A real server does not fail on cue, which is what the outage tests need.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use super::http::{
    LAST_CHUNK, SSE_HEAD, delta, in_own_thread, read_request, sse_chunk, stop, token_pieces, usage,
};

pub struct OutageServer {
    pub addr: SocketAddr,
    runtime: tokio::runtime::Handle,
    /// The accept loop and every connection's task, while up.
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// Answers written in full.
    pub answered: Arc<AtomicUsize>,
    tokens: usize,
    token_gap: Duration,
}

impl OutageServer {
    /// Starts on a port of its own (on a runtime of its own thread), answering every chat
    /// request with `tokens` tokens `token_gap` apart.
    pub fn start(tokens: usize, token_gap: Duration) -> Self {
        let runtime = in_own_thread(|| async { tokio::runtime::Handle::current() });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Self {
            addr: listener.local_addr().unwrap(),
            runtime,
            tasks: Arc::default(),
            answered: Arc::default(),
            tokens: tokens.max(1),
            token_gap,
        };
        server.listen(listener);
        server
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server goes away: the port refuses connections and every open connection is
    /// cut, mid-answer or not.
    pub fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        // The listener is dropped with its task, on the server's thread: wait until the
        // port refuses.
        for _ in 0..200 {
            if std::net::TcpStream::connect(self.addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the port still accepts connections");
    }

    /// The server comes back on the same port.
    pub fn start_again(&self) {
        let listener = std::net::TcpListener::bind(self.addr).unwrap();
        self.listen(listener);
    }

    fn listen(&self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let tasks = self.tasks.clone();
        let (answered, tokens, gap) = (self.answered.clone(), self.tokens, self.token_gap);
        let runtime = self.runtime.clone();
        let accept = self.runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            while let Ok((sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                let conn = runtime.spawn(serve(sock, answered.clone(), tokens, gap));
                tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

impl Drop for OutageServer {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

async fn serve(sock: TcpStream, answered: Arc<AtomicUsize>, tokens: usize, gap: Duration) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(body) = read_request(&mut rd).await {
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let prompt = req["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned();
        if wr.write_all(SSE_HEAD.as_bytes()).await.is_err() {
            return;
        }
        let text = format!("Answer to {prompt}");
        for piece in token_pieces(&text, tokens) {
            if wr
                .write_all(sse_chunk(&delta(&piece).to_string()).as_bytes())
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(gap).await;
        }
        let tail = format!(
            "{}{}{}{LAST_CHUNK}",
            sse_chunk(&stop().to_string()),
            sse_chunk(&usage(10, tokens).to_string()),
            sse_chunk("[DONE]")
        );
        if wr.write_all(tail.as_bytes()).await.is_err() {
            return;
        }
        answered.fetch_add(1, Ordering::SeqCst);
    }
}
