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
    Ok(ChatRequest {
        model: model.model.clone(),
        messages: renderer.render(template, case, passages)?,
        params: model.params.clone(),
        response_format: schema.cloned(),
    })
}
