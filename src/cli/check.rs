//! `loupe check SESSION`: everything that can be wrong before a model is called.

use std::io::Write;
use std::path::Path;

use super::Outcome;
use crate::session::{self, SessionError};

/// Loads the session, renders every variant's template for every case, and prints a
/// one-line summary (stdout), or every problem found (stderr) and fails.
pub fn check(path: &Path) -> anyhow::Result<Outcome> {
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
                return Ok(Outcome::Ok);
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

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
