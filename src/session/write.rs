//! Writing edited templates back into the session file.
//!
//! Only the `templates:` value is replaced; the rest of the file (its comments, its layout)
//! is left as the person wrote it. Comments inside `templates:` are lost: they belonged to
//! text that changed.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io;
use std::path::Path;

use indexmap::IndexMap;

use super::position::{PosIndex, ypath};
use super::{Session, SessionError, SessionFile, TemplateSpec};

/// Replaces the session file's templates with `specs`, atomically.
pub fn write_templates<S: BuildHasher>(
    session: &Session,
    specs: &HashMap<String, TemplateSpec, S>,
) -> Result<(), SessionError> {
    let fail = |source: io::Error| SessionError::Write {
        path: session.path.clone(),
        source,
    };
    let ordered = session.ordered(specs);
    let text = splice(&session.source, &session.index, &ordered).map_err(fail)?;
    // Never write a file that does not read back as exactly these templates.
    let reread: SessionFile = serde_yaml::from_str(&text).map_err(|e| {
        fail(io::Error::other(format!(
            "the rewritten file does not parse: {e}"
        )))
    })?;
    if reread.templates != ordered {
        return Err(fail(io::Error::other(
            "the rewritten file does not read back as the edited templates",
        )));
    }
    write_atomically(&session.path, &text).map_err(fail)
}

/// `source` with the value of its top-level `templates:` key replaced by `templates`, as a
/// block mapping (appended when the file has no `templates:`).
fn splice(
    source: &str,
    index: &PosIndex,
    templates: &IndexMap<String, TemplateSpec>,
) -> io::Result<String> {
    let yaml = serde_yaml::to_string(templates).map_err(io::Error::other)?;
    let block = indent(&yaml);
    let Some((start, end)) = index.span(&ypath!["templates"]) else {
        let sep = if source.is_empty() || source.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        return Ok(format!("{source}{sep}templates:\n{block}"));
    };
    let (start, end) = (byte_offset(source, start), byte_offset(source, end));
    let end = top_level_comments_start(&source[..end]);
    // Whatever stood between `templates:` and its old value (spaces, a line break) goes;
    // the new value starts on its own line.
    let before = source[..start].trim_end_matches([' ', '\t', '\n', '\r']);
    let after = &source[end..];
    let after = after.strip_prefix('\n').unwrap_or(after);
    Ok(format!("{before}\n{block}{after}"))
}

/// Where the blank lines and unindented comments that end `text` begin. A block mapping
/// ends where the next key starts, so its span takes in the comments above that key; they
/// introduce what follows and are kept. (An unindented `#` line cannot be inside a block
/// scalar under `templates:`, whose lines are all indented.)
fn top_level_comments_start(text: &str) -> usize {
    let mut cut = text.len();
    while let Some(body) = text[..cut].strip_suffix('\n') {
        let line_start = body.rfind('\n').map_or(0, |i| i + 1);
        let line = &body[line_start..];
        if line.trim().is_empty() || line.starts_with('#') {
            cut = line_start;
        } else {
            break;
        }
    }
    cut
}

/// Two spaces before every non-empty line: the block under `templates:`.
fn indent(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + yaml.len() / 8);
    for line in yaml.lines() {
        if !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The byte offset of character `chars` (the event parser counts characters).
fn byte_offset(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

/// Writes beside the file, then renames: a crash leaves the old file or the new, never half.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".loupe-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spliced(source: &str, user: &str) -> String {
        let templates = IndexMap::from([(
            "t".to_owned(),
            TemplateSpec {
                user: Some(user.to_owned()),
                ..TemplateSpec::default()
            },
        )]);
        let text = splice(source, &PosIndex::build(source), &templates).expect("splices");
        let file: serde_yaml::Value = serde_yaml::from_str(&text).expect("parses");
        assert_eq!(
            file["templates"]["t"]["user"].as_str(),
            Some(user),
            "{text}"
        );
        text
    }

    #[test]
    fn replaces_a_block_templates_value_and_keeps_the_rest() {
        let source = "# top\nname: x\ntemplates:\n  t:\n    user: old\n  u:\n    user: gone\n# about variants\nvariants: []\n";
        let text = spliced(source, "line 1\nline 2 {{ x }}\n");
        assert!(
            text.starts_with("# top\nname: x\ntemplates:\n  t:\n"),
            "{text}"
        );
        assert!(text.ends_with("# about variants\nvariants: []\n"), "{text}");
        assert!(!text.contains("gone"));
    }

    #[test]
    fn replaces_a_flow_templates_value() {
        let text = spliced("templates: { t: { user: old } }\nname: x\n", "new");
        assert!(text.ends_with("name: x\n"), "{text}");
    }

    #[test]
    fn appends_templates_when_there_are_none() {
        let text = spliced("name: x", "new");
        assert!(text.starts_with("name: x\ntemplates:\n"), "{text}");
    }

    #[test]
    fn offsets_count_characters() {
        assert_eq!(byte_offset("é: x", 1), 2);
        assert_eq!(byte_offset("ab", 5), 2);
    }
}
