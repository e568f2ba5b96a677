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
    local_server("LOUPE_TEST_BASE_URL", "model.sh", "LOUPE_MODEL_WATCH_PID")
}

/// A real local server for the tests: the URL in `url_var` when set, `None` under
/// `LOUPE_SKIP_MODEL=1`, else `scripts/SCRIPT install` then `start PORT` on a free port,
/// told to exit with this test process (`watch_var`). Returns the root URL (no `/v1`).
pub fn local_server(url_var: &str, script: &str, watch_var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(url_var) {
        let url = url.trim().trim_end_matches('/');
        return Some(url.strip_suffix("/v1").unwrap_or(url).to_owned());
    }
    if std::env::var("LOUPE_SKIP_MODEL").as_deref() == Ok("1") {
        return None;
    }
    let path = format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(&path)
        .arg("install")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .unwrap_or_else(|e| panic!("run scripts/{script} install: {e}"));
    assert!(
        status.success(),
        "scripts/{script} install failed (see above)"
    );
    let port = super::http::free_port();
    let out = Command::new("bash")
        .arg(&path)
        .arg("start")
        .arg(port.to_string())
        .env(watch_var, std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script} start: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} start {port} failed (see above); set {url_var} to use a running \
         server or LOUPE_SKIP_MODEL=1 to skip"
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(url.starts_with("http://"), "{script} printed {url:?}");
    Some(url)
}

/// Prints why a test checked nothing, where nobody can miss it.
pub fn skip_note(test: &str) {
    eprintln!(
        "\n!!! LOUPE_SKIP_MODEL=1: SKIPPING {test}; nothing here was checked against the real \
         model !!!\n"
    );
}
