//! What a session may ask to check, as written in its `checks:` lists.
//!
//! Every list item is a bare name or a map with exactly one key, the check's name:
//!
//! ```yaml
//! checks:
//!   - json_valid
//!   - json_schema                                   # the template's output_schema
//!   - { json_schema: { schema: schemas/x.json } }   # a file, relative to the session file
//!   - { json_schema: { schema: { type: object, required: [risk] } } }   # inline
//!   - { regex: { path: /risk, pattern: "^(low|medium|high)$" } }
//!   - { contains: { value: risk, ignore_case: true } }
//!   - { not_contains: { value: "As an AI" } }
//!   - { equals: { path: /risk, value: low } }
//!   - { bleu: { min: 0.3 } }          # also rouge_l, similarity; bare `bleu` records the score only
//!   - { max_latency_ms: 3000 }        # also max_ttft_ms, max_output_tokens
//!   - { max_cost: 0.002 }             # USD per output
//!   - pii
//!   - citations                       # cited passage ids were kept; the answer cites
//!   - { citations: { pattern: "\\[([^\\]]+)\\]", min_share: 0.5 } }
//!   - { judge: { template: judge, model: big } }   # run by the judge, not here
//!   - { judge: { template: judge, model: big, pairs: [[prompt, prompt+rag]] } }
//! ```
//!
//! `path` is a JSON pointer (RFC 6901) into the output parsed as JSON (see
//! `eval::checks::extract_json`); without it a check reads the whole text. `min`
//! for `bleu`, `rouge_l` and `similarity` is on the 0..1 scale (BLEU 0.3 = sacreBLEU 30).
//! Errors name what was expected and, through `serde_yaml`, the line and column.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::SchemaRef;

/// One automatic check.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckSpec {
    /// The output (or the JSON found in it) parses.
    JsonValid,
    /// The output's JSON validates against a JSON Schema (draft 2020-12): the one named here,
    /// or with `None` the template's `output_schema`.
    JsonSchema(Option<JsonSchemaSpec>),
    Regex(MatchSpec),
    Contains(TextSpec),
    NotContains(TextSpec),
    Equals(TextSpec),
    /// Sentence BLEU against the case's reference, at least `min` (0..1).
    Bleu(MinSpec),
    /// ROUGE-L F-measure against the case's reference, at least `min` (0..1).
    RougeL(MinSpec),
    /// Normalised Levenshtein similarity to the case's reference, at least `min` (0..1).
    Similarity(MinSpec),
    MaxLatencyMs(u64),
    MaxTtftMs(u64),
    /// In US dollars, from the model's price.
    MaxCost(f64),
    MaxOutputTokens(u64),
    /// No e-mail, phone, card, IBAN, IP address or secret in the output.
    Pii,
    /// The output cites passages it was given: every cited id is one of the kept
    /// passages, it cites at least one, and at least `min_share` of its sentences cite.
    Citations(CitationsSpec),
    /// A model grades the output; run by the judge, not by `run_checks`.
    Judge(JudgeSpec),
}

/// How citations look in an output and how many sentences must carry one.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CitationsSpec {
    /// A regex whose first group holds the cited id(s); several ids in one group may be
    /// separated by commas or semicolons (`[a.md#1, b.md#2]`).
    #[serde(default = "default_citation_pattern")]
    pub pattern: String,
    /// Share of sentences (0..1) that must cite a passage.
    #[serde(default)]
    pub min_share: f64,
}

/// `[policy/freeze-windows.md#2]`: the passage id in square brackets.
pub const DEFAULT_CITATION_PATTERN: &str = r"\[([^\[\]]+)\]";

fn default_citation_pattern() -> String {
    DEFAULT_CITATION_PATTERN.to_owned()
}

impl Default for CitationsSpec {
    fn default() -> Self {
        Self {
            pattern: default_citation_pattern(),
            min_share: 0.0,
        }
    }
}

/// `{ schema: <path or inline schema> }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSchemaSpec {
    pub schema: SchemaRef,
}

/// A pattern applied to the text, or to the value at a JSON pointer into the parsed output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
}

/// A literal looked for in the text, or compared with the value at a JSON pointer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The literal; for `equals`, either this or `reference`.
    #[serde(default)]
    pub value: String,
    /// `equals` only: compare with the case's reference instead of a literal, at this JSON
    /// pointer into the reference (`""` for the whole reference text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
}

/// The lowest passing score, on the 0..1 scale.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MinSpec {
    #[serde(default)]
    pub min: f64,
}

/// A model-graded check: the judge template and the model (names from the session), and
/// the pairs of variants it compares (every pair of the run's variants when none is named).
/// The template sees the case's variables plus `output_a` and `output_b`; see
/// `eval::judge`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JudgeSpec {
    pub template: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<[String; 2]>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Every check name, as written in a session.
pub const CHECK_NAMES: &[&str] = &[
    "json_valid",
    "json_schema",
    "regex",
    "contains",
    "not_contains",
    "equals",
    "bleu",
    "rouge_l",
    "similarity",
    "max_latency_ms",
    "max_ttft_ms",
    "max_cost",
    "max_output_tokens",
    "pii",
    "citations",
    "judge",
];

impl CheckSpec {
    /// The name as written in a session: `json_schema`, `max_latency_ms`, ...
    pub fn kind_name(&self) -> &'static str {
        match self {
            CheckSpec::JsonValid => "json_valid",
            CheckSpec::JsonSchema(_) => "json_schema",
            CheckSpec::Regex(_) => "regex",
            CheckSpec::Contains(_) => "contains",
            CheckSpec::NotContains(_) => "not_contains",
            CheckSpec::Equals(_) => "equals",
            CheckSpec::Bleu(_) => "bleu",
            CheckSpec::RougeL(_) => "rouge_l",
            CheckSpec::Similarity(_) => "similarity",
            CheckSpec::MaxLatencyMs(_) => "max_latency_ms",
            CheckSpec::MaxTtftMs(_) => "max_ttft_ms",
            CheckSpec::MaxCost(_) => "max_cost",
            CheckSpec::MaxOutputTokens(_) => "max_output_tokens",
            CheckSpec::Pii => "pii",
            CheckSpec::Citations(_) => "citations",
            CheckSpec::Judge(_) => "judge",
        }
    }

    /// A model-graded check, which `run_checks` leaves to the judge.
    pub fn is_judge(&self) -> bool {
        matches!(self, CheckSpec::Judge(_))
    }

    /// The checks that need no file system to be sound: a valid regex, JSON pointers,
    /// thresholds in range. Deserialising runs this, so a session's errors carry a location.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            CheckSpec::Regex(m) => {
                validate_pointer(m.path.as_deref())?;
                regex::RegexBuilder::new(&m.pattern)
                    .case_insensitive(m.ignore_case)
                    .build()
                    .map(|_| ())
                    .map_err(|e| format!("invalid regex {:?}: {e}", m.pattern))
            }
            CheckSpec::Contains(t) | CheckSpec::NotContains(t) => {
                if t.reference.is_some() {
                    return Err("`reference` is for `equals` only".into());
                }
                if t.value.is_empty() {
                    return Err("missing `value`: the text to look for".into());
                }
                validate_pointer(t.path.as_deref())
            }
            CheckSpec::Equals(t) => {
                match (&t.reference, t.value.is_empty()) {
                    (Some(_), false) => {
                        return Err("give `value` or `reference`, not both".into());
                    }
                    (Some(r), true) => validate_pointer(Some(r.as_str()))?,
                    (None, _) => {}
                }
                validate_pointer(t.path.as_deref())
            }
            CheckSpec::Bleu(m) | CheckSpec::RougeL(m) | CheckSpec::Similarity(m) => {
                if (0.0..=1.0).contains(&m.min) {
                    Ok(())
                } else if (1.0..=100.0).contains(&m.min) {
                    Err(format!(
                        "min is on the 0..1 scale; did you mean {}?",
                        m.min / 100.0
                    ))
                } else {
                    Err(format!("min must be between 0 and 1, not {}", m.min))
                }
            }
            CheckSpec::JsonSchema(Some(JsonSchemaSpec {
                schema: SchemaRef::Inline(v),
            })) if !(v.is_object() || v.is_boolean()) => Err(format!(
                "schema must be a file path, a JSON Schema object or a boolean, not {v}"
            )),
            CheckSpec::Citations(c) => {
                if !(0.0..=1.0).contains(&c.min_share) {
                    return Err(format!(
                        "min_share must be between 0 and 1, not {}",
                        c.min_share
                    ));
                }
                let re = regex::Regex::new(&c.pattern)
                    .map_err(|e| format!("invalid regex {:?}: {e}", c.pattern))?;
                if re.captures_len() < 2 {
                    return Err(format!(
                        "pattern {:?} needs a group around the cited id, like \\[([^\\]]+)\\]",
                        c.pattern
                    ));
                }
                Ok(())
            }
            CheckSpec::MaxCost(c) if !c.is_finite() || *c < 0.0 => Err(format!(
                "max_cost must be a non-negative number of US dollars, not {c}"
            )),
            _ => Ok(()),
        }
    }
}

fn unknown_check(name: &str) -> String {
    format!(
        "unknown check `{name}`, expected one of: {}",
        CHECK_NAMES.join(", ")
    )
}

fn validate_pointer(path: Option<&str>) -> Result<(), String> {
    match path {
        Some(p) if !p.is_empty() && !p.starts_with('/') => Err(format!(
            "path {p:?} is not a JSON pointer: write it like /risk or /items/0/name"
        )),
        _ => Ok(()),
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind_name())
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = CheckSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a check: a name like `json_valid` or a one-key map like `{ max_latency_ms: 3000 }`",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<CheckSpec, E> {
        let spec = match name {
            "json_valid" => CheckSpec::JsonValid,
            "json_schema" => CheckSpec::JsonSchema(None),
            "pii" => CheckSpec::Pii,
            "citations" => CheckSpec::Citations(CitationsSpec::default()),
            "bleu" => CheckSpec::Bleu(MinSpec { min: 0.0 }),
            "rouge_l" => CheckSpec::RougeL(MinSpec { min: 0.0 }),
            "similarity" => CheckSpec::Similarity(MinSpec { min: 0.0 }),
            "regex" => {
                return Err(E::custom(
                    "check `regex` needs `{ regex: { pattern: ... } }`",
                ));
            }
            "contains" | "not_contains" | "equals" => {
                return Err(E::custom(format!(
                    "check `{name}` needs `{{ {name}: {{ value: ... }} }}`"
                )));
            }
            "max_latency_ms" | "max_ttft_ms" | "max_cost" | "max_output_tokens" => {
                return Err(E::custom(format!(
                    "check `{name}` needs a limit: `{{ {name}: N }}`"
                )));
            }
            "judge" => {
                return Err(E::custom(
                    "check `judge` needs `{ judge: { template: ..., model: ... } }`",
                ));
            }
            other => return Err(E::custom(unknown_check(other))),
        };
        Ok(spec)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckSpec, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "empty map: expected one check name as its key",
            ));
        };
        let spec = match name.as_str() {
            "json_valid" => {
                map.next_value::<Empty>()?;
                CheckSpec::JsonValid
            }
            "pii" => {
                map.next_value::<Empty>()?;
                CheckSpec::Pii
            }
            "json_schema" => CheckSpec::JsonSchema(map.next_value()?),
            "regex" => CheckSpec::Regex(map.next_value()?),
            "contains" => CheckSpec::Contains(map.next_value()?),
            "not_contains" => CheckSpec::NotContains(map.next_value()?),
            "equals" => CheckSpec::Equals(map.next_value()?),
            "bleu" => CheckSpec::Bleu(map.next_value()?),
            "rouge_l" => CheckSpec::RougeL(map.next_value()?),
            "similarity" => CheckSpec::Similarity(map.next_value()?),
            "max_latency_ms" => CheckSpec::MaxLatencyMs(map.next_value()?),
            "max_ttft_ms" => CheckSpec::MaxTtftMs(map.next_value()?),
            "max_cost" => CheckSpec::MaxCost(map.next_value()?),
            "max_output_tokens" => CheckSpec::MaxOutputTokens(map.next_value()?),
            "citations" => CheckSpec::Citations(
                map.next_value::<Option<CitationsSpec>>()?
                    .unwrap_or_default(),
            ),
            "judge" => CheckSpec::Judge(map.next_value()?),
            other => return Err(de::Error::custom(unknown_check(other))),
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "one check per list item: found `{name}` and `{extra}` in the same map"
            )));
        }
        spec.validate()
            .map_err(|e| de::Error::custom(format!("check `{name}`: {e}")))?;
        Ok(spec)
    }
}

/// `null` or `{}`: what a check without arguments may carry in map form.
struct Empty;

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct NoFields {}
        Option::<NoFields>::deserialize(d).map(|_| Empty)
    }
}

impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

impl Serialize for CheckSpec {
    /// The shortest form that reads back the same: bare names where they suffice.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = self.kind_name();
        match self {
            CheckSpec::JsonValid | CheckSpec::JsonSchema(None) | CheckSpec::Pii => {
                s.serialize_str(name)
            }
            CheckSpec::JsonSchema(Some(v)) => one_key(s, name, v),
            CheckSpec::Regex(v) => one_key(s, name, v),
            CheckSpec::Contains(v) | CheckSpec::NotContains(v) | CheckSpec::Equals(v) => {
                one_key(s, name, v)
            }
            CheckSpec::Bleu(v) | CheckSpec::RougeL(v) | CheckSpec::Similarity(v) => {
                one_key(s, name, v)
            }
            CheckSpec::MaxLatencyMs(v)
            | CheckSpec::MaxTtftMs(v)
            | CheckSpec::MaxOutputTokens(v) => one_key(s, name, v),
            CheckSpec::MaxCost(v) => one_key(s, name, v),
            CheckSpec::Citations(v) if *v == CitationsSpec::default() => s.serialize_str(name),
            CheckSpec::Citations(v) => one_key(s, name, v),
            CheckSpec::Judge(v) => one_key(s, name, v),
        }
    }
}

fn one_key<S: Serializer, T: Serialize>(s: S, name: &str, value: &T) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(name, value)?;
    m.end()
}

/// The verdict of one check on one output, stored with the output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CheckResult {
    /// The check's display name, e.g. `json_schema` or `regex /risk`.
    pub name: String,
    pub pass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Why, for a person: what failed and where.
    pub reason: String,
}
