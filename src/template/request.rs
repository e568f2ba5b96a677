//! The one place a request is built: what the runner sends and what the export says was
//! sent are the same function of the same inputs.

use super::{Passage, Renderer, TemplateError};
use crate::providers::ChatRequest;
use crate::spec::{Case, ModelSpec};

/// The exact request for `case` rendered by `template` (a name in `renderer`: a session's
/// template or a stored version's hash) with `passages`, to `model`, sending `schema` as the
/// response format when the variant enforces one.
pub fn build_request(
    renderer: &Renderer,
    template: &str,
    case: &Case,
    passages: &[Passage],
    model: &ModelSpec,
    schema: Option<&serde_json::Value>,
) -> Result<ChatRequest, TemplateError> {
    build_rag_request(renderer, template, case, passages, None, model, schema)
}

/// The search query a RAG variant's template sees besides `passages`: `query` (from the
/// case, before any rewrite) and `rewritten_query` (what was searched; the same as `query`
/// when the config does not rewrite).
#[derive(Debug, Clone, Copy)]
pub struct QueryVars<'a> {
    pub query: &'a str,
    pub rewritten: Option<&'a str>,
}

/// [`build_request`] for a RAG variant: the template also sees the query.
pub fn build_rag_request(
    renderer: &Renderer,
    template: &str,
    case: &Case,
    passages: &[Passage],
    query: Option<QueryVars<'_>>,
    model: &ModelSpec,
    schema: Option<&serde_json::Value>,
) -> Result<ChatRequest, TemplateError> {
    let extra: Vec<(&str, &str)> = match query {
        Some(q) => vec![
            ("query", q.query),
            ("rewritten_query", q.rewritten.unwrap_or(q.query)),
        ],
        None => Vec::new(),
    };
    Ok(ChatRequest {
        model: model.model.clone(),
        messages: renderer.render_with(template, case, passages, &extra)?,
        params: model.params.clone(),
        response_format: schema.cloned(),
        top_logprobs: None,
    })
}
