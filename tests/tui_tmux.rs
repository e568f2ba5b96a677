//! The real binary in a real terminal: tmux runs `loupe SESSION` in a detached pane, the test
//! types with `send-keys` and reads the screen with `capture-pane`, waiting by polling (never
//! by sleeping) up to `LOUPE_E2E_TIMEOUT_SECS` (120 s by default).
//!
//! The first test runs against the real local model (skipped, loudly, only under
//! `LOUPE_SKIP_MODEL=1`); the others use a scripted server in this process.

#![allow(clippy::unwrap_used)]

mod common;

use common::tui_harness::timeout;
use common::{mock_script, model_server};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loupe::store::{OutputRecord, RunStatus, Store};
use mock_script::{Asked, Reply, Script};
use ratatui::buffer::CellWidth;
use regex::Regex;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_loupe");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A shell in pane `t` of a tmux server of our own ([`common::tmux::Tmux`]: its own socket,
/// killed when dropped, even on a failure), run in `dir`.
struct Tmux {
    tmux: common::tmux::Tmux,
    dir: PathBuf,
}

impl Tmux {
    /// A `width` x `height` session running `sh` in `dir`.
    fn start(dir: &Path, width: u16, height: u16) -> Tmux {
        // escape-time 0: otherwise tmux holds an Escape back, and Escape followed by another
        // key reaches loupe as Alt-key.
        let tmux = common::tmux::Tmux::with_conf(
            "set -s escape-time 0\nset -g status off\nset -g history-limit 100\n",
        );
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-s",
            "t",
            "-c",
            dir.to_str().unwrap(),
            "env PS1='$ ' sh",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        Tmux {
            tmux,
            dir: dir.to_owned(),
        }
    }

    /// `send-keys` of tmux key names (`Enter`, `Escape`, `C-s`, `End`, or a single key).
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux.send_key("t", key);
        }
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux.send("t", text);
    }

    fn capture(&self) -> String {
        self.tmux.capture("t")
    }

    /// The screen with its colours and attributes as escape sequences.
    fn capture_styled(&self) -> String {
        self.tmux.capture_styled("t")
    }

    fn display(&self, format: &str) -> String {
        self.tmux.display("t", format)
    }

    /// Polls the screen until `pred` holds; panics with the screen after [`timeout`]. A
    /// frame reaches tmux in pieces, so a screen counts only when two captures in a row
    /// agree (otherwise the bottom of the last screen can still show under the new one).
    fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout();
        let mut last = String::new();
        loop {
            let screen = self.capture();
            if screen == last && pred(&screen) {
                return screen;
            }
            last.clone_from(&screen);
            assert!(
                Instant::now() < deadline,
                "timed out after {:?} waiting for {what}; the screen:\n{screen}",
                timeout()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait(&format!("{needle:?}"), |s| s.contains(needle))
    }

    /// Starts `loupe ARGS` from a script in the pane's shell: the script records loupe's pid
    /// (it `exec`s) and prints `EXIT=<status>` when loupe is gone.
    fn launch(&self, env: &str, args: &[&str]) {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let script = format!(
            "cd '{dir}' || exit 9\nrm -f loupe.pid\n{env} sh -c 'echo $$ > loupe.pid; exec \"$@\"' loupe '{BIN}' {args}\necho \"EXIT=$?\"\n",
            dir = self.dir.display(),
            args = quoted.join(" ")
        );
        std::fs::write(self.dir.join("launch.sh"), script).unwrap();
        self.type_text("clear; sh launch.sh");
        self.keys(&["Enter"]);
    }

    fn loupe_pid(&self) -> String {
        let path = self.dir.join("loupe.pid");
        let deadline = Instant::now() + timeout();
        loop {
            if let Ok(pid) = std::fs::read_to_string(&path)
                && !pid.trim().is_empty()
            {
                return pid.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "no loupe.pid");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// After loupe has gone: its exit status, and the terminal as the shell got it back.
    fn assert_restored(&self) -> i32 {
        let screen = self.wait("loupe to exit", |s| s.contains("EXIT="));
        let code: i32 = Regex::new(r"EXIT=(\d+)")
            .unwrap()
            .captures(&screen)
            .unwrap()[1]
            .parse()
            .unwrap();
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "still on the alternate screen:\n{screen}"
        );
        assert_eq!(self.display("#{cursor_flag}"), "1", "cursor left hidden");
        // Raw mode off: the line discipline echoes and edits lines again.
        self.type_text(
            "stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | paste -sd, - | sed 's/^/MODES=/'",
        );
        self.keys(&["Enter"]);
        let modes = Regex::new(r"(?m)^MODES=(\S*)$").unwrap();
        let screen = self.wait("stty", |s| modes.is_match(s));
        assert_eq!(
            &modes.captures(&screen).unwrap()[1],
            "icanon,echo",
            "terminal left in raw mode:\n{screen}"
        );
        code
    }
}

/// The demo session copied into `dir`, on `base_url` (with `/v1`), over the first `cases`
/// cases, with small answers. Returns the session file.
fn demo_session(dir: &Path, base_url: &str, cases: usize, max_tokens: u32) -> PathBuf {
    let src = Path::new(ROOT).join("sessions");
    std::fs::create_dir_all(dir.join("cases")).unwrap();
    for sub in ["schemas", "policy"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let all = std::fs::read_to_string(src.join("cases/change-risk.jsonl")).unwrap();
    let few: Vec<&str> = all.lines().take(cases).collect();
    std::fs::write(dir.join("cases/e2e.jsonl"), few.join("\n") + "\n").unwrap();
    // Without the prompt+rag variant (its variant line and rating pair) and the fine-tuned
    // one (its variant line and its judge and rating pairs): these tests drive the workbench
    // against the base chat server only; rag_cli_real covers retrieval and tune_real the
    // tuned model.
    let yaml: String = std::fs::read_to_string(src.join("demo.yaml"))
        .unwrap()
        .lines()
        .filter(|l| {
            !l.contains("prompt+rag")
                && !l.contains("name: fine-tuned")
                && !l.contains("fine-tuned]")
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    let mut edited = yaml.clone();
    for (from, to) in [
        (
            "base_url: http://127.0.0.1:8080/v1".to_owned(),
            format!("base_url: {base_url}"),
        ),
        (
            "max_tokens: 96".to_owned(),
            format!("max_tokens: {max_tokens}"),
        ),
        (
            "cases/change-risk.jsonl".to_owned(),
            "cases/e2e.jsonl".to_owned(),
        ),
    ] {
        assert!(
            edited.contains(&from),
            "sessions/demo.yaml no longer has {from:?}"
        );
        edited = edited.replace(&from, &to);
    }
    let path = dir.join("demo.yaml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// The text an output pane shows for a record (as `update::compare_texts` builds it).
fn shown(o: &OutputRecord) -> String {
    match &o.error {
        Some(e) => format!("error: {e}"),
        None => loupe::sanitize::sanitize(&o.text).into_owned(),
    }
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The text inside the box whose top border row contains `title`, between display columns
/// `left` and `right` (exclusive), rows joined, whitespace removed.
fn box_text(screen: &str, title: &str, left: usize, right: usize) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains(title))
        .unwrap_or_else(|| panic!("no box {title:?}:\n{screen}"));
    let mut out = String::new();
    for line in &lines[top + 1..] {
        let cols = columns(line, left, right);
        if cols.starts_with('└') || cols.starts_with('+') {
            break;
        }
        out.push_str(&cols);
    }
    squeeze(&out.replace(['│', '|'], ""))
}

/// The part of `line` between display columns `from` and `to`.
fn columns(line: &str, from: usize, to: usize) -> String {
    let mut col = 0;
    let mut out = String::new();
    for c in line.chars() {
        let w = c.to_string().as_str().cell_width() as usize;
        if col >= from && col + w <= to {
            out.push(c);
        }
        col += w;
    }
    out
}

fn run_id(screen: &str) -> Option<String> {
    Regex::new(r"\brun (\d{8}-\d{6}-[0-9a-f]{4})")
        .unwrap()
        .captures(screen)
        .map(|c| c[1].to_owned())
}

/// Waits until a run other than `previous` is loaded and nothing runs any more.
fn wait_run_done(tmux: &Tmux, previous: Option<&str>) -> String {
    let screen = tmux.wait("the run to finish", |s| {
        run_id(s).is_some_and(|id| Some(id.as_str()) != previous) && !s.contains("running ")
    });
    run_id(&screen).unwrap()
}

#[test]
fn edit_run_compare_and_results_against_the_real_model() {
    const ADDED: &str = " Reply with one short JSON line.";
    let Some(server) = model_server::server() else {
        model_server::skip_note("the tmux end-to-end test against the real model");
        return;
    };
    let dir = TempDir::new().unwrap();
    let session = demo_session(dir.path(), &format!("{server}/v1"), 2, 24);
    let store = dir.path().join("store");
    let tmux = Tmux::start(dir.path(), 100, 30);
    tmux.launch(
        "env -u NO_COLOR COLORTERM=truecolor",
        &[
            "--store",
            store.to_str().unwrap(),
            session.to_str().unwrap(),
        ],
    );
    let screen = tmux.wait_for("change-risk · no run yet");
    for needle in [
        " 1 Templates ",
        "zero-shot",
        "few-shot",
        "Preview",
        "e edit",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "not on the alternate screen"
    );

    // A baseline run of two variants (strict, which retries, is left out to save time).
    tmux.keys(&["2"]);
    tmux.wait_for("[x] strict");
    tmux.keys(&["j"]);
    tmux.keys(&["j"]);
    tmux.keys(&["Space"]);
    tmux.wait_for("[ ] strict");
    tmux.keys(&["r"]);
    tmux.wait_for("running ");
    let first = wait_run_done(&tmux, None);

    // Edit the zero-shot user message and save it as a new version.
    tmux.keys(&["1"]);
    tmux.wait_for("Templates");
    tmux.keys(&["e"]);
    tmux.wait_for("editing");
    // The editor opens on System; alt-left steps back to the User section.
    tmux.keys(&["M-Left"]);
    tmux.keys(&["End"]);
    tmux.type_text(ADDED);
    tmux.wait_for(&format!("request:{ADDED}"));
    tmux.keys(&["Escape"]);
    tmux.wait("the editor to close", |s| !s.contains("editing"));
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for("saved zero-shot as version");
    let saved = Regex::new(r"saved zero-shot as version ([0-9a-f]{8})")
        .unwrap()
        .captures(&screen)
        .unwrap()[1]
        .to_owned();
    // The preview shows the edit in the exact messages.
    assert!(screen.contains(&format!("request:{ADDED}")), "{screen}");

    // Run again with the edited template.
    tmux.keys(&["2"]);
    let screen = tmux.wait_for("Variants");
    assert!(screen.contains("[ ] strict"), "{screen}");
    tmux.keys(&["r"]);
    tmux.wait_for("running ");
    let second = wait_run_done(&tmux, Some(&first));

    // Compare: zero-shot against few-shot for the first case, word diff.
    tmux.keys(&["3"]);
    let compare = tmux.wait("the diff", |s| {
        s.contains("Case 1/2 log-level · word diff")
            && s.contains("checks failed")
            && !s.contains("computing diff")
    });
    let styled = tmux.capture_styled();
    // E: zero-shot against itself in an earlier run, chosen from a list that names it.
    tmux.keys(&["E"]);
    tmux.wait_for("Compare with which other run?");
    tmux.keys(&["Enter"]);
    let regression = tmux.wait_for(&format!("zero-shot @ {first}"));
    let regression = if regression.contains("computing diff") {
        tmux.wait("the regression diff", |s| !s.contains("computing diff"))
    } else {
        regression
    };

    // Results.
    tmux.keys(&["4"]);
    let results = tmux.wait_for("Cases × variants (2 shown)");
    for needle in [
        "Variants (sorted by variant)",
        "zero-shot",
        "few-shot",
        "log-level",
        "db-index",
        "p50 ms",
    ] {
        assert!(results.contains(needle), "{needle:?} missing:\n{results}");
    }

    tmux.keys(&["q"]);
    assert_eq!(tmux.assert_restored(), 0);

    // What the store kept, and whether the screens showed it.
    let store = Store::open(&store).unwrap();
    let history = store.template_history("change-risk", "zero-shot").unwrap();
    let version = history
        .iter()
        .find(|v| v.hash.starts_with(&saved))
        .expect("the saved version is in the history");
    assert!(
        version.content["user"]
            .as_str()
            .unwrap()
            .contains(&format!("request:{ADDED}\n")),
        "{:?}",
        version.content
    );
    let (run1, run2) = (store.run(&first).unwrap(), store.run(&second).unwrap());
    assert_eq!(run2.status, RunStatus::Complete);
    assert_eq!(
        run2.variant("zero-shot").unwrap().template_version,
        version.hash,
        "the second run used the edited template"
    );
    assert_ne!(
        run1.variant("zero-shot").unwrap().template_version,
        version.hash
    );
    let outputs =
        |id: &str| -> Vec<OutputRecord> { store.outputs(id).map(Result::unwrap).collect() };
    let (out1, out2) = (outputs(&first), outputs(&second));
    assert_eq!(out1.len(), 4, "{out1:?}");
    assert_eq!(out2.len(), 4, "{out2:?}");
    let find = |outs: &[OutputRecord], variant: &str| {
        outs.iter()
            .find(|o| o.variant == variant && o.case_id == "log-level")
            .cloned()
            .unwrap()
    };

    // The panes show the stored texts: left zero-shot, right few-shot (then the earlier run).
    let prefix = |o: &OutputRecord| squeeze(&shown(o)).chars().take(60).collect::<String>();
    let left = box_text(&compare, " zero-shot ─", 0, 50);
    let right = box_text(&compare, " few-shot ─", 50, 100);
    assert!(
        left.starts_with(&prefix(&find(&out2, "zero-shot"))),
        "left pane {left:?}\nvs {:?}\n{compare}",
        shown(&find(&out2, "zero-shot"))
    );
    assert!(
        right.starts_with(&prefix(&find(&out2, "few-shot"))),
        "right pane {right:?}\n{compare}"
    );
    let earlier = box_text(&regression, &format!("zero-shot @ {first}"), 50, 100);
    assert!(
        earlier.starts_with(&prefix(&find(&out1, "zero-shot"))),
        "earlier pane {earlier:?}\n{regression}"
    );
    // Outputs that differ are marked with the diff colours of the dark theme.
    if shown(&find(&out2, "zero-shot")) != shown(&find(&out2, "few-shot")) {
        assert!(
            styled.contains("48;2;31;58;44") || styled.contains("48;2;74;31;42"),
            "no diff highlighting in:\n{styled}"
        );
    }
}

/// Answers instantly with pretty-printed JSON holding wide characters, emoji and
/// right-to-left text. Two of its lines end a word with a wide character one column before
/// the edge of the 80x24 layout's Compare pane (78 columns inside) and Run panes (52): the
/// case where ratatui 0.30's word wrapper overflows into the border (ratatui issue 2679).
fn wide_script() -> Script {
    Arc::new(|a: &Asked| {
        let who = if a.user.len().is_multiple_of(2) {
            "A"
        } else {
            "B"
        };
        let text = format!(
            "{{\n\"title\":\"{}日 {who}\",\n\"risk\":\"low\",\n\"rationale\":\"{}日 日本語 🚀🎉 שלום עולם مرحبا بالعالم and plain words\"\n}}",
            "a".repeat(68),
            "b".repeat(38)
        );
        Reply::split(&text, 4)
    })
}

/// Rows 1 to height-2 are boxes that reach the right edge: each must end in a border, or
/// something (a wide character, a miscounted width) pushed it out of place.
fn assert_ascii_layout(screen: &str, width: usize, what: &str) {
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines.len() >= 23, "{what}: short capture:\n{screen}");
    for (y, line) in lines.iter().enumerate() {
        let w: usize = line
            .chars()
            .map(|c| c.to_string().as_str().cell_width() as usize)
            .sum();
        assert!(w <= width, "{what}: row {y} is {w} columns wide:\n{screen}");
        assert!(
            !line.contains(['─', '│', '┌', '┐', '└', '┘']),
            "{what}: box-drawing characters under --ascii, row {y}:\n{screen}"
        );
        if (1..lines.len() - 1).contains(&y) {
            assert!(
                line.ends_with('|') || line.ends_with('+'),
                "{what}: row {y} does not end in a border:\n{line}\n{screen}"
            );
            assert_eq!(w, width, "{what}: row {y} is {w} columns:\n{screen}");
        }
    }
}

/// Colour SGR parameters in a `capture-pane -e` dump (attributes are fine).
fn colours(styled: &str) -> Vec<String> {
    let sgr = Regex::new(r"\x1b\[([0-9;:]*)m").unwrap();
    let mut found = Vec::new();
    for cap in sgr.captures_iter(styled) {
        let params: Vec<&str> = cap[1].split([';', ':']).collect();
        let mut i = 0;
        while i < params.len() {
            let n: u32 = params[i].parse().unwrap_or(0);
            match n {
                30..=37 | 40..=47 | 90..=97 | 100..=107 => found.push(n.to_string()),
                38 | 48 | 58 => {
                    found.push(cap[1].to_owned());
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    found
}

#[test]
fn colours_follow_the_terminals_depth() {
    let server = mock_script::start_in_thread(wide_script());
    let dir = TempDir::new().unwrap();
    let session = demo_session(dir.path(), &server.base_url(), 3, 64);
    // 24-bit colour only when COLORTERM says so; TERM decides between 256 and 16 colours.
    for (i, (env, rgb, indexed)) in [
        (
            "env -u NO_COLOR COLORTERM=truecolor TERM=xterm",
            true,
            false,
        ),
        (
            "env -u NO_COLOR -u COLORTERM TERM=screen-256color",
            false,
            true,
        ),
        ("env -u NO_COLOR -u COLORTERM TERM=xterm", false, false),
        ("env -u NO_COLOR -u COLORTERM TERM=linux", false, false),
    ]
    .into_iter()
    .enumerate()
    {
        let store = dir.path().join(format!("store{i}"));
        let tmux = Tmux::start(dir.path(), 100, 30);
        tmux.launch(
            env,
            &[
                "--store",
                store.to_str().unwrap(),
                session.to_str().unwrap(),
            ],
        );
        tmux.wait_for("no run yet");
        let styled = tmux.capture_styled();
        let found = colours(&styled);
        assert!(!found.is_empty(), "{env}: no colour at all\n{styled:?}");
        let rgb_seen = found
            .iter()
            .any(|c| c.starts_with("38;2") || c.starts_with("48;2"));
        // crossterm writes the 16 ANSI colours as indexes 0-15 too (`38;5;1`).
        let above_16 = found.iter().any(|c| {
            (c.starts_with("38;5;") || c.starts_with("48;5;"))
                && c[5..].parse::<u8>().is_ok_and(|n| n >= 16)
        });
        assert_eq!(rgb_seen, rgb, "{env}: {found:?}");
        assert_eq!(above_16, indexed, "{env}: {found:?}");
        tmux.keys(&["q"]);
    }
}

#[test]
fn at_80x24_without_colour_in_ascii_the_layout_holds() {
    let server = mock_script::start_in_thread(wide_script());
    let dir = TempDir::new().unwrap();
    let session = demo_session(dir.path(), &server.base_url(), 3, 64);
    let store = dir.path().join("store");
    let tmux = Tmux::start(dir.path(), 80, 24);
    tmux.launch(
        "env NO_COLOR=1",
        &[
            "--ascii",
            "--theme",
            "monochrome",
            "--store",
            store.to_str().unwrap(),
            session.to_str().unwrap(),
        ],
    );
    tmux.wait_for("no run yet");
    // The preview is rendered off the UI thread: wait for it, so that it is checked too.
    let screen = tmux.wait_for("-- user");
    let mut report = String::new();
    let mut check = |screen: &str, what: &str| {
        assert_ascii_layout(screen, 80, what);
        let styled = tmux.capture_styled();
        let found = colours(&styled);
        assert!(
            found.is_empty(),
            "{what}: colour under NO_COLOR: {found:?}\n{styled:?}"
        );
        let _ = writeln!(report, "{what} ok");
    };
    for needle in [
        "1 Templates",
        "2 Run",
        "3 Compare",
        "4 Results",
        "Templates",
        "Preview",
        "e edit",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    check(&screen, "templates");

    tmux.keys(&["r"]);
    let screen = tmux.wait("the run to finish", |s| {
        run_id(s).is_some() && !s.contains("running ") && !s.contains("complete")
    });
    for needle in [
        "Variants",
        "[x] zero-shot",
        "zero-shot · log-level",
        "\"rationale\":\"bbb",
        "idle",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    check(&screen, "run");

    // 80 columns: Compare is still side by side, with both outputs' checks below.
    tmux.keys(&["3"]);
    let screen = tmux.wait("compare", |s| {
        s.contains("Case 1/3 log-level")
            && s.contains("+ zero-shot -")
            && s.contains("+ few-shot -")
            && s.contains("checks")
    });
    assert!(
        screen.contains("\"title\":\"aaaa") && screen.contains("🚀"),
        "{screen}"
    );
    check(&screen, "compare");
    // d cycles word, line, then the inline unified diff.
    tmux.keys(&["d", "d"]);
    let screen = tmux.wait("unified compare", |s| {
        s.contains("unified") && s.contains("zero-shot → few-shot") && s.contains("checks")
    });
    check(&screen, "compare unified");

    tmux.keys(&["4"]);
    let screen = tmux.wait_for("Cases × variants (3 shown)");
    for needle in ["pass all", "zero-shot", "few-shot", "strict", "log-level"] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    check(&screen, "results");

    tmux.keys(&["?"]);
    let screen = tmux.wait_for("Help");
    assert!(screen.contains("Everywhere"), "{screen}");
    assert!(!screen.contains(['─', '│', '┌', '┐', '└', '┘']), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait("help to close", |s| !s.contains("Everywhere"));

    tmux.keys(&["q"]);
    assert_eq!(tmux.assert_restored(), 0, "{report}");
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    // Answers start, then hang until released: SIGTERM arrives in the middle of a run.
    let script: Script = Arc::new(|_: &Asked| {
        Reply {
            chunks: vec!["{\"title\": \"partial".into(), " answer\"}".into()],
            ..Reply::default()
        }
        .held()
    });
    let server = mock_script::start_in_thread(script);
    let dir = TempDir::new().unwrap();
    let session = demo_session(dir.path(), &server.base_url(), 2, 32);
    let store = dir.path().join("store");
    let tmux = Tmux::start(dir.path(), 100, 30);
    let args = [
        "--store",
        store.to_str().unwrap(),
        session.to_str().unwrap(),
    ];

    tmux.launch("env", &args);
    tmux.wait_for("no run yet");
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.keys(&["r"]);
    tmux.wait_for("{\"title\": \"partial");
    let pid = tmux.loupe_pid();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tmux.assert_restored();
    let run = Store::open(&store)
        .unwrap()
        .latest_run(Some("change-risk"), false)
        .unwrap()
        .expect("the run was recorded");
    assert_eq!(
        run.status,
        RunStatus::Interrupted,
        "a run cut short by SIGTERM is left resumable"
    );

    // SIGHUP: what an SSH connection that drops sends.
    tmux.launch("env", &args);
    tmux.wait_for("change-risk · run ");
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    let pid = tmux.loupe_pid();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tmux.assert_restored();
}
