//! `loupe serve` under load, with the real binary and an SSH client library as the driver:
//!
//! - 16 sessions at once on the workbench, each pressing a navigation key (Down, Up, ...)
//!   10 times a second for 60 s: key-to-frame latency (from sending the key to the first
//!   bytes of the frame that answers it) at p50/p95/max, bytes sent per key, and the
//!   server's peak RSS (targets: p95 < 50 ms, < 4 KB per key, < 100 MB);
//! - then 50 idle connected sessions: the server's CPU over 10 s (target < 2% of a core).
//!
//! Run: `cargo bench --bench serve`. Under `cargo test --benches` it runs a tiny real case
//! (2 sessions for 2 s, 5 idle for 2 s) and prints the same figures.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::ChannelMsg;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};

const PORT: u16 = 22208;

struct Driver;

impl russh::client::Handler for Driver {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

struct Conn {
    _handle: russh::client::Handle<Driver>,
    channel: russh::Channel<russh::client::Msg>,
}

async fn connect(key: Arc<PrivateKey>) -> Conn {
    let config = Arc::new(russh::client::Config::default());
    let mut handle = russh::client::connect(config, ("127.0.0.1", PORT), Driver)
        .await
        .unwrap();
    let auth = handle
        .authenticate_publickey("bench", PrivateKeyWithHashAlg::new(key, None))
        .await
        .unwrap();
    assert!(auth.success());
    let channel = handle.channel_open_session().await.unwrap();
    channel
        .request_pty(false, "xterm-256color", 100, 30, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(false).await.unwrap();
    let mut conn = Conn {
        _handle: handle,
        channel,
    };
    // The first frames: wait until the screen is drawn and quiet.
    drain(&mut conn.channel, Duration::from_millis(400)).await;
    conn
}

/// Reads until nothing came for `quiet`; returns the bytes read.
async fn drain(channel: &mut russh::Channel<russh::client::Msg>, quiet: Duration) -> usize {
    let mut n = 0;
    while let Ok(Some(msg)) = tokio::time::timeout(quiet, channel.wait()).await {
        if let ChannelMsg::Data { data } = msg {
            n += data.len();
        }
    }
    n
}

/// One session pressing a key every 100 ms for `secs`: (latencies, bytes, keys).
async fn press(mut conn: Conn, secs: u64) -> (Vec<Duration>, usize, usize) {
    const KEYS: [&[u8]; 4] = [b"\x1b[B", b"\x1b[B", b"\x1b[A", b"\x1b[A"];
    let end = Instant::now() + Duration::from_secs(secs);
    let mut latencies = Vec::new();
    let (mut bytes, mut keys) = (0, 0);
    while Instant::now() < end {
        let sent = Instant::now();
        let next = sent + Duration::from_millis(100);
        conn.channel.data(KEYS[keys % 4]).await.unwrap();
        keys += 1;
        let mut first = None;
        loop {
            let left = next.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, conn.channel.wait()).await {
                Ok(Some(ChannelMsg::Data { data })) => {
                    first.get_or_insert_with(|| sent.elapsed());
                    bytes += data.len();
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the server closed a session"),
                Err(_) => break,
            }
        }
        latencies.push(first.unwrap_or(Duration::from_millis(100)));
    }
    (latencies, bytes, keys)
}

fn proc_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The process's user + system CPU time, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

fn start_server(dir: &Path, public: &str) -> Child {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        dir.join("users.yaml"),
        format!("users:\n  - {{ name: olu, role: owner, keys: [\"{public}\"] }}\n"),
    )
    .unwrap();
    let log = dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(dir.join("store"))
        .arg("serve")
        .arg(root.join("sessions").join("demo.yaml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{PORT}"))
        .arg("--users")
        .arg(dir.join("users.yaml"))
        .arg("--host-key")
        .arg(dir.join("host_key"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("connect with")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (sessions, secs, idle, idle_secs) = if full { (16, 60, 50, 10) } else { (2, 2, 5, 2) };
    let dir = tempfile::tempdir().unwrap();
    let seed: [u8; 32] = rand::random();
    let key = PrivateKey::new(
        KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)),
        "bench",
    )
    .unwrap();
    let public = key.public_key().to_openssh().unwrap();
    let key = Arc::new(key);
    let mut server = start_server(dir.path(), &public);
    let pid = server.id();
    let rt = tokio::runtime::Runtime::new().unwrap();

    let (mut latencies, bytes, keys) = rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..sessions {
            conns.push(connect(key.clone()).await);
        }
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|c| tokio::spawn(press(c, secs)))
            .collect();
        let (mut all, mut bytes, mut keys) = (Vec::new(), 0, 0);
        for t in tasks {
            let (l, b, k) = t.await.unwrap();
            all.extend(l);
            bytes += b;
            keys += k;
        }
        (all, bytes, keys)
    });
    let rss_mb = proc_field(pid, "VmHWM:") as f64 / 1024.0;
    latencies.sort();
    println!(
        "serve: {sessions} sessions x {secs} s, a navigation key every 100 ms: {keys} keys, key to frame p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; {:.0} bytes per key; server peak RSS {rss_mb:.1} MB",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        bytes as f64 / keys as f64,
    );

    let (ticks, idle_rss) = rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..idle {
            conns.push(connect(key.clone()).await);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = cpu_ticks(pid);
        tokio::time::sleep(Duration::from_secs(idle_secs)).await;
        let ticks = cpu_ticks(pid) - before;
        let rss = proc_field(pid, "VmRSS:") as f64 / 1024.0;
        drop(conns);
        (ticks, rss)
    });
    let cpu = ticks as f64 / clock_ticks() as f64 / idle_secs as f64 * 100.0;
    println!(
        "serve: {idle} idle sessions for {idle_secs} s: server CPU {cpu:.2}% of one core; RSS {idle_rss:.1} MB"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();
}
