//! `loupe render SESSION --variant V --case N`: the exact messages a variant sends.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::Outcome;
use crate::sanitize::sanitize;
use crate::session::{self, Session};
use crate::template::TemplateErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderFormat {
    /// A role header before each message.
    Text,
    /// The messages as a JSON array of `{role, content}`, exactly as sent.
    Json,
}

pub fn render(
    path: &Path,
    variant: &str,
    case: &str,
    format: RenderFormat,
) -> anyhow::Result<Outcome> {
    let session = session::load(path)?;
    let v = session.variant(variant).with_context(|| {
        let known: Vec<&str> = session
            .file
            .variants
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        format!(
            "no variant `{variant}` in {} (expected one of: {})",
            path.display(),
            known.join(", ")
        )
    })?;
    let c = session.case(case).with_context(|| {
        format!(
            "no case `{case}` in {}: give a case id or a row number from 1 to {}",
            path.display(),
            session.cases.len()
        )
    })?;
    let renderer = session.renderer().map_err(|e| located(&session, e))?;
    let messages = renderer
        .render(&v.template, c, &[])
        .map_err(|e| session.template_problem(e, 0))?;
    if let Some(rag) = &v.rag {
        eprintln!("note: variant `{variant}` retrieves from `{rag}`; `passages` is empty here");
    }
    let mut out = std::io::stdout().lock();
    match format {
        RenderFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &messages)?;
            writeln!(out)?;
        }
        RenderFormat::Text => {
            for (i, m) in messages.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                let role = serde_json::to_value(m.role)?;
                writeln!(out, "=== {} ===", role.as_str().unwrap_or("?"))?;
                // Case data may come from anywhere: nothing in it may drive the terminal.
                let content = sanitize(&m.content);
                write!(out, "{content}")?;
                if !content.ends_with('\n') {
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Compile errors as `file:line:col:` lines.
fn located(session: &Session, errors: TemplateErrors) -> anyhow::Error {
    anyhow::anyhow!(session.located_template_errors(errors.0))
}
