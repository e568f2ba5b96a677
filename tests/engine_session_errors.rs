//! Malformed sessions through the real binary: `loupe check` must exit 2 and say where
//! (`file:line:col:`) and what is wrong, without panicking.
//!
//! Every file in `tests/fixtures/sessions/bad/` has a row here (a test checks that), so a
//! new fixture cannot be added without saying what it must report.

use std::path::Path;
use std::process::{Command, Output};

const BAD: &str = "tests/fixtures/sessions/bad";
const GOOD: &str = "tests/fixtures/sessions/good";

/// Fixture, where the first problem is (`file:line:col`, the file relative to `bad/`), and
/// words the message must contain.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "check-regex-string.yaml",
        "check-regex-string.yaml:15:14",
        &[
            "checks[0].regex",
            "`pattern`",
            "e.g. `- { regex: { pattern:",
        ],
    ),
    (
        "check-min-number.yaml",
        "check-min-number.yaml:15:13",
        &[
            "checks[0].bleu",
            "a map with `min` (0..1)",
            "e.g. `- { rouge_l: { min: 0.3 } }`",
        ],
    ),
    (
        "rubric-scale-word.yaml",
        "rubric-scale-word.yaml:15:22",
        &["rubric[0].scale", "expected a whole number"],
    ),
    (
        "template-dedented-user.yaml",
        "template-dedented-user.yaml:9:9",
        &[
            "templates.user",
            "indented under the template's name",
            "`system`, `user`",
        ],
    ),
    (
        "param-misindented.yaml",
        "param-misindented.yaml:7:20",
        &[
            "expected a number",
            "`max_tokens:` was read as part of this value",
        ],
    ),
    (
        "variable-typo.yaml",
        "variable-typo.yaml:9:11",
        &["undefined variable `tickte`", "(did you mean `ticket`?)"],
    ),
    (
        "csv-missing-column.yaml",
        "csv-missing-column.yaml:9:11",
        &[
            "undefined variable `ticket`",
            "no-ticket.csv has no `ticket` column",
            "(its header: id,text)",
        ],
    ),
    (
        "reference-check-without-reference.yaml",
        "reference-check-without-reference.yaml:15:5",
        &[
            "check `rouge_l`",
            "no case has one",
            "cases lacking it: one",
        ],
    ),
    (
        "yaml-syntax.yaml",
        "yaml-syntax.yaml:4:10",
        &["did not find expected ',' or '}'"],
    ),
    ("tab-indent.yaml", "tab-indent.yaml:3:1", &["tab"]),
    (
        "empty-file.yaml",
        "empty-file.yaml:1:1",
        &["missing field `name`"],
    ),
    ("not-utf8.yaml", "not-utf8.yaml:2:17", &["not UTF-8"]),
    (
        "unknown-top-key.yaml",
        "unknown-top-key.yaml:14:1",
        &["unknown field `modles`", "`models`"],
    ),
    (
        "unknown-model-key.yaml",
        "unknown-model-key.yaml:5:5",
        &["models.small", "unknown field `base_uri`", "`base_url`"],
    ),
    (
        "unknown-template-key.yaml",
        "unknown-template-key.yaml:9:5",
        &["templates.base", "unknown field `sytem`"],
    ),
    (
        "unknown-variant-key.yaml",
        "unknown-variant-key.yaml:11:16",
        &["variants[0]", "unknown field `tempalte`"],
    ),
    (
        "unknown-params-key.yaml",
        "unknown-params-key.yaml:6:15",
        &["params", "unknown field `temprature`"],
    ),
    (
        "wrong-type.yaml",
        "wrong-type.yaml:14:10",
        &[
            "repeats",
            "invalid type",
            "expected a whole number, 0 or more",
        ],
    ),
    (
        "missing-field.yaml",
        "missing-field.yaml:4:5",
        &["models.small", "missing field `model`"],
    ),
    (
        "missing-variants.yaml",
        "missing-variants.yaml:1:1",
        &["missing field `variants`"],
    ),
    (
        "unknown-provider.yaml",
        "unknown-provider.yaml:4:15",
        &["unknown variant `openia`", "`openai`"],
    ),
    (
        "rag-unknown-retriever.yaml",
        "rag-unknown-retriever.yaml:17:16",
        &["unknown variant `bm52`"],
    ),
    (
        "cases-wrong-shape.yaml",
        "cases-wrong-shape.yaml:12:10",
        &["unknown field `path`", "`file`"],
    ),
    (
        "unknown-check.yaml",
        "unknown-check.yaml:15:5",
        &["unknown check `json_vaild`"],
    ),
    (
        "bad-regex.yaml",
        "bad-regex.yaml:16:5",
        &["invalid regex", "^(low|medium"],
    ),
    (
        "negative-max-tokens.yaml",
        "negative-max-tokens.yaml:6:27",
        &["max_tokens", "-5"],
    ),
    (
        "variant-unknown-model.yaml",
        "variant-unknown-model.yaml:11:39",
        &["unknown model `big`", "small"],
    ),
    (
        "variant-unknown-template.yaml",
        "variant-unknown-template.yaml:12:15",
        &["unknown template `basline`", "base"],
    ),
    (
        "variant-unknown-rag.yaml",
        "variant-unknown-rag.yaml:11:51",
        &["unknown rag config `policy`", "none is defined"],
    ),
    (
        "inherits-unknown.yaml",
        "inherits-unknown.yaml:11:15",
        &["unknown template `bsae`"],
    ),
    (
        "inherits-cycle.yaml",
        "inherits-cycle.yaml:11:15",
        &["cycle", "one -> two -> three -> one"],
    ),
    (
        "duplicate-variant.yaml",
        "duplicate-variant.yaml:13:13",
        &["duplicate variant `a`", "line 11"],
    ),
    (
        "empty-variants.yaml",
        "empty-variants.yaml:10:11",
        &["`variants` is empty"],
    ),
    (
        "missing-cases-file.yaml",
        "missing-cases-file.yaml:12:16",
        &["cannot read cases file", "nope.jsonl"],
    ),
    (
        "unknown-cases-format.yaml",
        "unknown-cases-format.yaml:12:16",
        &["cases.txt", ".jsonl"],
    ),
    ("empty-cases.yaml", "empty-cases.yaml:12:8", &["no cases"]),
    (
        "malformed-jsonl.yaml",
        "cases/malformed.jsonl:3:27",
        &["EOF while parsing a string"],
    ),
    (
        "csv-ragged.yaml",
        "cases/ragged.csv:3:1",
        &["2 fields", "header has 3"],
    ),
    (
        "duplicate-case-id.yaml",
        "cases/dup-ids.jsonl:3:1",
        &["duplicate case id `a`", "line 1"],
    ),
    (
        "yaml-cases-bad-row.yaml",
        "cases/bad-rows.yaml:5:9",
        &["`tags` must be a list of strings"],
    ),
    (
        "gold-unknown-variant.yaml",
        "gold-unknown-variant.yaml:13:35",
        &["unknown variant `b`"],
    ),
    (
        "reserved-variable.yaml",
        "reserved-variable.yaml:13:39",
        &["`passages` cannot be a variable"],
    ),
    (
        "missing-variable.yaml",
        "missing-variable.yaml:12:7",
        &[
            "undefined variable `question`",
            "template `base`",
            "(user)",
            "case `second`",
            "1 more case",
        ],
    ),
    (
        "template-syntax.yaml",
        "template-syntax.yaml:12:7",
        &["template `base`", "(user)", "line 3", "syntax error"],
    ),
    (
        "example-syntax.yaml",
        "example-syntax.yaml:10:17",
        &["template `base`", "example 1 user", "syntax error"],
    ),
    (
        "no-user-message.yaml",
        "no-user-message.yaml:9:5",
        &["template `base` has no `user` message"],
    ),
    (
        "missing-schema-file.yaml",
        "missing-schema-file.yaml:10:20",
        &["cannot read schema file", "nope.json"],
    ),
    (
        "invalid-schema.yaml",
        "invalid-schema.yaml:10:20",
        &["invalid.json", "invalid JSON Schema", "objekt"],
    ),
    (
        "inline-schema-invalid.yaml",
        "inline-schema-invalid.yaml:10:20",
        &["invalid JSON Schema", "objekt"],
    ),
    (
        "schema-bad-json.yaml",
        "schemas/broken.json:3:23",
        &["trailing comma"],
    ),
    (
        "enforce-without-schema.yaml",
        "enforce-without-schema.yaml:14:21",
        &["`enforce_schema` needs an output schema"],
    ),
    (
        "json-schema-check-without-schema.yaml",
        "json-schema-check-without-schema.yaml:15:5",
        &["`json_schema`", "variant `a`", "output_schema"],
    ),
    (
        "judge-unknown-model.yaml",
        "judge-unknown-model.yaml:15:39",
        &["unknown model `gpt-judge`"],
    ),
    (
        "rating-unknown-variant.yaml",
        "rating-unknown-variant.yaml:16:23",
        &["unknown variant `c`", "a, b"],
    ),
    (
        "rating-self-pair.yaml",
        "rating-self-pair.yaml:15:19",
        &["two different variants"],
    ),
    (
        "zero-raters.yaml",
        "zero-raters.yaml:15:51",
        &["`raters_per_comparison` must be at least 1, not 0"],
    ),
    (
        "zero-concurrency.yaml",
        "zero-concurrency.yaml:6:18",
        &["`concurrency` must be at least 1, not 0"],
    ),
    (
        "zero-repeats.yaml",
        "zero-repeats.yaml:14:10",
        &["`repeats` must be at least 1, not 0"],
    ),
    (
        "negative-temperature.yaml",
        "negative-temperature.yaml:6:28",
        &["`temperature`", "-0.5"],
    ),
    (
        "negative-price.yaml",
        "negative-price.yaml:6:30",
        &["`input_per_mtok`", "-1"],
    ),
    (
        "rag-overlap.yaml",
        "rag-overlap.yaml:17:36",
        &["`overlap` must be smaller than `tokens`"],
    ),
    (
        "rag-no-embedder.yaml",
        "rag-no-embedder.yaml:17:16",
        &["retriever `hybrid` needs `embedder`"],
    ),
    (
        "rag-glob-no-match.yaml",
        "rag-glob-no-match.yaml:16:25",
        &["corpus glob \"policy/**/*.md\" matches no file"],
    ),
    (
        "rag-bad-rerank.yaml",
        "rag-bad-rerank.yaml:18:13",
        &[
            "rag.policy.rerank",
            "mmr `lambda` must be between 0 and 1, not 2",
        ],
    ),
    (
        "rag-unknown-rewrite-template.yaml",
        "rag-unknown-rewrite-template.yaml:18:32",
        &["unknown template `rewrite`", "base"],
    ),
    (
        "rubric-duplicate.yaml",
        "rubric-duplicate.yaml:16:25",
        &["`scale` must be at least 2"],
    ),
    (
        "api-key-in-file.yaml",
        "api-key-in-file.yaml:6:18",
        &["`api_key_env`", "never the key itself"],
    ),
    (
        "bad-base-url.yaml",
        "bad-base-url.yaml:5:15",
        &["`base_url`", "http://"],
    ),
    (
        "several-problems.yaml",
        "several-problems.yaml:11:26",
        &["unknown template `nope`"],
    ),
];

fn loupe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs loupe")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_bad_session_is_reported_with_its_place() {
    let mut failures = Vec::new();
    for (fixture, place, words) in CASES {
        let out = loupe(&["check", &format!("{BAD}/{fixture}")]);
        let stderr = text(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        let expected = format!("{BAD}/{place}: ");
        let mut wrong = Vec::new();
        if out.status.code() != Some(2) {
            wrong.push(format!("exit {:?}, not 2", out.status.code()));
        }
        if stderr.contains("panicked") {
            wrong.push("panicked".to_owned());
        }
        if !first.starts_with(&expected) {
            wrong.push(format!("first line does not start with {expected:?}"));
        }
        for w in *words {
            if !first.contains(w) {
                wrong.push(format!("first line lacks {w:?}"));
            }
        }
        if !out.stdout.is_empty() {
            wrong.push(format!("stdout not empty: {}", text(&out.stdout)));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{fixture}: {}\n  stderr: {stderr}",
                wrong.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_fixture_has_an_expectation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(BAD);
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixtures").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_yaml = Path::new(&name).extension().is_some_and(|e| e == "yaml");
        if is_yaml && !CASES.iter().any(|(f, ..)| *f == name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "no row in CASES for {missing:?}");
    assert!(CASES.len() >= 30);
}

#[test]
fn all_problems_are_listed_in_file_order_then_counted() {
    let out = loupe(&["check", &format!("{BAD}/several-problems.yaml")]);
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let f = format!("{BAD}/several-problems.yaml");
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{f}:11:26: unknown template `nope`")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("{f}:12:39: unknown model `none`")),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!("{f}:15:10: `repeats`")),
        "{stderr}"
    );
    assert_eq!(lines[3], format!("error: 3 problems in {f}"));
}

#[test]
fn a_missing_session_file_is_an_input_error() {
    let out = loupe(&["check", "tests/fixtures/sessions/nope.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("nope.yaml: cannot read the session file"),
        "{stderr}"
    );
}

#[test]
fn good_sessions_check_ok() {
    for (fixture, summary) in [
        ("full.yaml", "ok: 3 variants, 3 cases, 2 templates\n"),
        ("csv.yaml", "ok: 1 variant, 2 cases, 1 template\n"),
        ("yaml-cases.yaml", "ok: 1 variant, 2 cases, 1 template\n"),
        ("inline.yaml", "ok: 2 variants, 2 cases, 3 templates\n"),
    ] {
        let out = loupe(&["check", &format!("{GOOD}/{fixture}")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{fixture}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), summary, "{fixture}");
        assert!(out.stderr.is_empty(), "{fixture}: {}", text(&out.stderr));
    }
}

#[test]
fn render_prints_the_messages_with_role_headers() {
    let out = loupe(&[
        "render",
        &format!("{GOOD}/full.yaml"),
        "--variant",
        "prompt",
        "--case",
        "drop-table",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("=== ")).collect();
    assert_eq!(
        headers,
        [
            "=== system ===",
            "=== user ===",
            "=== assistant ===",
            "=== user ==="
        ]
    );
    assert!(
        stdout.contains("<request>Drop the legacy orders table tonight.</request>"),
        "{stdout}"
    );
}

#[test]
fn render_json_is_the_exact_messages() {
    let out = loupe(&[
        "render",
        &format!("{GOOD}/full.yaml"),
        "--variant",
        "prompt+rag",
        "--case",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let messages: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let messages = messages.as_array().expect("a list");
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[3]["role"], "user");
    let user = messages[3]["content"].as_str().expect("text");
    assert!(user.starts_with("Policy excerpts:\n"), "{user}");
    assert!(
        user.contains("<request>Rotate the TLS certificate.</request>"),
        "{user}"
    );
    // A RAG variant is rendered without retrieval, and says so.
    assert!(text(&out.stderr).contains("`passages` is empty"));
}

#[test]
fn render_names_what_it_cannot_find() {
    let session = format!("{GOOD}/full.yaml");
    let out = loupe(&["render", &session, "--variant", "nope", "--case", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no variant `nope`"),
        "{}",
        text(&out.stderr)
    );
    let out = loupe(&["render", &session, "--variant", "prompt", "--case", "99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no case `99`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn render_reports_a_missing_variable_with_its_place() {
    let out = loupe(&[
        "render",
        &format!("{BAD}/missing-variable.yaml"),
        "--variant",
        "a",
        "--case",
        "second",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("missing-variable.yaml:12:7: template `base` (user), line 2: undefined variable `question` for case `second`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn an_unreadable_cases_file_is_one_problem_and_a_bom_is_not_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = |cases: &str| {
        format!(
            "name: s\nmodels:\n  m: {{ provider: openai, base_url: \"http://127.0.0.1:9/v1\", model: x }}\ntemplates:\n  t:\n    user: \"Q: {{{{ text }}}}\"\nvariants:\n  - {{ name: a, template: t, model: m }}\ncases: {{ file: {cases} }}\n"
        )
    };
    // Every line malformed: the lines are the problems, not also "no cases".
    std::fs::write(dir.path().join("bad.jsonl"), "{\"text\": \n[1, 2]\n").expect("write");
    std::fs::write(dir.path().join("bad.yaml"), session("bad.jsonl")).expect("write");
    let out = loupe(&[
        "check",
        dir.path().join("bad.yaml").to_str().expect("utf-8"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr.contains("no cases"), "{stderr}");
    assert!(stderr.contains("error: 2 problems in"), "{stderr}");

    // A byte-order mark before the first row is not a syntax error.
    std::fs::write(dir.path().join("bom.jsonl"), "\u{feff}{\"text\": \"hi\"}\n").expect("write");
    std::fs::write(dir.path().join("bom.yaml"), session("bom.jsonl")).expect("write");
    let out = loupe(&[
        "check",
        dir.path().join("bom.yaml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
