//! `loupe check SESSION`: everything that can be wrong before a model is called.

use std::io::Write;
use std::path::Path;

use super::Outcome;
use crate::session::{self, SessionError};

/// Loads the session, renders every variant's template for every case, and prints a
/// one-line summary (stdout), or every problem found (stderr) and fails.
pub fn check(path: &Path, online: bool) -> anyhow::Result<Outcome> {
    let problems = match session::load(path) {
        Ok(session) => {
            let problems = crate::session::check_session(&session);
            if problems.is_empty() {
                writeln!(
                    std::io::stdout().lock(),
                    "ok: {}, {}, {}",
                    count(session.file.variants.len(), "variant"),
                    count(session.cases.len(), "case"),
                    count(session.file.templates.len(), "template"),
                )?;
                return if online {
                    report_online(&session)
                } else {
                    Ok(Outcome::Ok)
                };
            }
            problems
        }
        Err(SessionError::Invalid(problems)) => problems,
        Err(e) => return Err(e.into()),
    };
    let mut err = std::io::stderr().lock();
    for p in &problems {
        writeln!(err, "{p}")?;
    }
    anyhow::bail!("{} in {}", count(problems.len(), "problem"), path.display())
}

/// Asks the endpoints; one line per model on stdout, the failures again on stderr; exit 1
/// when one fails (the file is fine, the world around it is not).
fn report_online(session: &session::Session) -> anyhow::Result<Outcome> {
    let findings = super::online::check_online(session)?;
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for f in &findings {
        match &f.problem {
            None => writeln!(out, "ok:   {}", f.what)?,
            Some(why) => {
                failed += 1;
                writeln!(out, "FAIL: {}: {why}", f.what)?;
            }
        }
    }
    if failed > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "{} of {} online checks failed (above)",
            failed,
            findings.len()
        );
        return Ok(Outcome::Problem);
    }
    Ok(Outcome::Ok)
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
