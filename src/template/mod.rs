//! Prompt templates: inheritance resolved, versions content-addressed, rendered into the
//! exact messages sent to a model.
//!
//! A template is a system prompt, few-shot examples and a user message, each a minijinja
//! template over the case's variables (plus `case` and `passages`), and an optional output
//! JSON Schema. Rendering is strict: a variable the case does not have is an error, never
//! an empty string silently sent to a model.

mod render;
mod request;
mod resolve;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::spec::{Example, now_ms};
use crate::store::TemplateVersionRecord;

pub use render::{Renderer, TemplateErrors};
pub use request::{QueryVars, build_rag_request, build_request};
pub(crate) use resolve::origin;
pub use resolve::{InheritError, chain, flatten};

/// A template with `inherits` applied and its output schema loaded and compiled.
#[derive(Debug, Clone)]
pub struct ResolvedTemplate {
    pub name: String,
    pub system: Option<String>,
    pub examples: Vec<Example>,
    pub user: String,
    pub output_schema: Option<OutputSchema>,
}

/// An output JSON Schema, kept as written (it is part of the template version and may be
/// sent as a response format) and compiled once.
#[derive(Debug, Clone)]
pub struct OutputSchema {
    pub json: serde_json::Value,
    pub validator: Arc<jsonschema::Validator>,
}

/// A retrieved passage, as a template sees it in `passages`: `p.id` (what an answer
/// cites), `p.text`, `p.source` (the document's path), `p.headings` (the headings it sits
/// under, outermost first) and `p.score` (its rank score after reranking).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    pub id: String,
    pub text: String,
    pub score: f64,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub headings: Vec<String>,
}

/// Which part of a template: errors name it so a person knows which text to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    System,
    /// The user turn of example N (0-based).
    ExampleUser(usize),
    /// The assistant turn of example N (0-based).
    ExampleAssistant(usize),
    User,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::System => f.write_str("system"),
            Part::ExampleUser(i) => write!(f, "example {} user", i + 1),
            Part::ExampleAssistant(i) => write!(f, "example {} assistant", i + 1),
            Part::User => f.write_str("user"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("no template named `{0}`")]
    Unknown(String),
    #[error("template `{template}` ({part}), line {line}: syntax error: {message}")]
    Syntax {
        template: String,
        part: Part,
        line: usize,
        message: String,
    },
    #[error(
        "template `{template}` ({part}), line {line}: undefined variable `{variable}` for case `{case}`"
    )]
    Undefined {
        template: String,
        part: Part,
        line: usize,
        variable: String,
        case: String,
    },
    #[error("template `{template}` ({part}), line {line}: {message} (case `{case}`)")]
    Render {
        template: String,
        part: Part,
        line: usize,
        message: String,
        case: String,
    },
}

impl TemplateError {
    /// The template, part and line (within the part) the error is about, when there is one.
    pub fn place(&self) -> Option<(&str, Part, usize)> {
        match self {
            TemplateError::Unknown(_) => None,
            TemplateError::Syntax {
                template,
                part,
                line,
                ..
            }
            | TemplateError::Undefined {
                template,
                part,
                line,
                ..
            }
            | TemplateError::Render {
                template,
                part,
                line,
                ..
            } => Some((template, *part, *line)),
        }
    }

    /// What is wrong, without the place (which [`TemplateError::place`] gives).
    pub fn detail(&self) -> String {
        match self {
            TemplateError::Unknown(name) => format!("no template named `{name}`"),
            TemplateError::Syntax { message, .. } => format!("syntax error: {message}"),
            TemplateError::Undefined { variable, case, .. } => {
                format!("undefined variable `{variable}` for case `{case}`")
            }
            TemplateError::Render { message, case, .. } => format!("{message} (case `{case}`)"),
        }
    }
}

/// The canonical form of a template: what its version hashes, and what a stored version
/// holds. It reads back as a [`TemplateSpec`] (with the schema inline), so a version can be
/// restored. Object keys are sorted so that reordering a schema file's keys is not a new
/// version.
pub fn canonical(t: &ResolvedTemplate) -> serde_json::Value {
    let mut value = serde_json::json!({
        "system": t.system,
        "examples": t.examples,
        "user": t.user,
        "output_schema": t.output_schema.as_ref().map(|s| &s.json),
    });
    value.sort_all_objects();
    value
}

/// A template version: blake3 hex of the canonical form's compact JSON.
pub fn version_hash(t: &ResolvedTemplate) -> String {
    blake3::hash(canonical(t).to_string().as_bytes())
        .to_hex()
        .to_string()
}

/// The version record of `t`, the template named `template` in the session named `session`,
/// ready to store.
pub fn version_record(
    session: &str,
    template: &str,
    t: &ResolvedTemplate,
) -> TemplateVersionRecord {
    TemplateVersionRecord {
        hash: version_hash(t),
        session: session.to_owned(),
        template: template.to_owned(),
        content: canonical(t),
        output_schema: t.output_schema.as_ref().map(|s| s.json.clone()),
        created_ms: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(schema: Option<serde_json::Value>) -> ResolvedTemplate {
        ResolvedTemplate {
            name: "t".into(),
            system: Some("sys".into()),
            examples: vec![Example {
                user: "u".into(),
                assistant: "a".into(),
            }],
            user: "{{ text }}".into(),
            output_schema: schema.map(|json| OutputSchema {
                validator: Arc::new(jsonschema::validator_for(&json).expect("valid schema")),
                json,
            }),
        }
    }

    #[test]
    fn version_ignores_key_order_but_not_content() {
        let a = template(Some(
            serde_json::json!({"type": "object", "required": ["a"]}),
        ));
        let b = template(Some(
            serde_json::json!({"required": ["a"], "type": "object"}),
        ));
        let c = template(Some(
            serde_json::json!({"required": ["b"], "type": "object"}),
        ));
        assert_eq!(version_hash(&a), version_hash(&b));
        assert_ne!(version_hash(&a), version_hash(&c));
        assert_eq!(version_hash(&a).len(), 64);
    }

    #[test]
    fn version_ignores_the_name() {
        let a = template(None);
        let mut b = template(None);
        b.name = "other".into();
        assert_eq!(version_hash(&a), version_hash(&b));
    }

    #[test]
    fn canonical_form_reads_back_as_a_spec() {
        let t = template(Some(serde_json::json!({"type": "object"})));
        let spec: crate::spec::TemplateSpec =
            serde_json::from_value(canonical(&t)).expect("a spec");
        assert_eq!(spec.user.as_deref(), Some("{{ text }}"));
        assert_eq!(spec.examples.map(|e| e.len()), Some(1));
        assert!(spec.output_schema.is_some());
    }

    #[test]
    fn parts_name_themselves_for_people() {
        assert_eq!(Part::ExampleAssistant(0).to_string(), "example 1 assistant");
        assert_eq!(Part::System.to_string(), "system");
    }
}
