//! Running automatic checks on one output.
//!
//! A session's [`CheckSpec`]s are compiled once per variant ([`CompiledCheck::compile`]:
//! regexes built, schema files read and compiled) and then run on every output with
//! [`run_checks`]. Each result says pass or fail, a score for the metrics, and a reason a
//! person can act on.
//!
//! Scores: `bleu`, `rouge_l` and `similarity` report their value on the 0..1 scale (BLEU is
//! sacreBLEU's score divided by 100); every other check has no score (`None`): its verdict
//! is `pass`.
//!
//! A check that cannot be judged fails and says why: `bleu` on a case without a reference,
//! `max_ttft_ms` when nothing was streamed, `max_cost` when the model has no price, a bare
//! `json_schema` when the template declares no `output_schema`.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use jsonschema::Validator;
use regex::Regex;
use serde_json::Value;

use crate::eval::pii;
use crate::eval::text;
use crate::spec::{Case, CheckResult, CheckSpec, JudgeSpec, MinSpec, SchemaRef};

/// What the checks look at: one output and its measurements.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    pub text: &'a str,
    pub case: &'a Case,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub cost_usd: Option<f64>,
    pub output_tokens: u64,
    /// The template's `output_schema`, used by a bare `json_schema` check.
    pub schema: Option<&'a Validator>,
    /// Ids of the passages the prompt was given (empty for a variant without RAG).
    pub passages: &'a [String],
}

/// Why a check could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check `{check}`: {message}")]
pub struct CompileError {
    /// The check's display name.
    pub check: String,
    pub message: String,
}

/// A check ready to run: regexes and schemas compiled once.
#[derive(Debug, Clone)]
pub struct CompiledCheck {
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Metric {
    Bleu,
    RougeL,
    Similarity,
}

#[derive(Debug, Clone)]
enum Kind {
    JsonValid,
    /// `None`: the template's schema, given at run time.
    JsonSchema(Option<Arc<Validator>>),
    Regex {
        path: Option<String>,
        re: Regex,
    },
    Contains {
        path: Option<String>,
        value: String,
        ignore_case: bool,
        negate: bool,
    },
    Equals {
        path: Option<String>,
        value: String,
        /// Compare with the case's reference at this pointer instead of `value`.
        reference: Option<String>,
        ignore_case: bool,
    },
    Metric {
        metric: Metric,
        min: f64,
    },
    MaxLatencyMs(u64),
    MaxTtftMs(u64),
    MaxCost(f64),
    MaxOutputTokens(u64),
    Pii,
    Citations {
        re: Regex,
        min_share: f64,
    },
    Judge(JudgeSpec),
}

/// Longest excerpt of an output quoted in a reason.
const QUOTE_CHARS: usize = 60;
/// Most schema errors listed in one reason (all of them go to `validate_json`).
const REASON_ERRORS: usize = 5;
/// Most schema errors returned by `validate_json`.
const MAX_ERRORS: usize = 20;

impl CompiledCheck {
    /// Compiles one check. `base_dir` is the session file's folder, against which schema
    /// paths are resolved.
    pub fn compile(spec: &CheckSpec, base_dir: &Path) -> Result<Self, CompileError> {
        let name = display_name(spec);
        let err = |message: String| CompileError {
            check: name.clone(),
            message,
        };
        spec.validate().map_err(err)?;
        let kind = match spec {
            CheckSpec::JsonValid => Kind::JsonValid,
            CheckSpec::JsonSchema(None) => Kind::JsonSchema(None),
            CheckSpec::JsonSchema(Some(s)) => Kind::JsonSchema(Some(Arc::new(
                load_schema(&s.schema, base_dir).map_err(err)?,
            ))),
            CheckSpec::Regex(m) => Kind::Regex {
                path: m.path.clone(),
                re: regex::RegexBuilder::new(&m.pattern)
                    .case_insensitive(m.ignore_case)
                    .build()
                    .map_err(|e| err(format!("invalid regex: {e}")))?,
            },
            CheckSpec::Contains(t) | CheckSpec::NotContains(t) => Kind::Contains {
                path: t.path.clone(),
                value: if t.ignore_case {
                    t.value.to_lowercase()
                } else {
                    t.value.clone()
                },
                ignore_case: t.ignore_case,
                negate: matches!(spec, CheckSpec::NotContains(_)),
            },
            CheckSpec::Equals(t) => Kind::Equals {
                path: t.path.clone(),
                value: t.value.clone(),
                reference: t.reference.clone(),
                ignore_case: t.ignore_case,
            },
            CheckSpec::Bleu(MinSpec { min }) => Kind::Metric {
                metric: Metric::Bleu,
                min: *min,
            },
            CheckSpec::RougeL(MinSpec { min }) => Kind::Metric {
                metric: Metric::RougeL,
                min: *min,
            },
            CheckSpec::Similarity(MinSpec { min }) => Kind::Metric {
                metric: Metric::Similarity,
                min: *min,
            },
            CheckSpec::MaxLatencyMs(v) => Kind::MaxLatencyMs(*v),
            CheckSpec::MaxTtftMs(v) => Kind::MaxTtftMs(*v),
            CheckSpec::MaxCost(v) => Kind::MaxCost(*v),
            CheckSpec::MaxOutputTokens(v) => Kind::MaxOutputTokens(*v),
            CheckSpec::Pii => Kind::Pii,
            CheckSpec::Citations(c) => Kind::Citations {
                re: Regex::new(&c.pattern).map_err(|e| err(format!("invalid regex: {e}")))?,
                min_share: c.min_share,
            },
            CheckSpec::Judge(j) => Kind::Judge(j.clone()),
        };
        Ok(Self { name, kind })
    }

    /// Compiles a list, stopping at the first error.
    pub fn compile_all(specs: &[CheckSpec], base_dir: &Path) -> Result<Vec<Self>, CompileError> {
        specs.iter().map(|s| Self::compile(s, base_dir)).collect()
    }

    /// The name results carry, e.g. `json_schema` or `regex /risk`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The judge's settings when this is a model-graded check, which [`run_checks`] skips.
    pub fn judge(&self) -> Option<&JudgeSpec> {
        match &self.kind {
            Kind::Judge(j) => Some(j),
            _ => None,
        }
    }

    /// Runs the check; `None` for a judge check, which is not run here.
    pub fn run(&self, input: &CheckInput) -> Option<CheckResult> {
        let (pass, score, reason) = match &self.kind {
            Kind::Judge(_) => return None,
            Kind::JsonValid => check_json_valid(input.text),
            Kind::JsonSchema(own) => {
                let schema = own.as_deref().or(input.schema);
                check_json_schema(schema, input.text)
            }
            Kind::Regex { path, re } => check_regex(path.as_deref(), re, input.text),
            Kind::Contains {
                path,
                value,
                ignore_case,
                negate,
            } => check_contains(path.as_deref(), value, *ignore_case, *negate, input.text),
            Kind::Equals {
                path,
                value,
                reference: None,
                ignore_case,
            } => check_equals(path.as_deref(), value, *ignore_case, input.text),
            Kind::Equals {
                path,
                reference: Some(at),
                ignore_case,
                ..
            } => match reference_value(input.case, at) {
                Ok(expected) => check_equals(path.as_deref(), &expected, *ignore_case, input.text),
                Err(reason) => (false, None, reason),
            },
            Kind::Metric { metric, min } => check_metric(*metric, *min, input),
            Kind::MaxLatencyMs(max) => limit("latency", input.latency_ms, *max, " ms"),
            Kind::MaxTtftMs(max) => match input.ttft_ms {
                Some(t) => limit("time to first token", t, *max, " ms"),
                None => (
                    false,
                    None,
                    "no time to first token was measured (the response was not streamed)".into(),
                ),
            },
            Kind::MaxOutputTokens(max) => limit("output tokens", input.output_tokens, *max, ""),
            Kind::MaxCost(max) => match input.cost_usd {
                Some(c) if c <= *max => (true, None, format!("cost ${c:.6} <= ${max:.6}")),
                Some(c) => (false, None, format!("cost ${c:.6} > ${max:.6}")),
                None => (
                    false,
                    None,
                    "no cost is known: the model has no price in the session".into(),
                ),
            },
            Kind::Citations { re, min_share } => check_citations(re, *min_share, input),
            Kind::Pii => {
                let counts = pii::count_by_kind(&pii::find_pii(input.text));
                if counts.is_empty() {
                    (true, None, "no personal data or secrets found".into())
                } else {
                    (
                        false,
                        None,
                        format!("found {}", pii::describe_counts(&counts)),
                    )
                }
            }
        };
        Some(CheckResult {
            name: self.name.clone(),
            pass,
            score,
            reason,
        })
    }
}

/// Runs every check but the judge ones, in order.
pub fn run_checks(specs: &[CompiledCheck], input: &CheckInput) -> Vec<CheckResult> {
    specs.iter().filter_map(|c| c.run(input)).collect()
}

type Verdict = (bool, Option<f64>, String);

fn limit(what: &str, value: u64, max: u64, unit: &str) -> Verdict {
    if value <= max {
        (true, None, format!("{what} {value}{unit} <= {max}{unit}"))
    } else {
        (false, None, format!("{what} {value}{unit} > {max}{unit}"))
    }
}

fn display_name(spec: &CheckSpec) -> String {
    let kind = spec.kind_name();
    match spec {
        CheckSpec::JsonSchema(Some(s)) => match &s.schema {
            SchemaRef::Path(p) => format!("{kind} {p}"),
            SchemaRef::Inline(_) => format!("{kind} (inline)"),
        },
        CheckSpec::Regex(m) => match &m.path {
            Some(p) if !p.is_empty() => format!("{kind} {p}"),
            _ => format!("{kind} {}", truncate(&m.pattern, 40)),
        },
        CheckSpec::Contains(t) | CheckSpec::NotContains(t) => match &t.path {
            Some(p) if !p.is_empty() => format!("{kind} {p} {}", quote(&t.value)),
            _ => format!("{kind} {}", quote(&t.value)),
        },
        CheckSpec::Equals(t) => match (&t.path, &t.reference) {
            (Some(p), Some(_)) if !p.is_empty() => format!("{kind} {p} reference"),
            (_, Some(r)) => format!("{kind} reference {r}"),
            (Some(p), None) if !p.is_empty() => format!("{kind} {p}"),
            _ => format!("{kind} {}", quote(&t.value)),
        },
        _ => kind.to_owned(),
    }
}

/// The passage ids an output cites, in order of first citation, each once: every match
/// of `re`'s first group, split at commas and semicolons.
pub fn cited_ids(re: &Regex, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for caps in re.captures_iter(text) {
        let Some(group) = caps.get(1) else { continue };
        for id in group.as_str().split([',', ';']).map(str::trim) {
            if !id.is_empty() && !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        }
    }
    out
}

/// The sentences of a text: split after `.`, `!` or `?` followed by white space, and at
/// line breaks; pieces without a letter or digit (JSON punctuation) are not sentences.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if c == '\n' || (matches!(c, '.' | '!' | '?') && next_is_space) {
            out.push(&text[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

fn check_citations(re: &Regex, min_share: f64, input: &CheckInput) -> (bool, Option<f64>, String) {
    if input.passages.is_empty() {
        return (
            false,
            None,
            "no passages were given to cite (the variant has no `rag:` config)".into(),
        );
    }
    let cited = cited_ids(re, input.text);
    let unknown: Vec<&String> = cited
        .iter()
        .filter(|id| !input.passages.contains(id))
        .collect();
    let all = sentences(input.text);
    let citing = all.iter().filter(|s| re.is_match(s)).count();
    let share = if all.is_empty() {
        0.0
    } else {
        citing as f64 / all.len() as f64
    };
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|u| quote(u)).collect();
        return (
            false,
            Some(share),
            format!(
                "cites {} that {} not among the {} passages given",
                list.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                input.passages.len()
            ),
        );
    }
    if cited.is_empty() {
        return (false, Some(0.0), "cites no passage".into());
    }
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    if share < min_share {
        return (
            false,
            Some(share),
            format!(
                "{citing} of {} sentences cite ({}), fewer than {}",
                all.len(),
                pct(share),
                pct(min_share)
            ),
        );
    }
    (
        true,
        Some(share),
        format!(
            "cites {} kept passage(s); {citing} of {} sentences cite",
            cited.len(),
            all.len()
        ),
    )
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A short excerpt as a JSON string: quoted, control characters escaped.
fn quote(s: &str) -> String {
    Value::String(truncate(s, QUOTE_CHARS)).to_string()
}

// ---------------------------------------------------------------------------------------
// JSON

/// Where [`extract_json`] found the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonSource {
    /// The whole output (surrounding whitespace aside).
    Whole,
    /// A fenced code block, ```` ```json ```` or unlabelled.
    Fence,
    /// An object or array inside prose.
    Embedded,
}

/// JSON found in a model's output.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedJson {
    pub value: Value,
    /// Byte range of the JSON text in the output.
    pub span: Range<usize>,
    pub source: JsonSource,
}

static FENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n(.*?)```").expect("static fence regex")
});

/// How many `{`/`[` positions are tried when looking for JSON inside prose.
const MAX_EMBEDDED_CANDIDATES: usize = 64;

/// Finds the JSON a model meant to give, tolerant of the usual wrapping. The rule, first
/// match wins:
///
/// 1. the whole output, trimmed (a leading byte-order mark too), parses as JSON;
/// 2. a fenced code block parses: blocks labelled `json` (any case, `jsonc`, `json5` too)
///    first, then unlabelled ones, each in order of appearance;
/// 3. an object or array inside prose: from each `{` or `[` in turn (the first 64), the
///    text up to its matching bracket (strings and escapes respected) parses.
///
/// Otherwise the error says why: the first `json` block's parse error if there is one, else
/// the whole output's when it starts like JSON, else that of the first `{`/`[` in the prose,
/// else that no JSON was found.
pub fn extract_json(text: &str) -> Result<ExtractedJson, String> {
    let lead = text.len()
        - text
            .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
            .len();
    let trimmed = text[lead..].trim_end();
    let whole_err = match serde_json::from_str::<Value>(trimmed) {
        Ok(value) => {
            return Ok(ExtractedJson {
                value,
                span: lead..lead + trimmed.len(),
                source: JsonSource::Whole,
            });
        }
        Err(e) => e,
    };

    let mut fence_err = None;
    let fences: Vec<(bool, Range<usize>)> = FENCE
        .captures_iter(text)
        .filter_map(|c| {
            let label = c.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
            let body = c.get(2)?.range();
            let is_json = label.starts_with("json");
            (is_json || label.is_empty()).then_some((is_json, body))
        })
        .collect();
    for want_json in [true, false] {
        for (is_json, body) in fences.iter().filter(|(j, _)| *j == want_json) {
            let raw = &text[body.clone()];
            let inner_lead = raw.len() - raw.trim_start().len();
            let inner = raw.trim();
            match serde_json::from_str::<Value>(inner) {
                Ok(value) => {
                    let start = body.start + inner_lead;
                    return Ok(ExtractedJson {
                        value,
                        span: start..start + inner.len(),
                        source: JsonSource::Fence,
                    });
                }
                Err(e) if *is_json && fence_err.is_none() => {
                    fence_err = Some(format!("in the ```json block: {e}"));
                }
                Err(_) => {}
            }
        }
    }

    let mut embedded_err = None;
    for start in text
        .match_indices(['{', '['])
        .map(|(i, _)| i)
        .take(MAX_EMBEDDED_CANDIDATES)
    {
        let end = matching_bracket(text, start);
        match serde_json::from_str::<Value>(&text[start..end.unwrap_or(text.len())]) {
            Ok(value) => {
                return Ok(ExtractedJson {
                    value,
                    span: start..end.unwrap_or(text.len()),
                    source: JsonSource::Embedded,
                });
            }
            Err(e) if embedded_err.is_none() => {
                let line = text[..start].matches('\n').count() + 1;
                let column = text[..start]
                    .rsplit('\n')
                    .next()
                    .map_or(0, |l| l.chars().count())
                    + 1;
                embedded_err = Some(format!(
                    "in the JSON starting at line {line} column {column}: {e}"
                ));
            }
            Err(_) => {}
        }
    }
    // The most useful error: the broken ```json block's, else the whole text's when it looks
    // like JSON from its first character, else the first embedded object's.
    let looks_like_json = trimmed.starts_with(['{', '[', '"', '-'])
        || trimmed.starts_with(|c: char| c.is_ascii_digit());
    Err(fence_err
        .or_else(|| (!looks_like_json).then_some(embedded_err).flatten())
        .unwrap_or_else(|| {
            if looks_like_json {
                whole_err.to_string()
            } else {
                "no JSON object or array found".to_owned()
            }
        }))
}

/// The end (exclusive) of the bracketed value starting at `start`, skipping over strings.
fn matching_bracket(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b'}' | b']' => {
                if stack.pop() != Some(b) {
                    return None;
                }
                if stack.is_empty() {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Compiles a JSON Schema as draft 2020-12 (whatever its `$schema` says).
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    jsonschema::draft202012::new(schema).map_err(|e| format!("invalid JSON Schema: {e}"))
}

/// Reads (a path, relative to `base_dir`; `.yaml`/`.yml` as YAML, anything else as JSON) or
/// takes (inline) a schema, and compiles it.
pub fn load_schema(schema: &SchemaRef, base_dir: &Path) -> Result<Validator, String> {
    match schema {
        SchemaRef::Inline(v) => compile_schema(v),
        SchemaRef::Path(p) => {
            let path = base_dir.join(p);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
            let is_yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            let value: Value = if is_yaml {
                serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            } else {
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            };
            compile_schema(&value).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// A JSON pointer for people: the document root is written `/`.
fn pointer_label(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

fn schema_errors(schema: &Validator, value: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut more = 0usize;
    for e in schema.iter_errors(value) {
        if out.len() < MAX_ERRORS {
            let path = e.instance_path().to_string();
            out.push(format!(
                "{}: {}",
                pointer_label(&path),
                truncate(&e.to_string(), 300)
            ));
        } else {
            more += 1;
        }
    }
    if more > 0 {
        out.push(format!("… and {more} more errors"));
    }
    out
}

/// Extracts the JSON from an output (see [`extract_json`]) and validates it. The errors are
/// `pointer: message` lines (`/` is the whole document), ready to send back to the model in
/// a repair turn.
pub fn validate_json(schema: &Validator, text: &str) -> Result<Value, Vec<String>> {
    let found = extract_json(text).map_err(|e| vec![format!("/: not valid JSON: {e}")])?;
    let errors = schema_errors(schema, &found.value);
    if errors.is_empty() {
        Ok(found.value)
    } else {
        Err(errors)
    }
}

fn source_note(source: JsonSource) -> &'static str {
    match source {
        JsonSource::Whole => "",
        JsonSource::Fence => " (in a fenced code block)",
        JsonSource::Embedded => " (inside surrounding text)",
    }
}

fn check_json_valid(text: &str) -> Verdict {
    match extract_json(text) {
        Ok(found) => (
            true,
            None,
            format!("valid JSON{}", source_note(found.source)),
        ),
        Err(e) => (false, None, format!("not JSON: {e}")),
    }
}

fn check_json_schema(schema: Option<&Validator>, text: &str) -> Verdict {
    let Some(schema) = schema else {
        return (
            false,
            None,
            "no schema: the template has no output_schema and the check names none".into(),
        );
    };
    let found = match extract_json(text) {
        Ok(found) => found,
        Err(e) => return (false, None, format!("not JSON: {e}")),
    };
    let errors = schema_errors(schema, &found.value);
    if errors.is_empty() {
        return (
            true,
            None,
            format!("matches the schema{}", source_note(found.source)),
        );
    }
    let mut reason = errors
        .iter()
        .take(REASON_ERRORS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > REASON_ERRORS {
        let _ = write!(reason, "; … {} more", errors.len() - REASON_ERRORS);
    }
    (false, None, reason)
}

/// What a check compares: the whole text, or the value at a pointer as text (a string's
/// contents, anything else as compact JSON). `Err` is the failing verdict's reason.
enum Target<'a> {
    Text(&'a str),
    Value { path: &'a str, text: String },
}

impl Target<'_> {
    fn text(&self) -> &str {
        match self {
            Target::Text(t) => t,
            Target::Value { text, .. } => text,
        }
    }

    /// `text` or `/risk: "urgent"` for reasons.
    fn describe(&self) -> String {
        match self {
            Target::Text(_) => "text".into(),
            Target::Value { path, text } => format!("{}: {}", pointer_label(path), quote(text)),
        }
    }
}

fn target<'a>(path: Option<&'a str>, text: &'a str) -> Result<Target<'a>, String> {
    let Some(path) = path else {
        return Ok(Target::Text(text));
    };
    let found = extract_json(text)
        .map_err(|e| format!("{}: the output is not JSON ({e})", pointer_label(path)))?;
    match found.value.pointer(path) {
        Some(Value::String(s)) => Ok(Target::Value {
            path,
            text: s.clone(),
        }),
        Some(v) => Ok(Target::Value {
            path,
            text: v.to_string(),
        }),
        None => Err(format!(
            "{}: not found in the output's JSON",
            pointer_label(path)
        )),
    }
}

fn check_regex(path: Option<&str>, re: &Regex, text: &str) -> Verdict {
    let t = match target(path, text) {
        Ok(t) => t,
        Err(reason) => return (false, None, reason),
    };
    if re.is_match(t.text()) {
        (
            true,
            None,
            format!("{} matches {}", t.describe(), re.as_str()),
        )
    } else {
        (
            false,
            None,
            format!("{} does not match {}", t.describe(), re.as_str()),
        )
    }
}

fn check_contains(
    path: Option<&str>,
    value: &str,
    ignore_case: bool,
    negate: bool,
    text: &str,
) -> Verdict {
    let t = match target(path, text) {
        Ok(t) => t,
        Err(reason) => return (false, None, reason),
    };
    let found = if ignore_case {
        t.text().to_lowercase().contains(value)
    } else {
        t.text().contains(value)
    };
    let what = if found {
        "contains"
    } else {
        "does not contain"
    };
    let reason = format!("{} {what} {}", t.describe(), quote(value));
    (found != negate, None, reason)
}

/// The value the case's reference holds at `pointer` (`""`: the whole reference text).
fn reference_value(case: &Case, pointer: &str) -> Result<String, String> {
    let Some(reference) = &case.reference else {
        return Err(format!(
            "case `{}` has no reference to compare with",
            case.id
        ));
    };
    if pointer.is_empty() {
        return Ok(reference.trim().to_owned());
    }
    let json: Value = serde_json::from_str(reference).map_err(|e| {
        format!(
            "the reference of case `{}` is not JSON ({e}), so it has no {pointer}",
            case.id
        )
    })?;
    match json.pointer(pointer) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Ok(v.to_string()),
        None => Err(format!(
            "the reference of case `{}` has nothing at {pointer}",
            case.id
        )),
    }
}

fn check_equals(path: Option<&str>, value: &str, ignore_case: bool, text: &str) -> Verdict {
    let t = match target(path, text) {
        Ok(t) => t,
        Err(reason) => return (false, None, reason),
    };
    // The whole output is compared without its surrounding whitespace: models end with a
    // newline more often than not. A value at a pointer is compared as it is.
    let got = match t {
        Target::Text(s) => s.trim(),
        Target::Value { .. } => t.text(),
    };
    let equal = if ignore_case {
        got.to_lowercase() == value.to_lowercase()
    } else {
        got == value
    };
    let subject = match &t {
        Target::Text(_) => format!("text {}", quote(got)),
        Target::Value { .. } => t.describe(),
    };
    if equal {
        (true, None, format!("{subject} equals {}", quote(value)))
    } else {
        (false, None, format!("{subject} is not {}", quote(value)))
    }
}

fn check_metric(metric: Metric, min: f64, input: &CheckInput) -> Verdict {
    let Some(reference) = input.case.reference.as_deref() else {
        return (
            false,
            None,
            format!("case {} has no reference answer", input.case.id),
        );
    };
    let (label, score) = match metric {
        Metric::Bleu => (
            "BLEU",
            text::sentence_bleu(input.text, &[reference]) / 100.0,
        ),
        Metric::RougeL => ("ROUGE-L", text::rouge_l(input.text, reference)),
        Metric::Similarity => ("similarity", text::similarity(input.text, reference)),
    };
    if score >= min {
        (true, Some(score), format!("{label} {score:.3} >= {min:.3}"))
    } else {
        (false, Some(score), format!("{label} {score:.3} < {min:.3}"))
    }
}
