//! What can be wrong with a session, each problem with the file, line and column to fix.

use std::fmt;
use std::path::PathBuf;

use crate::template::TemplateError;

/// A place in a file a person edits: `path:line:col`, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One problem, printed `path:line:col: message` like a compiler's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {kind}")]
pub struct Problem {
    pub at: Location,
    pub kind: ProblemKind,
}

/// The kinds of names a session defines and refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Model,
    Template,
    Rag,
    Variant,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefKind::Model => "model",
            RefKind::Template => "template",
            RefKind::Rag => "rag config",
            RefKind::Variant => "variant",
        })
    }
}

/// Files a session points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Cases,
    Schema,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Cases => "cases",
            FileKind::Schema => "schema",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProblemKind {
    /// The YAML, JSON or CSV parser's own words (serde's for wrong types and unknown keys).
    #[error("{0}")]
    Parse(String),
    #[error("unknown {kind} `{name}`{}", known_hint(.known))]
    Unknown {
        kind: RefKind,
        name: String,
        /// The names that are defined, to pick from.
        known: Vec<String>,
    },
    #[error("duplicate {what} `{name}` (first at line {first_line})")]
    Duplicate {
        what: &'static str,
        name: String,
        first_line: usize,
    },
    #[error("template inheritance cycle: {}", .0.join(" -> "))]
    InheritsCycle(Vec<String>),
    #[error("cannot read {kind} file {}: {reason}", .path.display())]
    File {
        kind: FileKind,
        path: PathBuf,
        reason: String,
    },
    /// A schema that does not compile; the message says which file when it is one.
    #[error("{0}")]
    Schema(String),
    #[error("`{field}` must be {expected}, not {found}")]
    OutOfRange {
        field: String,
        expected: String,
        found: String,
    },
    /// A rule of its own, worded at the place that checks it.
    #[error("{0}")]
    Invalid(String),
    #[error("{error}{}{hint}", more_cases_hint(*.more_cases))]
    Template {
        error: TemplateError,
        /// Other cases that fail the same way, left out to keep the list short.
        more_cases: usize,
        /// What to do about it, when known (" (did you mean `ticket`?)"), or empty.
        hint: String,
    },
}

fn known_hint(known: &[String]) -> String {
    if known.is_empty() {
        " (none is defined)".to_owned()
    } else {
        format!(" (expected one of: {})", known.join(", "))
    }
}

fn more_cases_hint(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (and 1 more case)".to_owned(),
        n => format!(" (and {n} more cases)"),
    }
}

/// Why a session could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{}: cannot read the session file: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write the session file: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, in file order: one line each.
    #[error("{}", Lines(.0))]
    Invalid(Vec<Problem>),
}

impl SessionError {
    /// The problems, when the session was read but is not valid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            SessionError::Invalid(p) => p,
            _ => &[],
        }
    }
}

struct Lines<'a>(&'a [Problem]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
