//! Valid sessions load with everything resolved; the helpers others use work on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use loupe::eval::spec::CheckSpec;
use loupe::providers::Role;
use loupe::session::{self, ProblemKind, Session, SessionError, TemplateSpec};
use loupe::template::{self, Passage, TemplateError};

fn good(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sessions/good")
        .join(name)
}

fn load(name: &str) -> Session {
    session::load(&good(name)).unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

#[test]
fn the_design_session_loads_whole() {
    let s = load("full.yaml");
    assert_eq!(s.file.name, "change-risk");
    assert_eq!(s.dir, good(""));
    assert_eq!(
        s.hash,
        blake3::hash(s.source.as_bytes()).to_hex().to_string()
    );
    assert_eq!(s.file.repeats, 2);

    let ids: Vec<&str> = s.cases.iter().map(|c| c.id.as_str()).collect();
    // The blank line is skipped: the third row is row 3.
    assert_eq!(ids, ["log-level", "drop-table", "case-3"]);
    let drop = s.case("drop-table").expect("by id");
    assert_eq!(drop.reference.as_deref(), Some(r#"{"risk":"high"}"#));
    assert_eq!(drop.gold.as_deref(), Some("fine-tuned"));
    assert_eq!(drop.split.as_deref(), Some("eval"));
    assert_eq!(s.case("3").map(|c| c.id.as_str()), Some("case-3"));
    assert_eq!(s.case("0"), None);
    assert_eq!(s.case_location(1).map(|l| l.line), Some(2));

    assert_eq!(
        s.model_for("fine-tuned").map(|m| m.model.as_str()),
        Some("ft:small:acme:risk-v3")
    );
    assert_eq!(
        s.variant("prompt+rag").and_then(|v| v.rag.as_deref()),
        Some("policy")
    );
    assert!(s.variant("nope").is_none());

    let grounded = &s.templates["grounded"];
    let baseline = &s.templates["baseline"];
    assert_eq!(grounded.system, baseline.system, "inherited");
    assert_eq!(grounded.examples.len(), 1);
    assert!(grounded.user.starts_with("Policy excerpts:"));
    let schema = grounded.output_schema.as_ref().expect("inherited schema");
    assert_eq!(schema.json["required"][1], "risk");
    assert!(
        schema
            .validator
            .is_valid(&serde_json::json!({"title": "t", "risk": "low", "rationale": "r"}))
    );
    assert!(
        !schema
            .validator
            .is_valid(&serde_json::json!({"risk": "none"}))
    );
    assert_eq!(
        template::version_hash(grounded),
        template::version_hash(&s.templates["grounded"])
    );
    assert_ne!(
        template::version_hash(grounded),
        template::version_hash(baseline)
    );
}

#[test]
fn checks_for_a_variant_are_global_then_its_own() {
    let s = load("full.yaml");
    let names = |v: &str| -> Vec<&'static str> {
        s.checks_for(v).iter().map(CheckSpec::kind_name).collect()
    };
    assert_eq!(names("prompt"), ["json_schema", "regex", "max_latency_ms"]);
    assert_eq!(
        names("fine-tuned"),
        ["json_schema", "regex", "max_latency_ms", "max_cost"]
    );
}

#[test]
fn csv_cases_split_tags_and_read_vars() {
    let s = load("csv.yaml");
    let q1 = &s.cases[0];
    assert_eq!(q1.id, "q1");
    assert_eq!(q1.tags, ["common", "science"]);
    assert_eq!(q1.reference.as_deref(), Some("Rayleigh scattering"));
    let q2 = &s.cases[1];
    assert_eq!(q2.id, "case-2", "an empty id cell gets the default");
    assert!(q2.tags.is_empty());
    assert_eq!(q2.reference, None);
    assert_eq!(q2.vars["question"], "Pourquoi, pourquoi?");
    assert_eq!(q2.vars["tone"], "formal");
    assert_eq!(s.case_location(1).map(|l| l.line), Some(3));
    // The schema file is YAML.
    assert!(s.templates["ask"].output_schema.is_some());
}

#[test]
fn yaml_cases_and_strict_rendering_with_defaults() {
    let s = load("yaml-cases.yaml");
    let r = s.renderer().expect("compiles");
    let first = r.render("ask", &s.cases[0], &[]).expect("renders");
    assert_eq!(first[0].content, "Answer in en.");
    let second = r.render("ask", &s.cases[1], &[]).expect("renders");
    assert_eq!(second[0].content, "Answer in fr.");
    assert_eq!(second[1].content, "And 3 + 3?");
    assert_eq!(s.case_location(1).map(|l| l.line), Some(4));
}

#[test]
fn inheritance_over_three_levels_and_inline_schemas() {
    let s = load("inline.yaml");
    let leaf = &s.templates["leaf"];
    assert_eq!(leaf.system.as_deref(), Some("Be very brief."));
    assert!(
        leaf.examples.is_empty(),
        "`examples: []` clears inherited examples"
    );
    assert_eq!(leaf.user, "{{ q }}");
    assert!(leaf.output_schema.is_some());
    assert_eq!(s.cases[1].tags, ["edge"]);

    let r = s.renderer().expect("compiles");
    let msgs = r.render("root", &s.cases[0], &[]).expect("renders");
    let roles: Vec<Role> = msgs.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::System, Role::User, Role::Assistant, Role::User]
    );
    assert_eq!(msgs[3].content, "3+3?");
    assert!(r.schema_validator("leaf").expect("known").is_some());
    assert_eq!(
        r.schema_json("root").map(|v| v["type"].clone()),
        Some("object".into())
    );
}

#[test]
fn passages_reach_the_template() {
    let s = load("full.yaml");
    let r = s.renderer().expect("compiles");
    let passages = vec![
        Passage {
            id: "p1".into(),
            text: "Backups first.".into(),
            score: 0.9,
            source: "policy/backups.md".into(),
            headings: Vec::new(),
        },
        Passage {
            id: "p2".into(),
            text: "No Friday deploys.".into(),
            score: 0.4,
            source: "policy/freeze.md".into(),
            headings: Vec::new(),
        },
    ];
    let msgs = r
        .render("grounded", &s.cases[0], &passages)
        .expect("renders");
    let user = &msgs.last().expect("a user message").content;
    assert!(
        user.contains("[p1] Backups first.\n[p2] No Friday deploys.\n"),
        "{user}"
    );
}

#[test]
fn edited_templates_resolve_version_and_preview() {
    let s = load("inline.yaml");
    let mut specs = s.template_specs();
    assert_eq!(s.resolve_templates(&specs).expect("same").len(), 3);
    let before = s.template_version(&specs, "leaf").expect("a version");
    assert_eq!(before.hash, template::version_hash(&s.templates["leaf"]));
    assert_eq!(before.session, "inline");
    let restored: TemplateSpec = serde_json::from_value(before.content.clone()).expect("a spec");
    assert_eq!(restored.user.as_deref(), Some("{{ q }}"));

    specs.get_mut("root").expect("root").user = Some("Q: {{ q }}".into());
    let after = s.template_version(&specs, "leaf").expect("a version");
    assert_ne!(
        after.hash, before.hash,
        "a parent's edit is a new version of the child"
    );
    let preview = s.preview(&specs, "leaf", 0).expect("renders");
    assert_eq!(preview.last().map(|m| m.content.as_str()), Some("Q: 3+3?"));

    let edited = s.with_templates(&specs).expect("valid");
    assert_eq!(edited.templates["root"].user, "Q: {{ q }}");
    assert_eq!(edited.cases, s.cases);

    specs.get_mut("mid").expect("mid").inherits = Some("nowhere".into());
    let Err(SessionError::Invalid(problems)) = s.with_templates(&specs) else {
        panic!("an unknown parent is an error");
    };
    assert!(matches!(problems[0].kind, ProblemKind::Unknown { ref name, .. } if name == "nowhere"));
    assert!(s.template_version(&s.template_specs(), "nope").is_err());
}

#[test]
fn check_session_reports_each_failure_once_with_a_count() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sessions/bad/missing-variable.yaml");
    let s = session::load(&path).expect("loads: rendering is checked apart");
    let problems = loupe::session::check_session(&s);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let ProblemKind::Template {
        error, more_cases, ..
    } = &problems[0].kind
    else {
        panic!("{problems:?}");
    };
    assert_eq!(*more_cases, 1);
    assert!(
        matches!(error, TemplateError::Undefined { variable, case, .. } if variable == "question" && case == "second")
    );
    assert_eq!((problems[0].at.line, problems[0].at.col), (12, 7));
}

#[test]
fn writing_templates_back_keeps_the_rest_of_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inline.yaml");
    std::fs::copy(good("inline.yaml"), &path).expect("copy");
    let s = session::load(&path).expect("loads");
    let mut specs: HashMap<String, TemplateSpec> = s.template_specs();
    specs.get_mut("root").expect("root").user = Some("Question:\n{{ q }}\n".into());
    specs.insert(
        "extra".into(),
        TemplateSpec {
            inherits: Some("root".into()),
            system: Some("Be kind.".into()),
            ..TemplateSpec::default()
        },
    );
    session::write_templates(&s, &specs).expect("writes");

    let again = session::load(&path).expect("the written file loads");
    assert_eq!(
        again.file.templates.keys().collect::<Vec<_>>(),
        ["root", "mid", "leaf", "extra"]
    );
    assert_eq!(again.templates["root"].user, "Question:\n{{ q }}\n");
    assert_eq!(again.templates["extra"].system.as_deref(), Some("Be kind."));
    assert_eq!(again.file.variants, s.file.variants);
    assert_eq!(again.cases, s.cases);
    assert!(
        again.source.starts_with("name: inline\nmodels:\n"),
        "{}",
        again.source
    );
    assert!(
        again.source.contains("checks:\n  - json_schema\n"),
        "{}",
        again.source
    );
}
