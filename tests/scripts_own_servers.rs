//! scripts/demo.sh and scripts/test.sh start the local servers they need through
//! `start_own` (scripts/lib/own-servers.sh) and, at exit, stop only the ones they started:
//! a server already running on its port (an earlier demo's, another test run's in the same
//! checkout) is used and left running. Their EXIT traps used to stop whatever served on
//! their ports, which once took the embedding server from under another engineer's tests.
//! Checked here with the real embedding server, started and probed through scripts/embed.sh.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

use common::cli::text;
use common::http::free_port;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `scripts/embed.sh ARGS`; any server it starts exits with this test process.
fn embed(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(format!("{ROOT}/scripts/embed.sh"))
        .args(args)
        .env("LOUPE_EMBED_WATCH_PID", std::process::id().to_string())
        .env_remove("LOUPE_EMBED_PORT")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Stops the server on a port when the test ends, passed or not.
struct Stop(u16);

impl Drop for Stop {
    fn drop(&mut self) {
        embed(&["stop", &self.0.to_string()]);
    }
}

/// What demo.sh and test.sh do with their servers, then a failure: the EXIT trap runs
/// and the script's own exit status (3) stays.
const SCRIPT: &str = r#"
set -euo pipefail
cd "$ROOT"
. scripts/lib/own-servers.sh
trap stop_own EXIT
start_own scripts/embed.sh "$1" >/dev/null
start_own scripts/embed.sh "$2" >/dev/null
scripts/embed.sh status "$1" >/dev/null
scripts/embed.sh status "$2" >/dev/null
exit 3
"#;

#[test]
fn a_script_stops_the_servers_it_started_and_leaves_running_the_ones_it_found() {
    if std::env::var("LOUPE_SKIP_MODEL").as_deref() == Ok("1") {
        common::model_server::skip_note("the own-servers test of scripts/lib/own-servers.sh");
        return;
    }
    let o = embed(&["install"]);
    assert!(o.status.success(), "embed.sh install: {}", text(&o.stderr));

    // Somebody else's server, already running when the script starts.
    let theirs = free_port();
    let o = embed(&["start", &theirs.to_string()]);
    assert!(o.status.success(), "embed.sh start: {}", text(&o.stderr));
    let _stop_theirs = Stop(theirs);
    // A port nothing serves on: the script starts its own there.
    let ours = free_port();
    let _stop_ours = Stop(ours);

    let o = Command::new("bash")
        .args(["-c", SCRIPT, "script"])
        .args([theirs.to_string(), ours.to_string()])
        .env("ROOT", ROOT)
        .env("LOUPE_EMBED_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(3),
        "the script's exit status: {stderr}"
    );
    assert!(
        stderr.contains(&format!("already serving on http://127.0.0.1:{theirs}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("stopped the server on port {ours}")),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&format!("stopped the server on port {theirs}")),
        "{stderr}"
    );

    // Theirs still serves and answers its health check.
    let o = embed(&["status", &theirs.to_string()]);
    assert!(
        o.status.success(),
        "the server that was already running was stopped: {}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains("health 200"),
        "{}",
        text(&o.stdout)
    );
    // Ours is gone: no pidfile, nothing listening.
    let o = embed(&["status", &ours.to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(TcpStream::connect(("127.0.0.1", ours)).is_err());
}
