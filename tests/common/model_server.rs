//! Finds the real local model server (llama.cpp with SmolLM2-135M) for every real-model
//! test: `LOUPE_TEST_BASE_URL` when set, else skip loudly under
//! `LOUPE_SKIP_MODEL=1`, else install and start one with `scripts/model.sh` on a free port
//! (it exits by itself when this test process ends).

#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const MODEL: &str = "smollm2-135m";

/// The server's root URL (no `/v1`), or `None` when real-model tests are to be skipped.
pub fn server() -> Option<&'static str> {
    static BASE: OnceLock<Option<String>> = OnceLock::new();
    BASE.get_or_init(find_or_start).as_deref()
}

fn find_or_start() -> Option<String> {
    if let Ok(url) = std::env::var("LOUPE_TEST_BASE_URL") {
        let url = url.trim().trim_end_matches('/');
        return Some(url.strip_suffix("/v1").unwrap_or(url).to_owned());
    }
    if std::env::var("LOUPE_SKIP_MODEL").as_deref() == Ok("1") {
        return None;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/scripts/model.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg("install")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .expect("run scripts/model.sh install");
    assert!(
        status.success(),
        "scripts/model.sh install failed (see above)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .arg(port.to_string())
        .env("LOUPE_MODEL_WATCH_PID", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/model.sh start");
    assert!(
        out.status.success(),
        "scripts/model.sh start {port} failed (see above); set LOUPE_TEST_BASE_URL to use a \
         running server or LOUPE_SKIP_MODEL=1 to skip"
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(url.starts_with("http://"), "model.sh printed {url:?}");
    Some(url)
}

/// Prints why a test checked nothing, where nobody can miss it.
pub fn skip_note(test: &str) {
    eprintln!(
        "\n!!! LOUPE_SKIP_MODEL=1: SKIPPING {test}; nothing here was checked against the real \
         model !!!\n"
    );
}
