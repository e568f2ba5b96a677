//! The exact messages an output answered: rendered from the template version its run
//! recorded (not the session file as it is now), with the output's retrieved passages, and
//! checked against the request hash the runner stored.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::providers::{Message, request_hash};
use crate::session::Session;
use crate::spec::{Case, Example};
use crate::store::{OutputRecord, PassageRecord, RunRecord, RunVariant, Store, StoreError};
use crate::template::{
    Passage, QueryVars, Renderer, ResolvedTemplate, build_rag_request, version_hash,
};

/// Why the messages of an output cannot be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptProblem {
    /// The run names a template version the store does not have.
    VersionMissing,
    /// Rendering failed (the case no longer has a variable the template uses).
    Render,
    /// The rendered request differs from the one sent (the case changed since the run).
    Changed,
}

impl PromptProblem {
    pub fn reason(&self) -> &'static str {
        match self {
            PromptProblem::VersionMissing => "template_version_missing",
            PromptProblem::Render => "prompt_render_failed",
            PromptProblem::Changed => "prompt_changed_since_run",
        }
    }
}

/// The canonical form of a stored template version (see `template::canonical`).
#[derive(Debug, Deserialize)]
struct Canonical {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    examples: Vec<Example>,
    user: String,
    #[serde(default)]
    output_schema: Option<serde_json::Value>,
}

/// Renders for every variant of the runs exported, one compiled template per version.
pub struct Prompts {
    renderer: Renderer,
    /// The query each RAG cell's template saw, by (run, variant, case).
    queries: HashMap<(String, String, String), (String, Option<String>)>,
    /// Output schema of each version (the runner may have sent it as a response format).
    schemas: HashMap<String, Option<serde_json::Value>>,
}

impl Prompts {
    /// Compiles the template versions `runs` used, read from the store; a version the store
    /// lacks is taken from the session when the session's template still hashes to it.
    pub fn new(store: &Store, session: &Session, runs: &[RunRecord]) -> Result<Self, StoreError> {
        let mut templates: IndexMap<String, ResolvedTemplate> = IndexMap::new();
        let mut schemas = HashMap::new();
        let mut queries = HashMap::new();
        let rag = store.rag_index()?;
        for run in runs {
            if run.variants.iter().all(|v| v.rag.is_none()) {
                continue;
            }
            for (variant, case, r) in rag.retrievals(&run.id)? {
                queries.insert((run.id.clone(), variant, case), (r.query, r.rewritten));
            }
        }
        for v in runs.iter().flat_map(|r| &r.variants) {
            if templates.contains_key(&v.template_version) {
                continue;
            }
            // The session's template, when it is still the version the run used.
            let current = session
                .templates
                .get(&v.template)
                .filter(|t| version_hash(t) == v.template_version);
            let record = store.template_version(&v.template_version)?;
            let as_sent = record.as_ref().and_then(|r| r.output_schema.clone());
            let stored =
                record.and_then(|rec| serde_json::from_value::<Canonical>(rec.content).ok());
            let resolved = if let Some(c) = stored {
                // The canonical form sorts the schema's keys, and a request's hash depends on
                // their order: the schema as sent is kept beside it (or is the session's own,
                // for records written before it was kept).
                let schema = as_sent
                    .or_else(|| {
                        current.and_then(|t| t.output_schema.as_ref().map(|s| s.json.clone()))
                    })
                    .or(c.output_schema);
                schemas.insert(v.template_version.clone(), schema);
                Some(ResolvedTemplate {
                    name: v.template_version.clone(),
                    system: c.system,
                    examples: c.examples,
                    user: c.user,
                    output_schema: None,
                })
            } else {
                current.map(|t| {
                    schemas.insert(
                        v.template_version.clone(),
                        t.output_schema.as_ref().map(|s| s.json.clone()),
                    );
                    ResolvedTemplate {
                        name: v.template_version.clone(),
                        output_schema: None,
                        ..t.clone()
                    }
                })
            };
            if let Some(t) = resolved {
                templates.insert(v.template_version.clone(), t);
            }
        }
        // A version that does not compile is left out: its rows are dropped with a reason.
        let (renderer, _errors) = Renderer::compile(&templates);
        Ok(Self {
            renderer,
            queries,
            schemas,
        })
    }

    /// The messages `variant` sent for `case`, checked against the output's request hash.
    pub fn render(
        &self,
        variant: &RunVariant,
        case: &Case,
        output: &OutputRecord,
    ) -> Result<Vec<Message>, PromptProblem> {
        if !self.renderer.has(&variant.template_version) {
            return Err(PromptProblem::VersionMissing);
        }
        let passages: Vec<Passage> = output.passages.iter().map(passage).collect();
        let model = variant.model.to_spec();
        let schema = self
            .schemas
            .get(&variant.template_version)
            .and_then(Option::as_ref);
        let query = self
            .queries
            .get(&(
                output.run_id.clone(),
                output.variant.clone(),
                output.case_id.clone(),
            ))
            .map(|(query, rewritten)| QueryVars {
                query,
                rewritten: rewritten.as_deref(),
            });
        let build = |schema| {
            build_rag_request(
                &self.renderer,
                &variant.template_version,
                case,
                &passages,
                query,
                &model,
                schema,
            )
            .map_err(|_| PromptProblem::Render)
        };
        // Repeats carry `#N` after the hash of the first request (see runner/plan.rs).
        let sent = output
            .request_hash
            .split_once('#')
            .map_or(output.request_hash.as_str(), |(h, _)| h);
        // The run recorded whether it sent the template's schema (`enforce_schema`); a run
        // stored before that was recorded may have sent it or not, so both are tried.
        let tries = match variant.sent_schema() {
            Some(true) => vec![schema],
            None if schema.is_some() => vec![None, schema],
            Some(false) | None => vec![None],
        };
        for sent_schema in tries {
            let request = build(sent_schema)?;
            if request_hash(&model, &request) == sent {
                return Ok(request.messages);
            }
        }
        Err(PromptProblem::Changed)
    }
}

fn passage(p: &PassageRecord) -> Passage {
    Passage {
        id: p.id.clone(),
        text: p.text.clone(),
        score: p.score,
        source: p.source.clone(),
        headings: p.headings.clone(),
    }
}
