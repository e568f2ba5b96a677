//! `loupe serve` with the real OpenSSH client in real terminals (tmux): raters rate over
//! SSH and the owner sees it, everything but Loupe is refused while a session keeps
//! working, two raters at once lose and double nothing, a killed client loses nothing
//! acknowledged, SIGTERM restores every client's terminal, one rater's ratings move
//! another's adaptive queue on when they settle the pair on screen, and the bytes a real
//! terminal sends for keys parse to the events the local terminal gives.
//!
//! Each test uses its own port in 22201-22209. Waits poll every 20 ms up to
//! `LOUPE_TEST_WAIT_MS` (default 20000).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::{Tmux, wait_limit, wait_until};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use loupe::ssh::input::KeyParser;
use loupe::store::Store;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

/// A server with its users and keys, killed when dropped.
struct Served {
    dir: PathBuf,
    port: u16,
    session: PathBuf,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// More `loupe serve` options.
    extra: Vec<String>,
}

fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!("{name}@test"))
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen: {out:?}");
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

impl Served {
    /// A session of `cases` cases with a complete run and `k` raters per comparison, raters
    /// ana and bo, owner olu (and a key `stranger` nobody listed), served on `port`.
    fn start(dir: &Path, port: u16, cases: usize, k: u32) -> Self {
        Self::start_with(dir, port, cases, k, |_, _| {})
    }

    /// As `start`, with `prepare` changing the session file and the store (given their
    /// paths) before the server opens them.
    fn start_with(
        dir: &Path,
        port: u16,
        cases: usize,
        k: u32,
        prepare: impl FnOnce(&Path, &Path),
    ) -> Self {
        let (session, store) = common::rating::setup(dir, cases, k, &[]);
        prepare(&session, &store);
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let ana = keygen(&keys, "ana");
        let bo = keygen(&keys, "bo");
        let olu = keygen(&keys, "olu");
        keygen(&keys, "stranger");
        let users = dir.join("users.yaml");
        std::fs::write(
            &users,
            format!(
                "users:\n  - {{ name: ana, role: rater, keys: [\"{ana}\"] }}\n  - {{ name: bo, role: rater, keys: [\"{bo}\"] }}\n  - {{ name: olu, role: owner, keys: [\"{olu}\"] }}\n"
            ),
        )
        .unwrap();
        let log = dir.join("server.log");
        let mut served = Self {
            dir: dir.to_owned(),
            port,
            session,
            store,
            log,
            child: None,
            extra: Vec::new(),
        };
        served.launch();
        served
    }

    fn launch(&mut self) {
        let child = Command::new(LOUPE)
            .arg("--store")
            .arg(&self.store)
            .arg("serve")
            .arg(&self.session)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--users")
            .arg(self.dir.join("users.yaml"))
            .arg("--host-key")
            .arg(self.dir.join("host_key"))
            .args(["--keepalive", "2s"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.log).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_log("the server to listen", "connect with");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, what: &str, text: &str) {
        wait_until(what, || self.log().contains(text));
    }

    /// The ssh command line for `who` with `key`, and extra options before the host.
    fn ssh(&self, key: &str, who: &str, extra: &str) -> String {
        format!(
            "ssh -F /dev/null -tt -i {} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
             -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} -p {} {extra} {who}@127.0.0.1",
            self.dir.join("keys").join(key).display(),
            self.dir.join("known_hosts").display(),
            self.port
        )
    }

    /// Runs ssh to the end (not in a terminal) and returns (exit code, stderr).
    fn ssh_once(&self, key: &str, who: &str, extra: &str, command: &str) -> (i32, String) {
        let line = format!("{} {command}", self.ssh(key, who, extra)).replace("-tt ", "-T ");
        let out = Command::new("sh")
            .args(["-c", &line])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// SIGTERM, then wait for the process to end.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let start = Instant::now();
            while child.try_wait().unwrap().is_none() {
                assert!(start.elapsed() < wait_limit(), "the server did not stop");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn ratings(&self) -> Vec<loupe::store::RatingRecord> {
        let store = Store::open(&self.store).unwrap();
        store
            .ratings("rate-test")
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// "N/M rated" on a rating screen, as (N, M).
fn progress(screen: &str) -> Option<(usize, usize)> {
    let at = screen.find(" rated")?;
    let head = &screen[..at];
    let word = head.rsplit(|c: char| c.is_whitespace()).next()?;
    let (n, m) = word.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

#[test]
fn a_rater_rates_over_ssh_and_the_owner_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), 22201, 4, 2);
    let log = served.log();
    assert!(log.contains("created host key"), "{log}");
    assert!(log.contains("SHA256:"), "{log}");
    let tmux = Tmux::new();
    // The ssh user name is not who you are: the key is.
    tmux.start("ana", 100, 30, &served.ssh("ana", "whoever", ""));
    tmux.wait_for("ana", "ana's queue", |s| s.contains("0/8 rated"));
    tmux.send("ana", "h");
    tmux.wait_for("ana", "one saved", |s| s.contains("1/8 rated"));
    tmux.send("ana", "l");
    tmux.wait_for("ana", "two saved", |s| {
        s.contains("2/8 rated") && s.contains("saved")
    });
    tmux.send("ana", "q");
    tmux.wait_dead("ana");
    // The terminal is back: the main screen, with ssh's goodbye.
    let after = tmux.capture("ana");
    assert!(!after.contains("rated"), "{after}");
    served.wait_log("ana's disconnection", "ana (rater) from 127.0.0.1");
    assert!(
        served.log().contains("ana (rater) logged in"),
        "{}",
        served.log()
    );

    tmux.start("olu", 100, 30, &served.ssh("olu", "olu", ""));
    tmux.wait_for("olu", "the workbench", |s| s.contains("Templates"));
    tmux.send("olu", "5");
    let screen = tmux.wait_for("olu", "the owner's view", |s| s.contains("2 ratings"));
    assert!(screen.contains("ana"), "{screen}");
    tmux.send("olu", "q");
    tmux.wait_dead("olu");
    // Local use while the server holds the store: told so, and how to connect.
    for args in [
        vec!["rate", served.session.to_str().unwrap(), "--rater", "ana"],
        vec![served.session.to_str().unwrap()],
    ] {
        let out = Command::new(LOUPE)
            .arg("--store")
            .arg(&served.store)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("is served by `loupe serve`"), "{err}");
        assert!(
            err.contains("connect with `ssh -p 22201 127.0.0.1`"),
            "{err}"
        );
    }
    served.stop();
    let ratings = served.ratings();
    assert_eq!(ratings.len(), 2);
    assert!(ratings.iter().all(|r| r.rater == "ana"));
}

#[test]
fn everything_but_loupe_is_refused_while_a_session_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), 22202, 4, 2);
    let tmux = Tmux::new();
    tmux.start("ana", 100, 30, &served.ssh("ana", "ana", ""));
    tmux.wait_for("ana", "ana's queue", |s| s.contains("0/8 rated"));

    // A key nobody listed.
    let (code, err) = served.ssh_once("stranger", "ana", "", "");
    assert_eq!(code, 255, "{err}");
    assert!(err.contains("Permission denied (publickey)"), "{err}");
    served.wait_log("the unknown key", "refused unknown key SHA256:");
    // A password: not even offered.
    let (code, err) = served.ssh_once(
        "ana",
        "ana",
        "-o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive",
        "",
    );
    assert_eq!(code, 255, "{err}");
    assert!(err.contains("Permission denied (publickey)"), "{err}");
    served.wait_log("the keyless login", "no accepted public key");
    // A command.
    let (code, err) = served.ssh_once("ana", "ana", "", "cat /etc/passwd");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("exec request failed"), "{err}");
    served.wait_log("the exec", "refused exec of \"cat /etc/passwd\"");
    // sftp.
    let (code, err) = served.ssh_once("ana", "ana", "-s", "sftp");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("subsystem request failed"), "{err}");
    served.wait_log("the subsystem", "refused subsystem \"sftp\"");
    // A shell without a terminal.
    let (code, err) = served.ssh_once("olu", "olu", "", "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    // Local port forwarding: the tunnel is set up by the client, refused on first use.
    let forward = format!(
        "{} -N -L 22209:127.0.0.1:{}",
        served.ssh("olu", "olu", "").replace("-tt ", "-T "),
        served.port
    );
    let mut tunnel = Command::new("sh")
        .args(["-c", &format!("exec {forward}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the tunnel to listen", || {
        std::net::TcpStream::connect("127.0.0.1:22209").is_ok()
    });
    served.wait_log(
        "the forwarding",
        "refused port forwarding to 127.0.0.1:22202",
    );
    let _ = tunnel.kill();
    let _ = tunnel.wait();

    // Ana's session went on the whole time.
    tmux.send("ana", "h");
    tmux.wait_for("ana", "a rating after the refusals", |s| {
        s.contains("1/8 rated") && s.contains("saved")
    });
    // SIGTERM: ana's terminal is restored and told why.
    served.stop();
    tmux.wait_dead("ana");
    let screen = tmux.capture("ana");
    assert!(screen.contains("loupe serve is shutting down"), "{screen}");
    assert!(!screen.contains("rated"), "{screen}");
    assert_eq!(served.ratings().len(), 1);
}

#[test]
fn two_raters_at_once_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // k = 1: every comparison goes to exactly one of them, whoever opens first.
    let mut served = Served::start(dir.path(), 22203, 5, 1);
    let tmux = Tmux::new();
    tmux.start("ana", 100, 30, &served.ssh("ana", "ana", ""));
    tmux.start("bo", 100, 30, &served.ssh("bo", "bo", ""));
    let mut totals = HashMap::new();
    for who in ["ana", "bo"] {
        let screen = tmux.wait_for(who, "a queue", |s| {
            progress(s).is_some() || s.contains("Nothing is assigned")
        });
        totals.insert(who, progress(&screen).map_or(0, |(_, m)| m));
    }
    assert_eq!(totals["ana"] + totals["bo"], 10, "{totals:?}");
    // Both rate everything they got, keys interleaved between the two terminals.
    let most = totals["ana"].max(totals["bo"]);
    for i in 0..most {
        for who in ["ana", "bo"] {
            if i < totals[who] {
                let want = format!("{i}/{} rated", totals[who]);
                tmux.wait_for(who, &want, |s| s.contains(&want));
                tmux.send(who, if i % 2 == 0 { "h" } else { "t" });
            }
        }
    }
    for who in ["ana", "bo"] {
        if totals[who] > 0 {
            let done = format!("{0}/{0} rated", totals[who]);
            tmux.wait_for(who, &done, |s| s.contains(&done) && s.contains("saved"));
        }
        tmux.send(who, "q");
        tmux.wait_dead(who);
    }
    served.stop();
    let ratings = served.ratings();
    assert_eq!(ratings.len(), 10);
    let mut seen = HashMap::new();
    for r in &ratings {
        *seen.entry(r.comparison.id()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 10, "every comparison rated");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
}

/// The variants whose outputs are on screen (each answers in its own words:
/// `common::rating::output_text`), in the order met reading the screen: left first.
fn variants_on(screen: &str) -> Vec<&'static str> {
    let mut found: Vec<(usize, &str)> = [
        ("low risk", "plain"),
        ("medium risk", "grounded"),
        ("high risk", "tuned"),
    ]
    .into_iter()
    .filter_map(|(marker, v)| screen.find(marker).map(|at| (at, v)))
    .collect();
    found.sort_unstable();
    found.into_iter().map(|(_, v)| v).collect()
}

/// Under `rating.schedule: adaptive`, when bo's ratings over SSH settle the pair of the
/// comparison on ana's screen (untouched), it gives way at once to the pair still open,
/// with a notice that names no variant; nothing is saved for ana.
#[test]
fn others_ratings_settling_a_pair_move_an_adaptive_rater_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_with(dir.path(), 22207, 16, 2, |session_path, store_dir| {
        common::rating::set_adaptive(session_path);
        // bo rated before: plain beat grounded 12 times out of 12, close to a decision
        // (Holm across the two pairs), not yet there.
        let session = loupe::session::load(session_path).unwrap();
        let store = Store::open(store_dir).unwrap();
        let bo = loupe::rating::open_rater(&store, &session, "bo", None).unwrap();
        let plain: Vec<_> = bo
            .items
            .iter()
            .filter(|i| i.assignment.comparison.a == "plain")
            .take(12)
            .collect();
        for (seq, item) in (0u32..).zip(plain) {
            store
                .put_rating(&common::rating::verdict(
                    &session.file.name,
                    "bo",
                    &item.assignment,
                    loupe::store::Winner::A,
                    seq,
                ))
                .unwrap();
        }
    });
    let tmux = Tmux::new();
    tmux.start("ana", 100, 30, &served.ssh("ana", "ana", ""));
    let screen = tmux.wait_for("ana", "ana's queue", |s| progress(s) == Some((0, 32)));
    let mut shown = variants_on(&screen);
    shown.sort_unstable();
    assert_eq!(
        shown,
        ["grounded", "plain"],
        "the close pair first:\n{screen}"
    );
    tmux.start("bo", 100, 30, &served.ssh("bo", "bo", ""));
    // bo prefers plain while his queue offers plain/grounded first: until his ratings
    // settle it (his next comparison is then of the open pair).
    let mut given = 12;
    loop {
        let want = format!("{given}/32 rated");
        let screen = tmux.wait_for("bo", &want, |s| s.contains(&want));
        let on_bo = variants_on(&screen);
        if !on_bo.contains(&"plain") {
            break;
        }
        assert!(given < 20, "plain/grounded never settled:\n{screen}");
        tmux.send("bo", if on_bo[0] == "plain" { "h" } else { "l" });
        given += 1;
    }
    // ana's untouched comparison of the settled pair gives way.
    let moved = tmux.wait_for("ana", "ana moved on", |s| s.contains("moved on"));
    assert!(given >= 13, "12 to 0 does not settle it");
    let mut shown = variants_on(&moved);
    shown.sort_unstable();
    assert_eq!(
        shown,
        ["grounded", "tuned"],
        "the pair still open:\n{moved}"
    );
    assert!(
        moved.contains("moved on: the last one is settled by others' ratings; it comes back later"),
        "{moved}"
    );
    assert_eq!(progress(&moved), Some((0, 32)), "nothing saved for ana");
    for who in ["ana", "bo"] {
        tmux.send(who, "q");
        tmux.wait_dead(who);
    }
    served.stop();
    let ratings = served.ratings();
    assert!(ratings.iter().all(|r| r.rater == "bo"), "{ratings:?}");
}

#[test]
fn a_killed_client_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), 22204, 4, 2);
    let tmux = Tmux::new();
    let pid = tmux.start("ana", 100, 30, &served.ssh("ana", "ana", ""));
    tmux.wait_for("ana", "ana's queue", |s| s.contains("0/8 rated"));
    tmux.send("ana", "h");
    tmux.wait_for("ana", "one saved", |s| s.contains("1/8 rated"));
    tmux.send("ana", "x");
    tmux.wait_for("ana", "two saved", |s| {
        s.contains("2/8 rated") && s.contains("saved")
    });
    // Mid-rating: scores typed for the third, no verdict yet.
    tmux.send("ana", "34");
    tmux.kill9("ana", pid);
    served.wait_log("the dropped connection", "ana (rater) from 127.0.0.1");
    wait_until("ana's session to end", || served.log().contains(" left"));
    // A new login continues the queue where the acknowledged ratings left it.
    tmux.cmd(&["kill-session", "-t", "ana"]);
    tmux.start("ana2", 100, 30, &served.ssh("ana", "ana", ""));
    tmux.wait_for("ana2", "the queue again", |s| s.contains("2/8 rated"));
    tmux.send("ana2", "q");
    tmux.wait_dead("ana2");
    served.stop();
    assert_eq!(served.ratings().len(), 2);
}

#[test]
fn an_owner_cut_off_mid_edit_gets_the_draft_back_at_the_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), 22206, 2, 1);
    let tmux = Tmux::new();
    let pid = tmux.start("olu", 100, 30, &served.ssh("olu", "olu", ""));
    tmux.wait_for("olu", "the workbench", |s| s.contains("Templates"));
    tmux.send("olu", "e");
    tmux.wait_for("olu", "the editor", |s| s.contains("editing"));
    tmux.send_key("olu", "End");
    tmux.send("olu", " OLU-UNSAVED");
    tmux.wait_for("olu", "the edit on screen", |s| s.contains("OLU-UNSAVED"));
    // The connection dies: no quit, no save.
    tmux.kill9("olu", pid);
    wait_until("olu's session to end", || served.log().contains(" left"));
    tmux.cmd(&["kill-session", "-t", "olu"]);
    tmux.start("olu2", 100, 30, &served.ssh("olu", "olu", ""));
    let screen = tmux.wait_for("olu2", "the draft offered back", |s| {
        s.contains("OLU-UNSAVED")
    });
    assert!(screen.contains("draft"), "{screen}");
    served.stop();
}

#[test]
fn an_idle_session_is_closed_and_told_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), 22205, 2, 1);
    served.stop();
    served.extra = vec!["--idle-timeout".into(), "2s".into()];
    served.launch();
    let tmux = Tmux::new();
    tmux.start("ana", 100, 30, &served.ssh("ana", "ana", ""));
    tmux.wait_for("ana", "ana's queue", |s| s.contains("0/4 rated"));
    tmux.wait_dead("ana");
    let screen = tmux.capture("ana");
    assert!(
        screen.contains("closed after a while without keys"),
        "{screen}"
    );
    served.wait_log("the idle close", "ana (rater) from 127.0.0.1");
    assert!(
        served.log().contains("closed after the idle timeout"),
        "{}",
        served.log()
    );
}

#[test]
fn bytes_a_real_terminal_sends_parse_to_the_local_events() {
    // Record what tmux (a real terminal) sends for keys, in raw mode, to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.bin");
    let tmux = Tmux::new();
    tmux.start(
        "rec",
        100,
        30,
        &format!(
            "sh -c 'printf \"\\033[?2004h\"; stty raw -echo; cat > {}'",
            file.display()
        ),
    );
    let paste = (0..1100)
        .map(|i| format!("{i:04}-word"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(paste.len() > 10_000);
    std::fs::write(dir.path().join("paste.txt"), &paste).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for key in [
        "Up", "Down", "Left", "Right", "M-x", "F5", "F1", "F12", "C-c",
    ] {
        tmux.send_key("rec", key);
    }
    tmux.send("rec", "é");
    let buffer = dir.path().join("paste.txt");
    tmux.cmd(&["load-buffer", "-b", "p", &buffer.display().to_string()]);
    tmux.cmd(&["paste-buffer", "-p", "-b", "p", "-t", "rec"]);
    tmux.send_key("rec", "Home");
    // Esc last: in one recording, an Esc followed by more keys is Alt+key, as it is for
    // crossterm when both arrive in one read.
    tmux.send_key("rec", "Escape");
    let mut last = 0;
    wait_until("the recording to settle", || {
        let len = std::fs::metadata(&file).map_or(0, |m| m.len());
        let settled = len > 10_000 && len == last;
        last = len;
        std::thread::sleep(Duration::from_millis(100));
        settled
    });
    let bytes = std::fs::read(&file).unwrap();

    let none = KeyModifiers::NONE;
    let key = |code, m| Event::Key(KeyEvent::new(code, m));
    let want = vec![
        key(KeyCode::Up, none),
        key(KeyCode::Down, none),
        key(KeyCode::Left, none),
        key(KeyCode::Right, none),
        key(KeyCode::Char('x'), KeyModifiers::ALT),
        key(KeyCode::F(5), none),
        key(KeyCode::F(1), none),
        key(KeyCode::F(12), none),
        key(KeyCode::Char('c'), KeyModifiers::CONTROL),
        key(KeyCode::Char('é'), none),
        Event::Paste(paste),
        key(KeyCode::Home, none),
        key(KeyCode::Esc, none),
    ];
    // However the bytes are cut into packets, the same events, in order.
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..40 {
        let mut parser = KeyParser::new();
        let mut out = VecDeque::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = if round == 0 {
                rest.len()
            } else {
                1 + (rng % 9) as usize
            };
            let (now, later) = rest.split_at(n.min(rest.len()));
            parser.feed(now, &mut out);
            // A packet boundary after a lone ESC: the next packet comes before the wait ends.
            rest = later;
        }
        parser.timeout(&mut out);
        let got: Vec<Event> = out.into_iter().collect();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g,
                w,
                "round {round}, event {i}; bytes {:?}",
                String::from_utf8_lossy(&bytes[..60])
            );
        }
        assert_eq!(got.len(), want.len(), "round {round}: {:?}", got.last());
    }
}
