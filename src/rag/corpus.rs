//! A corpus: the files a RAG config's globs match, read and turned into text.

use std::path::{Path, PathBuf};

use super::html;

/// How a file's text is read, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Markdown,
    Html,
    /// Anything else that is UTF-8 text.
    Text,
}

impl DocKind {
    pub fn of(path: &Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("md" | "markdown" | "mdown" | "mkd") => Self::Markdown,
            Some("html" | "htm" | "xhtml") => Self::Html,
            _ => Self::Text,
        }
    }
}

/// One corpus file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Relative to the session file's folder, with `/` separators: how passages name it
    /// and how cases list it under `relevant:`.
    pub path: String,
    /// blake3 of the file's bytes.
    pub hash: String,
    pub kind: DocKind,
    /// The text passages are cut from (HTML already reduced to its text).
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("corpus glob {glob:?} is not a valid pattern: {reason}")]
    BadGlob { glob: String, reason: String },
    #[error("corpus glob {glob:?} matches no file (relative to {dir})")]
    NoMatch { glob: String, dir: String },
    #[error("cannot read corpus file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("corpus file {path} is not text ({why}); list only Markdown, HTML or plain text files")]
    NotText { path: String, why: &'static str },
}

/// The files `globs` match under `dir`, sorted, each once. A glob that matches nothing
/// is an error: a typo would otherwise leave a config silently retrieving from less.
pub fn resolve(dir: &Path, globs: &[String]) -> Result<Vec<PathBuf>, CorpusError> {
    let dir = here(dir);
    let mut out = Vec::new();
    for g in globs {
        let full = format!(
            "{}/{}",
            glob::Pattern::escape(&dir.to_string_lossy()),
            g.trim_start_matches("./")
        );
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let paths = glob::glob_with(&full, options).map_err(|e| CorpusError::BadGlob {
            glob: g.clone(),
            reason: e.msg.to_owned(),
        })?;
        let before = out.len();
        for p in paths {
            // An unreadable folder under the pattern: reading its files would fail anyway,
            // and the error names the path.
            let p = p.map_err(|e| CorpusError::Read {
                path: e.path().display().to_string(),
                source: std::io::Error::new(e.error().kind(), e.error().to_string()),
            })?;
            if p.is_file() {
                out.push(p);
            }
        }
        if out.len() == before {
            return Err(CorpusError::NoMatch {
                glob: g.clone(),
                dir: dir.display().to_string(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The folder of a session given as a bare file name is `""`: that is `.`, not `/`.
fn here(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

/// `path` relative to `dir`, with `/` separators.
pub fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(here(dir)).unwrap_or(path);
    rel.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The text of a file's bytes: UTF-8 without NUL bytes (a NUL means a binary file that
/// happens to decode), HTML reduced to its text, a byte-order mark dropped.
pub fn extract(path: &str, kind: DocKind, bytes: &[u8]) -> Result<String, CorpusError> {
    if bytes.contains(&0) {
        return Err(CorpusError::NotText {
            path: path.to_owned(),
            why: "it holds NUL bytes",
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| CorpusError::NotText {
        path: path.to_owned(),
        why: "it is not UTF-8",
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(match kind {
        DocKind::Html => html::to_text(text),
        DocKind::Markdown | DocKind::Text => text.to_owned(),
    })
}

/// Reads one corpus file.
pub fn read(dir: &Path, path: &Path) -> Result<Document, CorpusError> {
    let rel = relative(dir, path);
    let bytes = std::fs::read(path).map_err(|source| CorpusError::Read {
        path: rel.clone(),
        source,
    })?;
    let kind = DocKind::of(path);
    let text = extract(&rel, kind, &bytes)?;
    Ok(Document {
        hash: blake3::hash(&bytes).to_hex().to_string(),
        path: rel,
        kind,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(DocKind::of(Path::new("a/b.MD")), DocKind::Markdown);
        assert_eq!(DocKind::of(Path::new("x.htm")), DocKind::Html);
        assert_eq!(DocKind::of(Path::new("notes.txt")), DocKind::Text);
        assert_eq!(DocKind::of(Path::new("README")), DocKind::Text);
    }

    #[test]
    fn globs_resolve_sorted_and_refuse_no_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("docs/sub")).expect("mkdir");
        for f in ["docs/b.md", "docs/a.md", "docs/sub/c.md", "docs/x.html"] {
            std::fs::write(d.join(f), "# t\n").expect("write");
        }
        let got = resolve(d, &["docs/**/*.md".into(), "docs/a.md".into()]).expect("matches");
        let rel: Vec<_> = got.iter().map(|p| relative(d, p)).collect();
        assert_eq!(rel, ["docs/a.md", "docs/b.md", "docs/sub/c.md"]);
        let err = resolve(d, &["docs/*.txt".into()]).expect_err("no match");
        assert!(
            err.to_string().contains("\"docs/*.txt\" matches no file"),
            "{err}"
        );
        assert!(matches!(
            resolve(d, &["docs/[.md".into()]),
            Err(CorpusError::BadGlob { .. })
        ));
        // A session named without a folder lives in `.`.
        let cwd = std::env::current_dir().expect("cwd");
        let here = resolve(Path::new(""), &["src/rag/corpus.rs".into()]).expect("from .");
        assert_eq!(relative(Path::new(""), &here[0]), "src/rag/corpus.rs");
        assert_eq!(std::env::current_dir().expect("cwd"), cwd);
    }

    #[test]
    fn binary_and_non_utf8_are_refused() {
        assert!(matches!(
            extract("x.md", DocKind::Markdown, b"ab\0cd"),
            Err(CorpusError::NotText {
                why: "it holds NUL bytes",
                ..
            })
        ));
        assert!(matches!(
            extract("x.md", DocKind::Markdown, &[0xff, 0xfe, 0x41]),
            Err(CorpusError::NotText {
                why: "it is not UTF-8",
                ..
            })
        ));
        assert_eq!(
            extract(
                "x.html",
                DocKind::Html,
                "\u{feff}<h1>T</h1><p>a</p>".as_bytes()
            )
            .expect("text"),
            "# T\n\na\n"
        );
    }
}
