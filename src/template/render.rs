//! Rendering: every template part compiled once into one minijinja environment, then
//! rendered per case into the exact messages sent.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};

use super::{OutputSchema, Part, Passage, ResolvedTemplate, TemplateError};
use crate::providers::{Message, Role};
use crate::spec::Case;

/// The names a template sees besides the case's own variables.
const CASE_VAR: &str = "case";
const PASSAGES_VAR: &str = "passages";

/// A session's templates, compiled once: rendering a case costs one pass over each part,
/// so thousands of cases do not re-parse anything.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
    templates: IndexMap<String, Compiled>,
}

#[derive(Debug)]
struct Compiled {
    /// Each part and the name it has in the environment, in the order messages are sent.
    parts: Vec<(Part, String)>,
    schema: Option<OutputSchema>,
}

/// Every template error found while compiling, one per line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct TemplateErrors(pub Vec<TemplateError>);

impl fmt::Display for TemplateErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Renderer {
    /// Compiles these templates; fails with every syntax error found.
    pub fn from_templates(
        templates: &IndexMap<String, ResolvedTemplate>,
    ) -> Result<Self, TemplateErrors> {
        let (renderer, errors) = Self::compile(templates);
        if errors.is_empty() {
            Ok(renderer)
        } else {
            Err(TemplateErrors(errors))
        }
    }

    /// Compiles what compiles: a template with a syntax error in any part is left out, and
    /// its errors returned, so a check can still render the others.
    pub(crate) fn compile(
        templates: &IndexMap<String, ResolvedTemplate>,
    ) -> (Self, Vec<TemplateError>) {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Prompts are not HTML: a `<request>` tag or a quote must reach the model as typed.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // The text sent is the text written, final newline included.
        env.set_keep_trailing_newline(true);
        let mut compiled = IndexMap::new();
        let mut errors = Vec::new();
        for (n, (name, t)) in templates.iter().enumerate() {
            let mut parts = Vec::new();
            let mut ok = true;
            for (part, source) in parts_of(t) {
                let key = format!("{n}:{part}");
                match env.add_template_owned(key.clone(), source.to_owned()) {
                    Ok(()) => parts.push((part, key)),
                    Err(e) => {
                        ok = false;
                        errors.push(TemplateError::Syntax {
                            template: name.clone(),
                            part,
                            line: e.line().unwrap_or(1),
                            message: e
                                .detail()
                                .map_or_else(|| e.kind().to_string(), str::to_owned),
                        });
                    }
                }
            }
            if ok {
                compiled.insert(
                    name.clone(),
                    Compiled {
                        parts,
                        schema: t.output_schema.clone(),
                    },
                );
            }
        }
        (
            Renderer {
                env,
                templates: compiled,
            },
            errors,
        )
    }

    /// Whether `template` compiled.
    pub fn has(&self, template: &str) -> bool {
        self.templates.contains_key(template)
    }

    /// The messages `template` sends for `case`: system (if any), each example as a user
    /// and an assistant turn, then the user message.
    pub fn render(
        &self,
        template: &str,
        case: &Case,
        passages: &[Passage],
    ) -> Result<Vec<Message>, TemplateError> {
        self.render_with(template, case, passages, &[])
    }

    /// As [`Renderer::render`], with `extra` text variables on top of the case's (a judge
    /// template sees the two outputs it compares this way). An extra variable shadows a
    /// case variable of the same name.
    pub fn render_with(
        &self,
        template: &str,
        case: &Case,
        passages: &[Passage],
        extra: &[(&str, &str)],
    ) -> Result<Vec<Message>, TemplateError> {
        let compiled = self
            .templates
            .get(template)
            .ok_or_else(|| TemplateError::Unknown(template.to_owned()))?;
        let ctx = context(case, passages, extra);
        compiled
            .parts
            .iter()
            .map(|(part, key)| {
                let role = match part {
                    Part::System => Role::System,
                    Part::ExampleUser(_) | Part::User => Role::User,
                    Part::ExampleAssistant(_) => Role::Assistant,
                };
                self.render_part(template, *part, key, &ctx, case)
                    .map(|content| Message { role, content })
            })
            .collect()
    }

    fn render_part(
        &self,
        template: &str,
        part: Part,
        key: &str,
        ctx: &Value,
        case: &Case,
    ) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(key)
            .map_err(|_| TemplateError::Unknown(template.to_owned()))?;
        tmpl.render(ctx).map_err(|e| {
            let line = e.line().unwrap_or(1);
            if e.kind() == ErrorKind::UndefinedError {
                TemplateError::Undefined {
                    template: template.to_owned(),
                    part,
                    line,
                    variable: undefined_name(tmpl.source(), &e, case),
                    case: case.id.clone(),
                }
            } else {
                TemplateError::Render {
                    template: template.to_owned(),
                    part,
                    line,
                    message: e
                        .detail()
                        .map_or_else(|| e.kind().to_string(), str::to_owned),
                    case: case.id.clone(),
                }
            }
        })
    }

    /// The output schema of `template`, as written.
    pub fn schema_json(&self, template: &str) -> Option<&serde_json::Value> {
        self.templates
            .get(template)?
            .schema
            .as_ref()
            .map(|s| &s.json)
    }

    /// The compiled output schema of `template`, `None` when it declares none.
    pub fn schema_validator(
        &self,
        template: &str,
    ) -> Result<Option<Arc<jsonschema::Validator>>, TemplateError> {
        self.templates
            .get(template)
            .map(|c| c.schema.as_ref().map(|s| s.validator.clone()))
            .ok_or_else(|| TemplateError::Unknown(template.to_owned()))
    }
}

/// The parts of a template with their sources, in the order messages are sent.
fn parts_of(t: &ResolvedTemplate) -> Vec<(Part, &str)> {
    let mut parts = Vec::with_capacity(2 + 2 * t.examples.len());
    if let Some(system) = &t.system {
        parts.push((Part::System, system.as_str()));
    }
    for (i, ex) in t.examples.iter().enumerate() {
        parts.push((Part::ExampleUser(i), ex.user.as_str()));
        parts.push((Part::ExampleAssistant(i), ex.assistant.as_str()));
    }
    parts.push((Part::User, t.user.as_str()));
    parts
}

/// What a template sees: the case's variables, the whole case as `case`, and `passages`.
/// (Case loading rejects variables named `case` or `passages`, so nothing is shadowed.)
fn context(case: &Case, passages: &[Passage], extra: &[(&str, &str)]) -> Value {
    let mut ctx: BTreeMap<&str, Value> = case
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), Value::from_serialize(v)))
        .collect();
    for (k, v) in extra {
        ctx.insert(k, Value::from(*v));
    }
    ctx.insert(CASE_VAR, Value::from_serialize(case));
    ctx.insert(PASSAGES_VAR, Value::from_serialize(passages));
    Value::from_iter(ctx)
}

/// Names what was undefined. minijinja's strict mode says only "undefined value", but it
/// gives the span of the expression: its leading name when the case lacks that variable
/// (`text`), or the whole expression when a defined value lacks an attribute (`p.title`).
fn undefined_name(source: &str, err: &minijinja::Error, case: &Case) -> String {
    let Some(expr) = err.range().and_then(|r| source.get(r)).map(str::trim) else {
        return "(unknown)".to_owned();
    };
    let ident: String = expr
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let defined = ident == CASE_VAR || ident == PASSAGES_VAR || case.vars.contains_key(&ident);
    if ident.is_empty() || defined {
        expr.to_owned()
    } else {
        ident
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Example;

    fn case(vars: &serde_json::Value) -> Case {
        Case {
            id: "c1".into(),
            vars: vars.as_object().cloned().unwrap_or_default(),
            reference: None,
            tags: vec!["edge".into()],
            split: None,
            gold: None,
            relevant: Vec::new(),
        }
    }

    fn templates(
        user: &str,
        system: Option<&str>,
        examples: &[(&str, &str)],
    ) -> IndexMap<String, ResolvedTemplate> {
        let t = ResolvedTemplate {
            name: "t".into(),
            system: system.map(str::to_owned),
            examples: examples
                .iter()
                .map(|(u, a)| Example {
                    user: (*u).to_owned(),
                    assistant: (*a).to_owned(),
                })
                .collect(),
            user: user.to_owned(),
            output_schema: None,
        };
        IndexMap::from([("t".to_owned(), t)])
    }

    #[test]
    fn renders_system_examples_then_user() {
        let r = Renderer::from_templates(&templates(
            "Judge <request>{{ text }}</request>\n",
            Some("You judge {{ domain }}."),
            &[("Q: {{ domain }}", "A")],
        ))
        .expect("compiles");
        let msgs = r
            .render(
                "t",
                &case(&serde_json::json!({"text": "a & b", "domain": "ops"})),
                &[],
            )
            .expect("renders");
        let got: Vec<(Role, &str)> = msgs.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            got,
            [
                (Role::System, "You judge ops."),
                (Role::User, "Q: ops"),
                (Role::Assistant, "A"),
                // Not HTML-escaped, trailing newline kept.
                (Role::User, "Judge <request>a & b</request>\n"),
            ]
        );
    }

    #[test]
    fn sees_passages_and_the_whole_case() {
        let r = Renderer::from_templates(&templates(
            "{% for p in passages %}[{{ p.id }}:{{ p.score }}] {{ p.text }}\n{% endfor %}{{ case.id }} {{ case.tags[0] }}",
            None,
            &[],
        ))
        .expect("compiles");
        let passages = [Passage {
            id: "doc#1".into(),
            text: "Policy.".into(),
            score: 0.5,
            source: "doc.md".into(),
            headings: Vec::new(),
        }];
        let msgs = r
            .render("t", &case(&serde_json::json!({})), &passages)
            .expect("renders");
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].content, "[doc#1:0.5] Policy.\nc1 edge");
    }

    #[test]
    fn a_missing_variable_names_variable_template_part_and_case() {
        let r = Renderer::from_templates(&templates(
            "line one\n{{ text }}",
            None,
            &[("{{ nope }}", "a")],
        ))
        .expect("compiles");
        let err = r
            .render("t", &case(&serde_json::json!({"text": "x"})), &[])
            .expect_err("fails");
        assert_eq!(
            err,
            TemplateError::Undefined {
                template: "t".into(),
                part: Part::ExampleUser(0),
                line: 1,
                variable: "nope".into(),
                case: "c1".into(),
            }
        );
        let err = r
            .render("t", &case(&serde_json::json!({"nope": 1})), &[])
            .expect_err("fails");
        assert!(
            matches!(&err, TemplateError::Undefined { variable, part: Part::User, line: 2, .. } if variable == "text"),
            "{err:?}"
        );
    }

    #[test]
    fn a_missing_attribute_names_the_expression() {
        let r = Renderer::from_templates(&templates("{{ case.vars.text }}", None, &[]))
            .expect("compiles");
        let err = r
            .render("t", &case(&serde_json::json!({})), &[])
            .expect_err("fails");
        assert!(
            matches!(&err, TemplateError::Undefined { variable, .. } if variable.contains("text")),
            "{err:?}"
        );
    }

    #[test]
    fn syntax_errors_name_template_part_and_line() {
        let errs =
            Renderer::from_templates(&templates("ok\n{{ text", None, &[])).expect_err("fails");
        assert_eq!(errs.0.len(), 1);
        assert!(
            matches!(&errs.0[0], TemplateError::Syntax { template, part: Part::User, line: 2, .. } if template == "t"),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_template_is_an_error() {
        let r = Renderer::from_templates(&templates("x", None, &[])).expect("compiles");
        assert_eq!(
            r.render("nope", &case(&serde_json::json!({})), &[]),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert!(r.schema_validator("nope").is_err());
        assert!(r.schema_validator("t").expect("known").is_none());
    }
}
