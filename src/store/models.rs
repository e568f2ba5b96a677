//! The store's own copies of the configuration a record freezes: a run's models and a
//! release's RAG config.
//!
//! Stored records do not embed the session file's types: renaming a field of the session
//! format must not change what is on disk, and a record read back must not depend on how a
//! session is written today. The shapes here are the on-disk form (they match what records
//! held when they embedded the session's types, so older stores read unchanged); the
//! conversions to and from the `spec` types are written out field by field.

use serde::{Deserialize, Serialize};

use crate::spec::{
    ChunkSpec, ModelSpec, Params, Price, ProviderKind, RagSpec, RerankSpec, Retriever, Timeouts,
};

/// A model as a run or a release used it. Holds only the *name* of a key's environment
/// variable, never a key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelRecord {
    pub provider: ProviderRecord,
    #[serde(default)]
    pub base_url: Option<String>,
    pub model: String,
    #[serde(default)]
    pub params: ParamsRecord,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub price: Option<PriceRecord>,
    #[serde(default)]
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub timeouts: Option<TimeoutsRecord>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ProviderRecord {
    Openai,
    Anthropic,
    Ollama,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ParamsRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct PriceRecord {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimeoutsRecord {
    #[serde(default)]
    pub connect_ms: Option<u64>,
    #[serde(default)]
    pub total_ms: Option<u64>,
    #[serde(default)]
    pub idle_ms: Option<u64>,
}

/// A RAG config as a release froze it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RagRecord {
    pub corpus: Vec<String>,
    pub chunk: ChunkRecord,
    pub retriever: RetrieverRecord,
    #[serde(default)]
    pub embedder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_embedder: Option<String>,
    pub top_k: u32,
    /// `mmr(lambda=0.7)`, `llm(template@model)`, `api(model)`; `None` for no reranking.
    #[serde(default)]
    pub rerank: Option<String>,
    #[serde(default)]
    pub keep: Option<u32>,
    #[serde(default)]
    pub query_rewrite: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRecord {
    pub tokens: u32,
    #[serde(default)]
    pub overlap: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RetrieverRecord {
    Bm25,
    Embedding,
    Hybrid,
}

impl From<&ModelSpec> for ModelRecord {
    fn from(m: &ModelSpec) -> Self {
        Self {
            provider: m.provider.into(),
            base_url: m.base_url.clone(),
            model: m.model.clone(),
            params: (&m.params).into(),
            api_key_env: m.api_key_env.clone(),
            price: m.price.map(|p| PriceRecord {
                input_per_mtok: p.input_per_mtok,
                output_per_mtok: p.output_per_mtok,
            }),
            concurrency: m.concurrency,
            rpm: m.rpm,
            timeouts: m.timeouts.map(|t| TimeoutsRecord {
                connect_ms: t.connect_ms,
                total_ms: t.total_ms,
                idle_ms: t.idle_ms,
            }),
            retries: m.retries,
            stream: m.stream,
        }
    }
}

impl ModelRecord {
    /// The model as a session would say it: what a provider client is built from when a
    /// stored run is resumed or its requests are rebuilt.
    pub fn to_spec(&self) -> ModelSpec {
        ModelSpec {
            provider: self.provider.into(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            params: self.params(),
            api_key_env: self.api_key_env.clone(),
            price: self.price.map(|p| Price {
                input_per_mtok: p.input_per_mtok,
                output_per_mtok: p.output_per_mtok,
            }),
            concurrency: self.concurrency,
            rpm: self.rpm,
            timeouts: self.timeouts.map(|t| Timeouts {
                connect_ms: t.connect_ms,
                total_ms: t.total_ms,
                idle_ms: t.idle_ms,
            }),
            retries: self.retries,
            stream: self.stream,
        }
    }

    /// The sampling parameters, as a request carries them.
    pub fn params(&self) -> Params {
        let p = &self.params;
        Params {
            temperature: p.temperature,
            top_p: p.top_p,
            max_tokens: p.max_tokens,
            seed: p.seed,
            stop: p.stop.clone(),
        }
    }
}

impl From<&Params> for ParamsRecord {
    fn from(p: &Params) -> Self {
        Self {
            temperature: p.temperature,
            top_p: p.top_p,
            max_tokens: p.max_tokens,
            seed: p.seed,
            stop: p.stop.clone(),
        }
    }
}

impl From<ProviderKind> for ProviderRecord {
    fn from(p: ProviderKind) -> Self {
        match p {
            ProviderKind::Openai => Self::Openai,
            ProviderKind::Anthropic => Self::Anthropic,
            ProviderKind::Ollama => Self::Ollama,
        }
    }
}

impl From<ProviderRecord> for ProviderKind {
    fn from(p: ProviderRecord) -> Self {
        match p {
            ProviderRecord::Openai => Self::Openai,
            ProviderRecord::Anthropic => Self::Anthropic,
            ProviderRecord::Ollama => Self::Ollama,
        }
    }
}

impl From<&RagSpec> for RagRecord {
    fn from(r: &RagSpec) -> Self {
        let ChunkSpec { tokens, overlap } = r.chunk;
        Self {
            corpus: r.corpus.clone(),
            chunk: ChunkRecord { tokens, overlap },
            retriever: match r.retriever {
                Retriever::Bm25 => RetrieverRecord::Bm25,
                Retriever::Embedding => RetrieverRecord::Embedding,
                Retriever::Hybrid => RetrieverRecord::Hybrid,
            },
            embedder: r.embedder.clone(),
            query_embedder: r.query_embedder.clone(),
            top_k: r.top_k,
            rerank: match &r.rerank {
                RerankSpec::None => None,
                RerankSpec::Mmr { lambda } => Some(format!("mmr(lambda={lambda})")),
                RerankSpec::Llm { template, model } => Some(format!("llm({template}@{model})")),
                RerankSpec::Api { model } => Some(format!("api({model})")),
            },
            keep: r.keep,
            query_rewrite: r
                .query_rewrite
                .as_ref()
                .map(|q| format!("{}@{}", q.template, q.model)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            provider: ProviderKind::Anthropic,
            base_url: Some("http://127.0.0.1:9/v1".into()),
            model: "m".into(),
            params: Params {
                temperature: Some(0.2),
                top_p: None,
                max_tokens: Some(64),
                seed: Some(7),
                stop: vec!["\n\n".into()],
            },
            api_key_env: Some("KEY_ENV".into()),
            price: Some(Price {
                input_per_mtok: 0.15,
                output_per_mtok: 0.6,
            }),
            concurrency: Some(2),
            rpm: Some(60),
            timeouts: Some(Timeouts {
                connect_ms: Some(1),
                total_ms: Some(2),
                idle_ms: Some(3),
            }),
            retries: Some(1),
            stream: Some(false),
        }
    }

    #[test]
    fn a_model_goes_to_the_store_and_back_unchanged() {
        let m = spec();
        assert_eq!(ModelRecord::from(&m).to_spec(), m);
    }

    #[test]
    fn the_record_reads_what_runs_stored_when_they_held_the_session_type() {
        // Written by a run before the store had its own record: the session's ModelSpec.
        let old = serde_json::to_value(spec()).expect("serialises");
        let rec: ModelRecord = serde_json::from_value(old.clone()).expect("reads back");
        assert_eq!(rec.to_spec(), spec());
        assert_eq!(serde_json::to_value(&rec).expect("serialises"), old);
    }
}
