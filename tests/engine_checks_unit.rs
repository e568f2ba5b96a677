//! Every check kind: how it is written, what passes, what fails and what the reason says.

use std::path::Path;

use loupe::eval::checks::{
    CheckInput, CompiledCheck, JsonSource, compile_schema, extract_json, run_checks, validate_json,
};
use loupe::eval::spec::{CheckResult, CheckSpec, JudgeSpec, MatchSpec, MinSpec, TextSpec};
use loupe::session::Case;
use serde_json::json;

fn case(reference: Option<&str>) -> Case {
    Case {
        id: "case-1".into(),
        vars: serde_json::Map::new(),
        reference: reference.map(str::to_owned),
        tags: Vec::new(),
        split: None,
        gold: None,
        relevant: Vec::new(),
    }
}

fn input<'a>(text: &'a str, case: &'a Case) -> CheckInput<'a> {
    CheckInput {
        text,
        case,
        latency_ms: 1200,
        ttft_ms: Some(300),
        cost_usd: Some(0.0015),
        output_tokens: 120,
        schema: None,
        passages: &[],
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Checks {
    checks: Vec<CheckSpec>,
}

fn parse(yaml: &str) -> Vec<CheckSpec> {
    serde_yaml::from_str::<Checks>(yaml)
        .expect("valid checks")
        .checks
}

/// Compiles one check from its YAML list item and runs it on `text`.
fn run_one(item: &str, text: &str, case: &Case) -> CheckResult {
    let specs = parse(&format!("checks:\n  - {item}\n"));
    let compiled = CompiledCheck::compile(&specs[0], Path::new(".")).expect("compiles");
    let mut results = run_checks(&[compiled], &input(text, case));
    assert_eq!(results.len(), 1);
    results.remove(0)
}

fn parse_err(yaml: &str) -> (String, usize, usize) {
    let e = serde_yaml::from_str::<Checks>(yaml).expect_err("should not parse");
    let loc = e.location().expect("error has a location");
    (e.to_string(), loc.line(), loc.column())
}

// --- spec --------------------------------------------------------------------------------

#[test]
fn every_documented_form_parses() {
    let specs = parse(
        r#"
checks:
  - json_valid
  - json_schema
  - { json_schema: { schema: schemas/x.json } }
  - { json_schema: { schema: { type: object, required: [risk] } } }
  - { regex: { path: /risk, pattern: "^(low|medium|high)$" } }
  - { contains: { value: "risk", ignore_case: true } }
  - { not_contains: { value: "As an AI" } }
  - { equals: { path: /n, value: 3 } }
  - { bleu: { min: 0.3 } }
  - { rouge_l: { min: 0.5 } }
  - similarity
  - { max_latency_ms: 3000 }
  - { max_ttft_ms: 500 }
  - { max_cost: 0.002 }
  - { max_output_tokens: 256 }
  - pii
  - { pii: null }
  - { judge: { template: grader, model: big } }
"#,
    );
    assert_eq!(specs.len(), 18);
    assert_eq!(specs[1], CheckSpec::JsonSchema(None));
    assert_eq!(
        specs[4],
        CheckSpec::Regex(MatchSpec {
            path: Some("/risk".into()),
            pattern: "^(low|medium|high)$".into(),
            ignore_case: false,
        })
    );
    assert_eq!(
        specs[5],
        CheckSpec::Contains(TextSpec {
            path: None,
            value: "risk".into(),
            reference: None,
            ignore_case: true,
        })
    );
    assert_eq!(
        specs[7],
        CheckSpec::Equals(TextSpec {
            path: Some("/n".into()),
            value: "3".into(),
            reference: None,
            ignore_case: false,
        })
    );
    assert_eq!(specs[8], CheckSpec::Bleu(MinSpec { min: 0.3 }));
    assert_eq!(specs[10], CheckSpec::Similarity(MinSpec { min: 0.0 }));
    assert_eq!(specs[13], CheckSpec::MaxCost(0.002));
    assert_eq!(specs[16], CheckSpec::Pii);
    assert_eq!(
        specs[17],
        CheckSpec::Judge(JudgeSpec {
            template: "grader".into(),
            model: "big".into(),
            pairs: Vec::new(),
        })
    );

    // Both YAML and JSON (the store) read back what they write.
    let yaml = serde_yaml::to_string(&specs).expect("yaml");
    assert!(yaml.starts_with("- json_valid\n- json_schema\n"), "{yaml}");
    let back: Vec<CheckSpec> = serde_yaml::from_str(&yaml).expect("yaml back");
    assert_eq!(back, specs);
    let js = serde_json::to_string(&specs).expect("json");
    let back: Vec<CheckSpec> = serde_json::from_str(&js).expect("json back");
    assert_eq!(back, specs);
}

#[test]
fn malformed_specs_fail_with_a_location() {
    let (msg, line, col) = parse_err("checks:\n  - json_valid\n  - jsn_valid\n");
    assert!(msg.contains("unknown check `jsn_valid`"), "{msg}");
    assert!(msg.contains("json_valid, json_schema"), "{msg}");
    assert_eq!((line, col), (3, 5));

    let (msg, line, _) = parse_err("checks:\n  - { regex: { pattern: x, pth: /a } }\n");
    assert!(msg.contains("unknown field `pth`"), "{msg}");
    assert_eq!(line, 2);

    let (msg, line, _) = parse_err("checks:\n  - pii\n  - { regex: { pattern: \"(\" } }\n");
    assert!(msg.contains("invalid regex"), "{msg}");
    assert_eq!(line, 3);

    let (msg, _, _) = parse_err("checks:\n  - { bleu: { min: 30 } }\n");
    assert!(msg.contains("0..1 scale; did you mean 0.3?"), "{msg}");

    let (msg, line, col) = parse_err("checks:\n  - { max_latency_ms: fast }\n");
    assert!(msg.contains("expected u64"), "{msg}");
    assert_eq!((line, col), (2, 23));

    let (msg, _, _) = parse_err("checks:\n  - { max_latency_ms: 3, pii: null }\n");
    assert!(msg.contains("one check per list item"), "{msg}");

    let (msg, _, _) = parse_err("checks:\n  - regex\n");
    assert!(msg.contains("needs `{ regex: { pattern: ... } }`"), "{msg}");

    let (msg, _, _) = parse_err("checks:\n  - { contains: { path: risk, value: x } }\n");
    assert!(msg.contains("not a JSON pointer"), "{msg}");

    let (msg, _, _) = parse_err("checks:\n  - { json_schema: { schema: 3 } }\n");
    assert!(msg.contains("schema must be"), "{msg}");

    let (msg, _, _) = parse_err("checks:\n  - {}\n");
    assert!(msg.contains("empty map"), "{msg}");

    let (msg, _, _) = parse_err("checks:\n  - { max_cost: -1 }\n");
    assert!(msg.contains("non-negative"), "{msg}");
}

#[test]
fn names_identify_checks() {
    let specs = parse(
        r#"
checks:
  - { regex: { path: /risk, pattern: "^(low)$" } }
  - { regex: { pattern: "^\\{" } }
  - { contains: { value: risk } }
  - { equals: { path: /risk, value: low } }
  - { json_schema: { schema: { type: object } } }
  - { max_latency_ms: 10 }
"#,
    );
    let names: Vec<String> = specs
        .iter()
        .map(|s| {
            CompiledCheck::compile(s, Path::new("."))
                .expect("compiles")
                .name()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "regex /risk",
            "regex ^\\{",
            "contains \"risk\"",
            "equals /risk",
            "json_schema (inline)",
            "max_latency_ms"
        ]
    );
}

// --- JSON extraction and validation -----------------------------------------------------

#[test]
fn extract_json_rule() {
    let whole = extract_json("  {\"a\": 1}\n").expect("whole");
    assert_eq!(whole.source, JsonSource::Whole);
    assert_eq!(whole.value, json!({"a": 1}));
    assert_eq!(whole.span, 2..10);

    let bom = extract_json("\u{feff}[1, 2]").expect("bom");
    assert_eq!(bom.value, json!([1, 2]));

    let fenced = "Sure! Here it is:\n```json\n{\"risk\": \"low\"}\n```\nAnything else?";
    let f = extract_json(fenced).expect("fence");
    assert_eq!(f.source, JsonSource::Fence);
    assert_eq!(&fenced[f.span.clone()], "{\"risk\": \"low\"}");

    // A json-labelled block wins over an earlier unlabelled one.
    let two = "```\nnot json\n```\n```JSON\n[true]\n```";
    assert_eq!(extract_json(two).expect("two").value, json!([true]));

    // Unlabelled fence.
    assert_eq!(
        extract_json("```\n{\"x\": null}\n```")
            .expect("plain fence")
            .value,
        json!({"x": null})
    );

    // Prose around an object; brackets inside strings do not confuse the matcher; a
    // bracket that does not start JSON is skipped.
    let prose =
        "The answer [see below] is {\"t\": \"a } ] \\\" {\", \"n\": [1, {\"m\": 2}]} — done.";
    let p = extract_json(prose).expect("prose");
    assert_eq!(p.source, JsonSource::Embedded);
    assert_eq!(p.value, json!({"t": "a } ] \" {", "n": [1, {"m": 2}]}));

    // Scalars count only as the whole output.
    assert_eq!(extract_json("42").expect("scalar").value, json!(42));

    // Nothing found, or what went wrong where.
    assert_eq!(
        extract_json("no json here").expect_err("none"),
        "no JSON object or array found"
    );
    assert_eq!(
        extract_json("Sure: {\"a\": 1,}").expect_err("prose"),
        "in the JSON starting at line 1 column 7: trailing comma at line 1 column 9"
    );
    let e = extract_json("{\"a\":}").expect_err("whole");
    assert!(e.starts_with("expected value"), "{e}");
    // A broken json block: its own error.
    let e = extract_json("```json\n{\"a\": }\n```").expect_err("broken");
    assert!(e.starts_with("in the ```json block:"), "{e}");
}

#[test]
fn validate_json_gives_pointer_messages() {
    let schema = compile_schema(&json!({
        "type": "object",
        "required": ["title", "risk"],
        "properties": {
            "title": {"type": "string"},
            "risk": {"enum": ["low", "medium", "high"]},
            "items": {"type": "array", "items": {"type": "integer"}}
        },
        "additionalProperties": false
    }))
    .expect("schema");

    let ok = validate_json(
        &schema,
        "```json\n{\"title\": \"x\", \"risk\": \"low\"}\n```",
    );
    assert_eq!(ok.expect("valid"), json!({"title": "x", "risk": "low"}));

    let errs = validate_json(
        &schema,
        r#"{"risk": "urgent", "items": [1, "two"], "extra": 1}"#,
    )
    .expect_err("invalid");
    assert!(errs.iter().any(|e| e.starts_with("/risk: ")), "{errs:?}");
    assert!(errs.iter().any(|e| e.starts_with("/items/1: ")), "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/: ") && e.contains("title")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("/: ") && e.contains("extra")),
        "{errs:?}"
    );

    let errs = validate_json(&schema, "I cannot answer that.").expect_err("not json");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("/: not valid JSON"), "{errs:?}");
}

#[test]
fn draft_2020_12_features() {
    let schema = compile_schema(&json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": false
    }))
    .expect("schema");
    assert!(validate_json(&schema, r#"["a", 1]"#).is_ok());
    let errs = validate_json(&schema, r#"["a", "b"]"#).expect_err("bad");
    assert!(errs[0].starts_with("/1: "), "{errs:?}");
    assert!(validate_json(&schema, r#"["a", 1, 2]"#).is_err());
}

#[test]
fn json_valid_check() {
    let c = case(None);
    let r = run_one("json_valid", "{\"a\": 1}", &c);
    assert!(r.pass);
    assert_eq!(r.score, None);
    assert_eq!(r.reason, "valid JSON");
    let r = run_one("json_valid", "Here:\n```json\n[1]\n```", &c);
    assert!(r.pass);
    assert_eq!(r.reason, "valid JSON (in a fenced code block)");
    let r = run_one("json_valid", "{\"a\": 1,}", &c);
    assert!(!r.pass);
    assert!(
        r.reason.starts_with("not JSON: trailing comma"),
        "{}",
        r.reason
    );
}

#[test]
fn json_schema_check_sources() {
    let c = case(None);
    let template_schema = compile_schema(&json!({
        "type": "object",
        "properties": {"risk": {"enum": ["low", "medium", "high"]}},
        "required": ["risk"]
    }))
    .expect("schema");
    let bare = CompiledCheck::compile(&CheckSpec::JsonSchema(None), Path::new(".")).expect("c");

    // Bare: the template's schema from the input.
    let mut inp = input(r#"{"risk": "urgent"}"#, &c);
    inp.schema = Some(&template_schema);
    let r = bare.run(&inp).expect("result");
    assert!(!r.pass);
    assert!(r.reason.starts_with("/risk: "), "{}", r.reason);
    assert!(r.reason.contains("urgent"), "{}", r.reason);

    inp.text = r#"{"risk": "low"}"#;
    let r = bare.run(&inp).expect("result");
    assert!(r.pass, "{}", r.reason);
    assert_eq!(r.reason, "matches the schema");

    // Bare with no schema anywhere: fails and says why.
    let r = bare.run(&input("{}", &c)).expect("result");
    assert!(!r.pass);
    assert!(r.reason.contains("no output_schema"), "{}", r.reason);

    // Inline.
    let r = run_one(
        "{ json_schema: { schema: { type: object, required: [title] } } }",
        r#"{"risk": "low"}"#,
        &c,
    );
    assert!(!r.pass);
    assert!(
        r.reason.starts_with("/: ") && r.reason.contains("title"),
        "{}",
        r.reason
    );

    // Not JSON at all.
    let r = run_one("{ json_schema: { schema: true } }", "plain words", &c);
    assert!(!r.pass);
    assert!(r.reason.starts_with("not JSON"), "{}", r.reason);
}

#[test]
fn json_schema_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("schemas")).expect("mkdir");
    std::fs::write(
        dir.path().join("schemas/risk.json"),
        r#"{"type": "object", "properties": {"risk": {"type": "string"}}}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("schemas/risk.yaml"),
        "type: object\nproperties:\n  risk: { type: integer }\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("schemas/bad.json"), r#"{"type": "strnig"}"#).expect("write");

    let c = case(None);
    let specs = parse(
        "checks:\n  - { json_schema: { schema: schemas/risk.json } }\n  - { json_schema: { schema: schemas/risk.yaml } }\n",
    );
    let compiled = CompiledCheck::compile_all(&specs, dir.path()).expect("compile");
    let results = run_checks(&compiled, &input(r#"{"risk": 3}"#, &c));
    assert_eq!(results[0].name, "json_schema schemas/risk.json");
    assert!(!results[0].pass);
    assert!(
        results[0].reason.starts_with("/risk: "),
        "{}",
        results[0].reason
    );
    assert!(results[1].pass, "{}", results[1].reason);

    let missing = parse("checks:\n  - { json_schema: { schema: schemas/nope.json } }\n");
    let e = CompiledCheck::compile(&missing[0], dir.path()).expect_err("missing file");
    assert!(e.to_string().contains("cannot read schema"), "{e}");
    assert_eq!(e.check, "json_schema schemas/nope.json");

    let bad = parse("checks:\n  - { json_schema: { schema: schemas/bad.json } }\n");
    let e = CompiledCheck::compile(&bad[0], dir.path()).expect_err("bad schema");
    assert!(e.to_string().contains("invalid JSON Schema"), "{e}");
}

// --- text and pointer checks --------------------------------------------------------------

#[test]
fn regex_check() {
    let c = case(None);
    let item = r#"{ regex: { path: /risk, pattern: "^(low|medium|high)$" } }"#;
    let r = run_one(item, r#"{"risk": "urgent"}"#, &c);
    assert!(!r.pass);
    assert_eq!(
        r.reason,
        r#"/risk: "urgent" does not match ^(low|medium|high)$"#
    );
    assert_eq!(r.name, "regex /risk");

    let r = run_one(item, "```json\n{\"risk\": \"high\"}\n```", &c);
    assert!(r.pass, "{}", r.reason);
    assert_eq!(r.reason, r#"/risk: "high" matches ^(low|medium|high)$"#);

    let r = run_one(item, r#"{"level": "low"}"#, &c);
    assert!(!r.pass);
    assert_eq!(r.reason, "/risk: not found in the output's JSON");

    let r = run_one(item, "low", &c);
    assert!(!r.pass);
    assert!(
        r.reason.starts_with("/risk: the output is not JSON"),
        "{}",
        r.reason
    );

    // Numbers and nested values are matched as compact JSON; pointers reach into arrays.
    let r = run_one(
        r#"{ regex: { path: /items/1/n, pattern: "^[0-9]+$" } }"#,
        r#"{"items": [{"n": 1}, {"n": 42}]}"#,
        &c,
    );
    assert!(r.pass, "{}", r.reason);

    // Whole text; ignore_case.
    let r = run_one(
        r#"{ regex: { pattern: "risk: (LOW|HIGH)", ignore_case: true } }"#,
        "Risk: low.",
        &c,
    );
    assert!(r.pass, "{}", r.reason);
    let r = run_one(r#"{ regex: { pattern: "^\\d+$" } }"#, "12a", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, r"text does not match ^\d+$");
}

#[test]
fn contains_not_contains_equals() {
    let c = case(None);
    let r = run_one(
        "{ contains: { value: RISK, ignore_case: true } }",
        "The risk is low.",
        &c,
    );
    assert!(r.pass, "{}", r.reason);
    assert_eq!(r.reason, r#"text contains "risk""#);
    let r = run_one("{ contains: { value: RISK } }", "The risk is low.", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, r#"text does not contain "RISK""#);

    let r = run_one(
        r#"{ not_contains: { value: "As an AI" } }"#,
        "As an AI, I think...",
        &c,
    );
    assert!(!r.pass);
    assert_eq!(r.reason, r#"text contains "As an AI""#);
    let r = run_one(
        r#"{ not_contains: { value: "As an AI" } }"#,
        "Low risk.",
        &c,
    );
    assert!(r.pass);

    let r = run_one(
        "{ contains: { path: /rationale, value: cosmetic, ignore_case: true } }",
        r#"{"rationale": "Cosmetic change."}"#,
        &c,
    );
    assert!(r.pass, "{}", r.reason);
    assert_eq!(
        r.reason,
        r#"/rationale: "Cosmetic change." contains "cosmetic""#
    );

    let r = run_one(
        "{ equals: { path: /risk, value: low } }",
        r#"{"risk": "medium"}"#,
        &c,
    );
    assert!(!r.pass);
    assert_eq!(r.reason, r#"/risk: "medium" is not "low""#);
    let r = run_one(
        "{ equals: { path: /risk, value: LOW, ignore_case: true } }",
        r#"{"risk": "low"}"#,
        &c,
    );
    assert!(r.pass, "{}", r.reason);
    let r = run_one("{ equals: { path: /n, value: 3 } }", r#"{"n": 3}"#, &c);
    assert!(r.pass, "{}", r.reason);
    let r = run_one(
        "{ equals: { path: /ok, value: true } }",
        r#"{"ok": true}"#,
        &c,
    );
    assert!(r.pass, "{}", r.reason);

    // The whole text is compared trimmed.
    let r = run_one("{ equals: { value: yes } }", "yes\n", &c);
    assert!(r.pass, "{}", r.reason);
    let r = run_one("{ equals: { value: yes } }", "Yes.", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, r#"text "Yes." is not "yes""#);
}

#[test]
fn reasons_escape_and_shorten_output() {
    let c = case(None);
    let long = format!("{{\"risk\": \"\\u001b[2J{}\"}}", "x".repeat(200));
    let r = run_one(r#"{ regex: { path: /risk, pattern: "^low$" } }"#, &long, &c);
    assert!(!r.pass);
    assert!(!r.reason.contains('\u{1b}'), "{}", r.reason);
    assert!(r.reason.contains("\\u001b[2J"), "{}", r.reason);
    assert!(r.reason.chars().count() < 120, "{}", r.reason);
    assert!(r.reason.contains('…'));
}

// --- reference metrics ---------------------------------------------------------------------

#[test]
fn metric_checks() {
    let c = case(Some("The cat sat on the mat."));
    let r = run_one("{ bleu: { min: 0.3 } }", "The cat sat on the mat.", &c);
    assert!(r.pass);
    assert!((r.score.expect("score") - 1.0).abs() < 1e-12);
    assert_eq!(r.reason, "BLEU 1.000 >= 0.300");

    let r = run_one("{ bleu: { min: 0.3 } }", "A dog.", &c);
    assert!(!r.pass);
    assert!(r.score.expect("score") < 0.3);
    assert!(r.reason.contains("< 0.300"), "{}", r.reason);

    let r = run_one("{ rouge_l: { min: 0.5 } }", "the cat on a mat", &c);
    let s = r.score.expect("score");
    assert!(
        (s - 2.0 * 0.8 * (4.0 / 6.0) / (0.8 + 4.0 / 6.0)).abs() < 1e-12,
        "{s}"
    );
    assert!(r.pass);

    let r = run_one(
        "{ similarity: { min: 0.9 } }",
        "The cat sat on the mat!",
        &c,
    );
    let s = r.score.expect("score");
    assert!((s - (1.0 - 1.0 / 23.0)).abs() < 1e-12, "{s}");
    assert!(r.pass);

    // Bare metric: records the score, passes whenever there is a reference.
    let r = run_one("bleu", "nothing alike", &c);
    assert!(r.pass);
    assert_eq!(r.score, Some(0.0));

    let none = case(None);
    let r = run_one("{ rouge_l: { min: 0.1 } }", "anything", &none);
    assert!(!r.pass);
    assert_eq!(r.score, None);
    assert_eq!(r.reason, "case case-1 has no reference answer");
}

// --- limits ------------------------------------------------------------------------------

#[test]
fn limit_checks() {
    let c = case(None);
    let r = run_one("{ max_latency_ms: 1000 }", "x", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, "latency 1200 ms > 1000 ms");
    let r = run_one("{ max_latency_ms: 1200 }", "x", &c);
    assert!(r.pass);
    assert_eq!(r.reason, "latency 1200 ms <= 1200 ms");

    let r = run_one("{ max_ttft_ms: 250 }", "x", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, "time to first token 300 ms > 250 ms");

    let r = run_one("{ max_output_tokens: 100 }", "x", &c);
    assert!(!r.pass);
    assert_eq!(r.reason, "output tokens 120 > 100");

    let r = run_one("{ max_cost: 0.002 }", "x", &c);
    assert!(r.pass);
    assert_eq!(r.reason, "cost $0.001500 <= $0.002000");
    let r = run_one("{ max_cost: 0.001 }", "x", &c);
    assert!(!r.pass);

    let ttft = CompiledCheck::compile(&CheckSpec::MaxTtftMs(500), Path::new(".")).expect("c");
    let cost = CompiledCheck::compile(&CheckSpec::MaxCost(1.0), Path::new(".")).expect("c");
    let mut inp = input("x", &c);
    inp.ttft_ms = None;
    inp.cost_usd = None;
    let results = run_checks(&[ttft, cost], &inp);
    assert!(!results[0].pass);
    assert!(
        results[0].reason.contains("not streamed"),
        "{}",
        results[0].reason
    );
    assert!(!results[1].pass);
    assert!(
        results[1].reason.contains("no price"),
        "{}",
        results[1].reason
    );
}

// --- pii ---------------------------------------------------------------------------------

#[test]
fn pii_check_lists_kinds_without_values() {
    let c = case(None);
    let r = run_one("pii", "All clear: the change is low risk.", &c);
    assert!(r.pass);
    assert_eq!(r.reason, "no personal data or secrets found");

    let secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX0123";
    let text = format!(
        "Contact jane@example.com or +44 20 7946 0958; card 4111 1111 1111 1111; key {secret}"
    );
    let r = run_one("pii", &text, &c);
    assert!(!r.pass);
    assert_eq!(r.reason, "found 1 secret, 1 email, 1 card, 1 phone");
    assert!(!r.reason.contains(secret));
    assert!(!r.reason.contains("jane"));
}

// --- judge ---------------------------------------------------------------------------------

#[test]
fn judge_is_left_to_the_judge() {
    let c = case(None);
    let specs = parse("checks:\n  - { judge: { template: grader, model: big } }\n  - json_valid\n");
    assert!(specs[0].is_judge());
    let compiled = CompiledCheck::compile_all(&specs, Path::new(".")).expect("compile");
    assert_eq!(
        compiled[0].judge(),
        Some(&JudgeSpec {
            template: "grader".into(),
            model: "big".into(),
            pairs: Vec::new(),
        })
    );
    let results = run_checks(&compiled, &input("{}", &c));
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].name, "json_valid");
}

// --- weird input -------------------------------------------------------------------------

fn all_checks() -> Vec<CompiledCheck> {
    let specs = parse(
        r#"
checks:
  - json_valid
  - json_schema
  - { json_schema: { schema: { type: object, properties: { a: { type: array } } } } }
  - { regex: { path: /a/0, pattern: "x" } }
  - { regex: { pattern: "(a|b)*c" } }
  - { contains: { value: "é", ignore_case: true } }
  - { not_contains: { path: /a, value: "[" } }
  - { equals: { path: "", value: "{}" } }
  - { bleu: { min: 0.1 } }
  - { rouge_l: { min: 0.1 } }
  - { similarity: { min: 0.1 } }
  - { max_latency_ms: 1 }
  - { max_ttft_ms: 1 }
  - { max_cost: 0.0 }
  - { max_output_tokens: 1 }
  - pii
"#,
    );
    CompiledCheck::compile_all(&specs, Path::new(".")).expect("compile")
}

#[test]
fn weird_input_never_panics() {
    let checks = all_checks();
    let c = case(Some("a reference answer with some words"));
    let invalid_utf8: &[u8] = b"caf\xc3\xa9 \xff\xfe\xc3 {\"a\": [\"\xed\xa0\x80\"]} \x00\x1b[31m";
    let lossy = String::from_utf8_lossy(invalid_utf8).into_owned();
    let deep_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let unclosed = "{".repeat(50_000);
    let huge = "word 123 x@y.zz, {\"a\": [1]} ```json\n".repeat(5_000);
    let texts: Vec<&str> = vec![
        "",
        " ",
        "\n\n\n",
        "```",
        "```json",
        "```json\n",
        "{",
        "}",
        "[",
        "\"",
        "\\",
        "{\"a\":",
        "\u{feff}",
        "\u{0}\u{0}",
        &lossy,
        &deep_array,
        &deep_object,
        &unclosed,
        &huge,
    ];
    for text in texts {
        let results = run_checks(&checks, &input(text, &c));
        assert_eq!(results.len(), checks.len());
        for r in &results {
            assert!(!r.reason.is_empty(), "{}: empty reason", r.name);
            if let Some(s) = r.score {
                assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{}: {s}", r.name);
            }
        }
    }
    // Deep nesting is reported, not a stack overflow.
    let r = run_checks(&checks[..1], &input(&deep_array, &c));
    assert!(!r[0].pass);
    assert!(r[0].reason.contains("recursion limit"), "{}", r[0].reason);
}

#[test]
fn compiled_checks_are_shareable_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledCheck>();
    assert_send_sync::<CheckSpec>();
}

#[test]
fn equals_against_the_case_reference() {
    let reference = r#"{"title":"Drop table","risk":"high","rationale":"Irreversible."}"#;
    let c = case(Some(reference));
    let item = "{ equals: { path: /risk, reference: /risk } }";
    let r = run_one(item, r#"{"risk":"high"}"#, &c);
    assert!(r.pass, "{}", r.reason);
    assert_eq!(r.name, "equals /risk reference");
    let r = run_one(item, r#"{"risk":"low"}"#, &c);
    assert!(!r.pass);
    assert!(r.reason.contains("\"high\""), "{}", r.reason);
    // The whole reference text.
    let r = run_one(
        "{ equals: { reference: \"\" } }",
        &format!("{reference}\n"),
        &c,
    );
    assert!(r.pass, "{}", r.reason);
    // No reference, or nothing at the pointer: a failure that says why.
    let r = run_one(item, r#"{"risk":"high"}"#, &case(None));
    assert!(
        !r.pass && r.reason.contains("has no reference"),
        "{}",
        r.reason
    );
    let r = run_one(
        "{ equals: { path: /risk, reference: /severity } }",
        r#"{"risk":"high"}"#,
        &c,
    );
    assert!(
        !r.pass && r.reason.contains("nothing at /severity"),
        "{}",
        r.reason
    );
    // value and reference together, or reference on contains, are spec errors.
    let (msg, _, _) = parse_err("checks:\n  - { equals: { value: x, reference: /risk } }\n");
    assert!(msg.contains("not both"), "{msg}");
    let (msg, _, _) = parse_err("checks:\n  - { contains: { reference: /risk } }\n");
    assert!(msg.contains("equals"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Citations

fn cite(text: &str, yaml: &str, passages: &[String]) -> CheckResult {
    let case = case(None);
    let spec = parse(yaml).remove(0);
    let check = CompiledCheck::compile(&spec, Path::new(".")).expect("compiles");
    let inp = CheckInput {
        passages,
        ..input(text, &case)
    };
    check.run(&inp).expect("not a judge")
}

#[test]
fn citations_must_be_among_the_kept_passages() {
    let kept = vec!["policy/a.md#1".to_owned(), "policy/b.md#2".to_owned()];
    let ok = cite(
        "Deploys stop on Fridays [policy/a.md#1]. Backups first [policy/b.md#2, policy/a.md#1].",
        "checks: [citations]",
        &kept,
    );
    assert!(ok.pass, "{ok:?}");
    assert_eq!(ok.score, Some(1.0));
    let bad = cite(
        "Stop [policy/a.md#1]. Also [policy/z.md#9].",
        "checks: [citations]",
        &kept,
    );
    assert!(!bad.pass);
    assert!(
        bad.reason
            .contains("\"policy/z.md#9\" that is not among the 2 passages given"),
        "{}",
        bad.reason
    );
    let none = cite("No sources here.", "checks: [citations]", &kept);
    assert!(!none.pass);
    assert_eq!(none.reason, "cites no passage");
    let no_rag = cite("Anything [x].", "checks: [citations]", &[]);
    assert!(!no_rag.pass);
    assert!(
        no_rag.reason.contains("no passages were given"),
        "{}",
        no_rag.reason
    );
}

/// Three sentences, one citing: share 1/3, below a `min_share` of 0.5.
#[test]
fn citations_share_of_sentences_and_custom_pattern() {
    let kept = vec!["P1".to_owned()];
    let text = "Risk is high (source: P1). It deletes data! Nobody approved it?";
    let r = cite(
        text,
        r#"checks: [{ citations: { pattern: "source: (\\w+)", min_share: 0.5 } }]"#,
        &kept,
    );
    assert!(!r.pass);
    let share = r.score.expect("a share");
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{share}");
    assert!(
        r.reason
            .contains("1 of 3 sentences cite (33%), fewer than 50%"),
        "{}",
        r.reason
    );
    let low = cite(
        text,
        r#"checks: [{ citations: { pattern: "source: (\\w+)", min_share: 0.3 } }]"#,
        &kept,
    );
    assert!(low.pass, "{low:?}");
}

#[test]
fn citations_settings_are_validated() {
    let err =
        serde_yaml::from_str::<Checks>("checks: [{ citations: { pattern: \"\\\\[x\\\\]\" } }]")
            .expect_err("no group");
    assert!(err.to_string().contains("needs a group"), "{err}");
    let err = serde_yaml::from_str::<Checks>("checks: [{ citations: { min_share: 2 } }]")
        .expect_err("out of range");
    assert!(
        err.to_string()
            .contains("min_share must be between 0 and 1"),
        "{err}"
    );
    let round = parse("checks: [citations]");
    assert_eq!(
        serde_yaml::to_string(&round[0]).expect("ser").trim(),
        "citations"
    );
}
