//! The real binary, run in a folder with no standard input.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// `loupe ARGS` in `dir`.
pub fn loupe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Output bytes as text (lossy: a test message must show whatever came).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `loupe --store STORE ARGS`, with no standard input.
pub fn loupe_store(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `loupe --store STORE run SESSION` started in the background with no standard input, its
/// standard output piped and its standard error going to `stderr`.
pub fn spawn_run(store: &Path, session: &Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(store)
        .arg("run")
        .arg(session)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// `loupe --store STORE export SESSION --format FORMAT --out OUT`, which must succeed: the
/// export's manifest.
pub fn export_manifest(
    store: &Path,
    session: &Path,
    format: &str,
    out: &Path,
) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--store")
        .arg(store)
        .arg("export")
        .arg(session)
        .args(["--format", format, "--out", out.to_str().unwrap()])
        .env_remove("LOUPE_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "export {format}: {}", stderr(&o));
    super::export_fixture::manifest(out, format)
}

/// The arguments of `loupe export s.yaml --format sft --from references` writing the
/// `fine-tuned` variant's training rows from the references in `cases` to `out`, then
/// `extra`.
pub fn references_export_args<'a>(cases: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "export",
        "s.yaml",
        "--format",
        "sft",
        "--from",
        "references",
        "--cases",
        cases,
        "--variant",
        "fine-tuned",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// What the command printed on standard output, as text.
pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

/// What the command printed on standard error, as text.
pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// Asserts that `out` refused bad input: exit 2, and standard error says each of `what`.
pub fn assert_refused(out: &Output, what: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{}",
        stdout(out),
        stderr(out)
    );
    for w in what {
        assert!(stderr(out).contains(w), "no {w:?} in:\n{}", stderr(out));
    }
}
