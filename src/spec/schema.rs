//! Where a JSON Schema comes from, as a session writes it.

use serde::{Deserialize, Serialize};

/// A path (relative to the session file) or an inline JSON Schema.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum SchemaRef {
    Path(String),
    Inline(serde_json::Value),
}
