//! docs/sessions.md stays true: every YAML code block in it is a complete session that loads
//! (and passes `loupe check`'s rendering of every variant for every case), and every check
//! kind and top-level key appears in it.

#![allow(clippy::unwrap_used)]

use std::path::Path;

fn blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_end() == "```yaml" => current = Some((i + 2, String::new())),
            Some(_) if line.trim_end() == "```" => out.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```yaml block");
    out
}

#[test]
fn every_example_in_the_session_reference_loads() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sessions.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    let examples = blocks(&text);
    assert!(examples.len() >= 6, "{} examples", examples.len());
    let dir = tempfile::tempdir().unwrap();
    // The retrieval example's corpus: a glob that matches nothing is an error at load.
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/freeze.md"),
        "# Change freeze\n\nNo production changes from 20 December to 3 January.\n",
    )
    .unwrap();
    for (line, yaml) in &examples {
        let path = dir.path().join(format!("example-{line}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let session = loupe::session::load(&path)
            .unwrap_or_else(|e| panic!("docs/sessions.md:{line}: the example does not load:\n{e}"));
        let problems = loupe::session::check_session(&session);
        assert!(
            problems.is_empty(),
            "docs/sessions.md:{line}: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn the_reference_names_every_check_and_every_top_level_key() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sessions.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    for check in loupe::spec::check::CHECK_NAMES {
        assert!(
            text.contains(&format!("| `{check}` |")),
            "check {check} missing"
        );
    }
    for key in [
        "name",
        "description",
        "models",
        "templates",
        "rag",
        "variants",
        "cases",
        "repeats",
        "checks",
        "rubric",
        "rating",
        "judge",
    ] {
        assert!(text.contains(&format!("| `{key}` |")), "key {key} missing");
    }
}
