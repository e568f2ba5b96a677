//! Words for a newcomer where the parser speaks of Rust types: "expected struct `MatchSpec`"
//! becomes the keys allowed there with a one-line example, "expected u8" a whole number,
//! and a value that swallowed the next line says it looks misindented. An undefined template
//! variable gets the closest known name, or the CSV header that lacks it.

use std::path::Path;

/// What each section of a session file may hold, by the name serde gives its type.
const SHAPES: &[(&str, &str)] = &[
    (
        "MatchSpec",
        "a map with `pattern` (a regex) and optionally `path` (a JSON pointer) and \
         `ignore_case`, e.g. `- { regex: { pattern: \"^(low|high)$\", path: /risk } }`",
    ),
    (
        "TextSpec",
        "a map with `value` and optionally `path` (a JSON pointer) and `ignore_case` (`equals` \
         also takes `reference` instead of `value`), e.g. `- { contains: { value: \"refund\" } }`",
    ),
    (
        "MinSpec",
        "a map with `min` (0..1), e.g. `- { rouge_l: { min: 0.3 } }`, or the bare name \
         (`- rouge_l`) to record the score only",
    ),
    (
        "JsonSchemaSpec",
        "a map with `schema` (a file or an inline schema), e.g. \
         `- { json_schema: { schema: schemas/out.json } }`, or the bare `- json_schema` for the \
         template's `output_schema`",
    ),
    (
        "JudgeSpec",
        "a map with `template`, `model` and optionally `pairs`, e.g. \
         `- { judge: { template: judge, model: big } }`",
    ),
    (
        "TemplateSpec",
        "a template: a map with `system`, `user`, `examples`, `inherits` or `output_schema`, \
         indented under the template's name, e.g. `templates: { base: { user: \"Summarise \
         {{ ticket }}\" } }`",
    ),
    (
        "ModelSpec",
        "a model: a map with `provider`, `model` and optionally `base_url`, `params`, \
         `api_key_env`, `price`, `concurrency`, `rpm`, `timeouts`, `retries`, `stream`, \
         indented under the model's name, e.g. `models: { small: { provider: openai, model: \
         smollm2-135m } }`",
    ),
    (
        "Params",
        "a map with `temperature`, `top_p`, `max_tokens`, `seed` or `stop`, e.g. \
         `params: { temperature: 0.2, max_tokens: 200 }`",
    ),
    (
        "Price",
        "a map with `input_per_mtok` and `output_per_mtok` (dollars per million tokens), e.g. \
         `price: { input_per_mtok: 0.15, output_per_mtok: 0.6 }`",
    ),
    (
        "Timeouts",
        "a map with `connect_ms`, `idle_ms` or `total_ms`, e.g. `timeouts: { total_ms: 60000 }`",
    ),
    (
        "RagSpec",
        "a rag config: a map with `corpus`, `retriever` and optionally `chunk`, `embedder`, \
         `top_k`, `rerank`, `keep`, `query_rewrite`, e.g. `rag: { docs: { corpus: \
         [\"docs/*.md\"], retriever: bm25 } }`",
    ),
    (
        "ChunkSpec",
        "a map with `tokens` and optionally `overlap`, e.g. `chunk: { tokens: 400, overlap: 40 }`",
    ),
    (
        "VariantSpec",
        "a variant: a map with `name`, `template`, `model` and optionally `rag`, `checks`, \
         `enforce_schema`; `variants` is a list, e.g. `- { name: prompt, template: base, model: \
         small }`",
    ),
    (
        "RubricDim",
        "a rubric dimension: a map with `key` and optionally `scale` (2..10, default 5); \
         `rubric` is a list, e.g. `- { key: clarity, scale: 5 }`",
    ),
    (
        "RatingSpec",
        "a map with `pairs` and optionally `raters_per_comparison`, `gold_rate`, `mask`, \
         `unmask`, `release_after_minutes`, `labels`, `calibration_share`, `schedule` (`fixed` or \
         `adaptive`), e.g. `rating: { pairs: [[prompt, rag]], \
         raters_per_comparison: 2 }`",
    ),
    (
        "CasesFile",
        "`{ file: path }` (JSONL, CSV or YAML) or a list of cases, e.g. `cases: { file: \
         cases.csv }`",
    ),
    (
        "Example",
        "a few-shot example: a map with `user` and `assistant`, e.g. `- { user: \"Hi\", \
         assistant: \"Hello\" }`",
    ),
    (
        "EnforceSchema",
        "a map with `retries`, e.g. `enforce_schema: { retries: 1 }`",
    ),
    (
        "SessionFile",
        "a session: a map with `name`, `variants` and `cases` (required) and `description`, \
         `models`, `templates`, `rag`, `repeats`, `checks`, `rubric`, `rating`",
    ),
];

/// Plain words for a primitive serde names.
const PRIMITIVES: &[(&str, &str)] = &[
    ("u8", "a whole number from 0 to 255"),
    ("u16", "a whole number from 0 to 65535"),
    ("u32", "a whole number, 0 or more"),
    ("u64", "a whole number, 0 or more"),
    ("usize", "a whole number, 0 or more"),
    ("i64", "a whole number"),
    ("f64", "a number, e.g. 0.2"),
    ("f32", "a number, e.g. 0.2"),
];

/// The parser's message with Rust type names turned into what to write there.
pub(super) fn explain(message: &str) -> String {
    let mut out = message.to_owned();
    for (ty, words) in SHAPES {
        let needle = format!("expected struct {ty}");
        if out.contains(&needle) {
            out = out.replace(&needle, &format!("expected {words}"));
            if *ty == "TemplateSpec" || *ty == "ModelSpec" || *ty == "RagSpec" {
                out.push_str(
                    " (is a key such as `user:` indented less than its template's or model's \
                     other keys?)",
                );
            }
        }
    }
    for (ty, words) in PRIMITIVES {
        let needle = format!("expected {ty}");
        if let Some(at) = out.find(&needle)
            && out[at + needle.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
        {
            out.replace_range(at..at + needle.len(), &format!("expected {words}"));
        }
    }
    if let Some(next) = swallowed_key(message) {
        out.push_str(&format!(
            " (the next line looks indented deeper than this one, so `{next}:` was read as part \
             of this value: line it up with the keys beside it)"
        ));
    }
    out
}

/// In `invalid type: string "0.2 max_tokens", expected ...`, the key the string swallowed.
fn swallowed_key(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("invalid type: string \"")
        .or_else(|| {
            message
                .split_once(": invalid type: string \"")
                .map(|(_, r)| r)
        })?;
    let value = rest.split('"').next()?;
    let mut words = value.split_whitespace();
    words.next()?;
    let next = words.next()?;
    let looks_like_key = next
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        && next.contains('_')
        || KEYS.contains(&next);
    looks_like_key.then_some(next)
}

/// Keys of a session file that hold scalars, the ones a misindented line would show.
const KEYS: &[&str] = &[
    "temperature",
    "seed",
    "stop",
    "provider",
    "model",
    "retries",
    "concurrency",
    "rpm",
    "stream",
    "scale",
    "key",
    "min",
    "user",
    "system",
    "inherits",
    "name",
    "template",
    "rag",
];

/// " (did you mean `ticket`?)" for an undefined variable close to a known one, and the CSV
/// file with its header when the cases come from a CSV that lacks the column.
pub(super) fn undefined_variable(variable: &str, known: &[String], csv: Option<&Path>) -> String {
    let mut out = String::new();
    let closest = known
        .iter()
        .map(|k| (distance(&k.to_lowercase(), &variable.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.cmp(y.1)));
    if let Some((_, k)) = closest {
        out.push_str(&format!(" (did you mean `{k}`?)"));
    }
    if let Some(path) = csv {
        let header = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| {
                t.lines()
                    .next()
                    .map(|l| l.trim_start_matches('\u{feff}').to_owned())
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "; the cases file {} has no `{variable}` column (its header: {header})",
            path.display()
        ));
    }
    out
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_become_keys_and_examples() {
        let m = explain("invalid type: string \"^x\", expected struct MatchSpec");
        assert!(!m.contains("MatchSpec"), "{m}");
        assert!(
            m.contains("`pattern`") && m.contains("e.g. `- { regex:"),
            "{m}"
        );
        let m = explain("invalid type: string \"five\", expected u8");
        assert!(m.ends_with("expected a whole number from 0 to 255"), "{m}");
        let m = explain("invalid type: string \"0.2 max_tokens\", expected f64");
        assert!(m.contains("expected a number"), "{m}");
        assert!(
            m.contains("`max_tokens:` was read as part of this value"),
            "{m}"
        );
        let m = explain("invalid type: string \"x\", expected struct TemplateSpec");
        assert!(m.contains("indented"), "{m}");
        assert_eq!(explain("missing field `name`"), "missing field `name`");
    }

    #[test]
    fn an_undefined_variable_gets_the_nearest_name() {
        let known = vec!["ticket".to_owned(), "customer".to_owned()];
        assert_eq!(
            undefined_variable("tickte", &known, None),
            " (did you mean `ticket`?)"
        );
        assert_eq!(undefined_variable("language", &known, None), "");
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
