//! The session file as written by a person: plain serde structures, unknown keys rejected.
//!
//! Loading (with `file:line:col` errors) and validation live in `load.rs`; this module only
//! says what a session may contain. Serialising writes the shortest form that reads back the
//! same (absent options are left out), because templates are written back into the file.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, de};

use super::check::CheckSpec;
pub use super::schema::SchemaRef;

/// A whole session file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub models: IndexMap<String, ModelSpec>,
    #[serde(default)]
    pub templates: IndexMap<String, TemplateSpec>,
    #[serde(default)]
    pub rag: IndexMap<String, RagSpec>,
    pub variants: Vec<VariantSpec>,
    pub cases: CasesSpec,
    /// How many times each (variant, case) cell is run.
    #[serde(default = "one")]
    pub repeats: u32,
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    #[serde(default)]
    pub rubric: Vec<RubricDim>,
    #[serde(default)]
    pub rating: Option<RatingSpec>,
    /// How far the LLM judge is trusted: its calibration bar against human ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgePolicy>,
}

fn one() -> u32 {
    1
}

/// When `loupe gate --by judge` may decide: only once the judge agrees with people on
/// this session (Cohen's kappa against the human consensus on comparisons both rated).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JudgePolicy {
    /// The lowest kappa against human consensus at which the judge may stand in for
    /// people; `null` turns the bar off (the gate then decides on the judge alone).
    #[serde(default = "default_min_human_kappa")]
    pub min_human_kappa: Option<f64>,
    /// Comparisons both judged and human-rated needed before the kappa counts.
    #[serde(default = "default_min_overlap")]
    pub min_overlap: u32,
    /// Read the judge's verdict from the probabilities of its answer tokens (the provider's
    /// `top_logprobs`) instead of its text: P(first better) averaged over both placements.
    #[serde(default)]
    pub logprobs: bool,
    /// With `logprobs`: how far from ½ the averaged probability must be for a winner;
    /// closer is a tie.
    #[serde(default = "default_margin")]
    pub margin: f64,
}

/// 0.1: a winner needs P(better) above 0.6 averaged over both placements.
fn default_margin() -> f64 {
    0.1
}

impl Default for JudgePolicy {
    fn default() -> Self {
        Self {
            min_human_kappa: default_min_human_kappa(),
            min_overlap: default_min_overlap(),
            logprobs: false,
            margin: default_margin(),
        }
    }
}

/// 0.6: the lower end of "substantial" agreement on Landis & Koch's (1977) scale.
#[allow(clippy::unnecessary_wraps)] // serde's `default` wants the field's type
fn default_min_human_kappa() -> Option<f64> {
    Some(0.6)
}

/// Fewer than 20 shared comparisons leave a kappa interval too wide to trust.
fn default_min_overlap() -> u32 {
    20
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat completions server (llama.cpp, vLLM, TGI, `OpenAI`).
    Openai,
    /// Anthropic Messages API.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub provider: ProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    pub model: String,
    #[serde(default)]
    pub params: Params,
    /// Name of the environment variable holding the API key; the key itself is never
    /// read from a file nor written anywhere.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub price: Option<Price>,
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
    /// Attempts after the first one for retryable failures.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Stream the response (default true): gives time to first token and live output.
    #[serde(default)]
    pub stream: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
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

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default)]
    pub connect_ms: Option<u64>,
    /// Whole request, first byte to last.
    #[serde(default)]
    pub total_ms: Option<u64>,
    /// Longest silence allowed between two chunks of a response (and before the first).
    #[serde(default)]
    pub idle_ms: Option<u64>,
}

/// A template as written: every part optional, because `inherits` fills in the rest.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// `Some(vec![])` clears the examples an inherited template has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<Vec<Example>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A path (relative to the session file) or an inline JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<SchemaRef>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub user: String,
    pub assistant: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Retriever {
    Bm25,
    Embedding,
    Hybrid,
}

/// A named RAG config: where passages come from and how they are chosen.
///
/// ```yaml
/// rag:
///   policy:
///     corpus: [policy/*.md, policy/*.html]    # globs relative to the session file
///     chunk: { tokens: 200, overlap: 20 }     # cl100k tokens
///     retriever: hybrid                       # bm25 | embedding | hybrid
///     embedder: e5                            # a model of the session that embeds passages
///     query_embedder: e5q                     # optional: another model for queries
///     top_k: 8
///     rerank: { mmr: { lambda: 0.7 } }        # none | mmr | { mmr } | { llm } | { api }
///     keep: 4
///     query_rewrite: { template: rewrite, model: local }
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RagSpec {
    pub corpus: Vec<String>,
    #[serde(default)]
    pub chunk: ChunkSpec,
    pub retriever: Retriever,
    /// The model that embeds passages (and queries, unless `query_embedder` is set);
    /// required by the `embedding` and `hybrid` retrievers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedder: Option<String>,
    /// The model that embeds queries, for embedders with separate query and passage
    /// modes (e5's `e5-query` / `e5-passage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_embedder: Option<String>,
    #[serde(default = "default_top_k")]
    pub top_k: u32,
    #[serde(default, skip_serializing_if = "RerankSpec::is_none")]
    pub rerank: RerankSpec,
    /// Passages given to the template, best first (default: all `top_k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_rewrite: Option<QueryRewriteSpec>,
}

/// Turns the case's input into the search query with a chat model. The template sees the
/// case's variables; its answer (trimmed) is the query.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueryRewriteSpec {
    pub template: String,
    pub model: String,
}

/// How retrieved passages are re-ordered before `keep` cuts them.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RerankSpec {
    /// Retrieval order.
    #[default]
    None,
    /// Maximal marginal relevance: `lambda` weighs relevance against novelty (1 is plain
    /// relevance).
    Mmr { lambda: f64 },
    /// A chat model scores each passage 0-10 for the query with `template` (which sees the
    /// case's variables plus `query` and `passage`).
    Llm { template: String, model: String },
    /// A `/v1/rerank` endpoint (llama.cpp, TEI, Jina, Cohere shape) of a session model.
    Api { model: String },
}

/// MMR's default trade-off: mostly relevance, some novelty.
pub const DEFAULT_MMR_LAMBDA: f64 = 0.7;

impl RerankSpec {
    pub fn is_none(&self) -> bool {
        matches!(self, RerankSpec::None)
    }

    pub fn name(&self) -> &'static str {
        match self {
            RerankSpec::None => "none",
            RerankSpec::Mmr { .. } => "mmr",
            RerankSpec::Llm { .. } => "llm",
            RerankSpec::Api { .. } => "api",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MmrArgs {
    #[serde(default = "default_lambda")]
    lambda: f64,
}

fn default_lambda() -> f64 {
    DEFAULT_MMR_LAMBDA
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmArgs {
    template: String,
    model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiArgs {
    model: String,
}

/// By hand: `rerank: mmr` and `rerank: { mmr: { lambda: 0.5 } }` both read, and a wrong
/// value says which forms exist (an untagged enum would only say "did not match").
impl<'de> Deserialize<'de> for RerankSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const FORMS: &str = "`none`, `mmr`, `{ mmr: { lambda: 0.7 } }`,              `{ llm: { template: ..., model: ... } }` or `{ api: { model: ... } }`";

        impl<'de> de::Visitor<'de> for V {
            type Value = RerankSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a reranker: {FORMS}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RerankSpec, E> {
                match v {
                    "none" => Ok(RerankSpec::None),
                    "mmr" => Ok(RerankSpec::Mmr {
                        lambda: DEFAULT_MMR_LAMBDA,
                    }),
                    "llm" | "api" => Err(E::custom(format!(
                        "rerank `{v}` needs its settings: {FORMS}"
                    ))),
                    other => Err(E::custom(format!(
                        "unknown reranker `{other}`, expected {FORMS}"
                    ))),
                }
            }

            fn visit_unit<E: de::Error>(self) -> Result<RerankSpec, E> {
                Ok(RerankSpec::None)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RerankSpec, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!("empty map: expected {FORMS}")));
                };
                let spec = match key.as_str() {
                    "none" => {
                        map.next_value::<de::IgnoredAny>()?;
                        RerankSpec::None
                    }
                    "mmr" => {
                        let args: Option<MmrArgs> = map.next_value()?;
                        let lambda = args.map_or(DEFAULT_MMR_LAMBDA, |a| a.lambda);
                        if !(0.0..=1.0).contains(&lambda) {
                            return Err(de::Error::custom(format!(
                                "mmr `lambda` must be between 0 and 1, not {lambda}"
                            )));
                        }
                        RerankSpec::Mmr { lambda }
                    }
                    "llm" => {
                        let a: LlmArgs = map.next_value()?;
                        RerankSpec::Llm {
                            template: a.template,
                            model: a.model,
                        }
                    }
                    "api" => {
                        let a: ApiArgs = map.next_value()?;
                        RerankSpec::Api { model: a.model }
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown reranker `{other}`, expected {FORMS}"
                        )));
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one reranker only: found `{key}` and `{extra}`"
                    )));
                }
                Ok(spec)
            }
        }

        d.deserialize_any(V)
    }
}

impl Serialize for RerankSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            RerankSpec::None => s.serialize_str("none"),
            RerankSpec::Mmr { lambda } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("mmr", &serde_json::json!({ "lambda": lambda }))?;
                m.end()
            }
            RerankSpec::Llm { template, model } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "llm",
                    &serde_json::json!({ "template": template, "model": model }),
                )?;
                m.end()
            }
            RerankSpec::Api { model } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("api", &serde_json::json!({ "model": model }))?;
                m.end()
            }
        }
    }
}

fn default_top_k() -> u32 {
    8
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChunkSpec {
    pub tokens: u32,
    #[serde(default)]
    pub overlap: u32,
}

impl Default for ChunkSpec {
    fn default() -> Self {
        Self {
            tokens: 400,
            overlap: 40,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    pub name: String,
    pub template: String,
    pub model: String,
    #[serde(default)]
    pub rag: Option<String>,
    /// Checks for this variant only, added to the session's global ones.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    #[serde(default)]
    pub enforce_schema: Option<EnforceSchema>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnforceSchema {
    /// Repair turns after the first answer.
    pub retries: u32,
}

/// `cases:` is either the rows themselves (a list) or `{ file: ... }`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum CasesSpec {
    Inline(Vec<serde_json::Map<String, serde_json::Value>>),
    File(CasesFile),
}

/// By hand rather than `untagged`: an untagged enum reports only "data did not match any
/// variant", while a list or a map each deserialise with their own precise errors.
impl<'de> Deserialize<'de> for CasesSpec {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CasesVisitor;

        impl<'de> de::Visitor<'de> for CasesVisitor {
            type Value = CasesSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of cases or `{ file: path }`")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<CasesSpec, A::Error> {
                Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(CasesSpec::Inline)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<CasesSpec, A::Error> {
                Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(CasesSpec::File)
            }
        }

        d.deserialize_any(CasesVisitor)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CasesFile {
    /// JSONL, CSV or YAML, by extension; relative to the session file.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RubricDim {
    pub key: String,
    #[serde(default = "default_scale")]
    pub scale: u8,
}

fn default_scale() -> u8 {
    5
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RatingSpec {
    pub pairs: Vec<[String; 2]>,
    #[serde(default = "default_raters")]
    pub raters_per_comparison: u32,
    /// Share of gold items mixed into each rater's queue (0..1).
    #[serde(default)]
    pub gold_rate: Option<f64>,
    /// Extra phrases masked in outputs shown to raters (model names are always masked).
    #[serde(default)]
    pub mask: Vec<String>,
    /// Phrases taken back out of the masked list (false positives such as a model key that
    /// is also an ordinary word).
    #[serde(default)]
    pub unmask: Vec<String>,
    /// Minutes after which an idle rater's unrated comparisons are released to others.
    #[serde(default = "default_release_after")]
    pub release_after_minutes: u64,
    /// The session's own failure-mode labels, offered after the built-in ones
    /// (`hallucination`, `formatting_error`, `tone_violation`, `unsafe`, `off_task`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Share of each pair's comparisons drawn as a calibration sample: rated first by the
    /// raters (and judged, like every comparison, by the session's judge), so that
    /// judge-vs-human agreement exists without extra work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_share: Option<f64>,
    /// In which order a rater's unrated comparisons are offered.
    #[serde(default, skip_serializing_if = "Schedule::is_fixed")]
    pub schedule: Schedule,
}

/// How a rating queue orders what a rater has left to rate.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Shuffled once, in the stored order.
    #[default]
    Fixed,
    /// Pairs whose decision is furthest from settled first (see `rating::queue`).
    Adaptive,
}

impl Schedule {
    pub fn is_fixed(&self) -> bool {
        *self == Schedule::Fixed
    }
}

fn default_raters() -> u32 {
    1
}

/// How long a rater may be away before their unrated comparisons go to others: long
/// enough for a lunch break, short enough that a team finishes the same day.
pub const DEFAULT_RELEASE_AFTER_MINUTES: u64 = 120;

fn default_release_after() -> u64 {
    DEFAULT_RELEASE_AFTER_MINUTES
}

/// One row of inputs, after loading from the session or its cases file.
///
/// In a file a case is a flat object: the reserved keys below, and every other key is a
/// template variable (or put variables under `vars`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Case {
    /// Stable id: the `id` field, or `case-N` (1-based row number) when absent.
    pub id: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `train`, `valid`, `eval`, ... (free text; `eval` rows are kept out of exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// For rating: the variant known to be better on this case (a gold item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold: Option<String>,
    /// Corpus documents (paths relative to the session file) that answer this case: what
    /// retrieval metrics and citation precision/recall are measured against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relevant: Vec<String>,
}
