//! A private tmux server for tests that drive the real binary in a real terminal. Its
//! socket lives in a temporary folder of its own (`-S`, not `-L`, which would leave sockets
//! in the system's tmux folder); the server is killed and the socket removed when dropped.
//! Waits poll every 20 ms up to `LOUPE_TEST_WAIT_MS` (default 20000).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn wait_limit() -> Duration {
    let ms = std::env::var("LOUPE_TEST_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    Duration::from_millis(ms)
}

/// Polls `pred` every 20 ms; panics naming `what` after [`wait_limit`].
pub fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(
            start.elapsed() < wait_limit(),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Tmux {
    pub socket: PathBuf,
    /// The server's configuration file.
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

impl Default for Tmux {
    fn default() -> Self {
        Self::new()
    }
}

impl Tmux {
    /// A server with tmux's default settings.
    pub fn new() -> Self {
        Self::with_conf("")
    }

    /// A server started with `conf` as its configuration file.
    pub fn with_conf(conf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf_path = dir.path().join("tmux.conf");
        std::fs::write(&conf_path, conf).unwrap();
        Self {
            socket: dir.path().join("tmux.sock"),
            conf: conf_path,
            _dir: dir,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("-f")
            .arg(&self.conf)
            .args(args)
            .output()
            .unwrap()
    }

    /// `format` (`#{pane_pid}`, `#{cursor_flag}`, ...) as tmux expands it for pane `name`.
    pub fn display(&self, name: &str, format: &str) -> String {
        let out = self.cmd(&["display-message", "-p", "-t", name, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Starts `line` (a shell command, exec'd, so the pane's pid is the program's) in a new
    /// `width`x`height` session kept after the program ends (to read what it left on
    /// screen); returns the pid.
    pub fn start(&self, name: &str, width: u16, height: u16, line: &str) -> u32 {
        let line = format!("exec {line}");
        let (w, h) = (width.to_string(), height.to_string());
        let mut out = self.cmd(&["new-session", "-d", "-s", name, "-x", &w, "-y", &h, &line]);
        // Killing a server's last session makes it exit; a session started just then meets
        // the exiting server ("server exited unexpectedly"). Once it is gone, start again.
        for _ in 0..20 {
            if out.status.success()
                || !String::from_utf8_lossy(&out.stderr).contains("server exited unexpectedly")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            out = self.cmd(&["new-session", "-d", "-s", name, "-x", &w, "-y", &h, &line]);
        }
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.cmd(&["set-option", "-t", name, "remain-on-exit", "on"]);
        self.display(name, "#{pane_pid}").parse().unwrap()
    }

    pub fn capture(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", name]).stdout).into_owned()
    }

    /// The screen of pane `name` with its colours and attributes as escape sequences.
    pub fn capture_styled(&self, name: &str) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-e", "-t", name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` literally.
    pub fn send(&self, name: &str, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", name, "-l", text])
                .status
                .success()
        );
    }

    /// One key by its tmux name (`Enter`, `Escape`, `C-s`).
    pub fn send_key(&self, name: &str, key: &str) {
        assert!(self.cmd(&["send-keys", "-t", name, key]).status.success());
    }

    /// Waits until the screen satisfies `pred` and is the same on two captures in a row (a
    /// frame can be caught half written).
    pub fn wait_for(&self, name: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let screen = self.capture(name);
            if pred(&screen) && screen == last {
                return screen;
            }
            last.clone_from(&screen);
            assert!(
                start.elapsed() < wait_limit(),
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the program in the pane has ended.
    pub fn dead(&self, name: &str) -> bool {
        self.display(name, "#{pane_dead}") == "1"
    }

    pub fn wait_dead(&self, name: &str) {
        wait_until(&format!("{name} to end"), || self.dead(name));
    }

    /// Kills the program in pane `name` with SIGKILL (`pid` as [`Tmux::start`] gave it), as
    /// a crash or a lost connection would end it, and waits until the pane is dead.
    pub fn kill9(&self, name: &str, pid: u32) {
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -KILL {pid}");
        self.wait_dead(name);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `argv` as one shell line, each argument single-quoted (for [`Tmux::start`]).
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens a store a killed process held, retrying while the kernel lets go of its lock.
pub fn open_after_kill(dir: &Path) -> loupe::store::Store {
    let start = Instant::now();
    loop {
        match loupe::store::Store::open(dir) {
            Ok(s) => return s,
            Err(loupe::store::StoreError::Locked { .. }) if start.elapsed() < wait_limit() => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
