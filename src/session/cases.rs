//! Cases: inline in the session, or in a JSONL, CSV or YAML file beside it.
//!
//! Every format comes down to rows of key -> value; one function turns a row into a
//! [`Case`], so the reserved keys mean the same everywhere.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::load::{Checker, is_yaml, json_problem, location, yaml_problem};
use super::position::{PosIndex, ypath};
use super::{Case, CasesSpec, FileKind, Location, ProblemKind, RefKind, SessionFile};

/// Names a template sees besides the case's variables; a variable cannot take them.
const RESERVED_VARS: [&str; 2] = ["case", "passages"];

/// One row before it becomes a case, with where it (and each of its keys) was written.
struct Row {
    map: Map<String, Value>,
    at: Location,
    /// Where each key's value is, when the format tells (YAML); else the row's place.
    keys: HashMap<String, Location>,
}

impl Row {
    fn at_key(&self, key: Option<&str>) -> Location {
        key.and_then(|k| self.keys.get(k))
            .unwrap_or(&self.at)
            .clone()
    }
}

/// Why a row is not a case, and which key is wrong.
struct RowError {
    key: Option<String>,
    message: String,
}

/// Reads the cases, reporting problems to `cx`; returns them with where each was read.
///
/// A cases file's rows become cases one at a time as they are parsed, so loading 10k cases
/// never holds them twice (parsed and converted).
pub(super) fn load(cx: &mut Checker, f: &SessionFile) -> (Vec<Case>, Vec<Location>) {
    let mut out = Cases::new(f);
    match &f.cases {
        CasesSpec::Inline(rows) => {
            for (i, map) in rows.iter().enumerate() {
                let row = Row {
                    at: cx.at(&ypath!["cases", i]),
                    keys: map
                        .keys()
                        .map(|k| (k.clone(), cx.at(&ypath!["cases", i, k])))
                        .collect(),
                    map: map.clone(),
                };
                out.push(cx, row);
            }
        }
        CasesSpec::File(file) => {
            let path = cx.dir.join(&file.file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    cx.report(
                        &ypath!["cases", "file"],
                        ProblemKind::File {
                            kind: FileKind::Cases,
                            path,
                            reason: e.to_string(),
                        },
                    );
                    return (Vec::new(), Vec::new());
                }
            };
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("jsonl" | "ndjson") => jsonl_rows(cx, &path, &text, &mut out),
                Some("csv") => csv_rows(cx, &path, &text, &mut out),
                _ if is_yaml(&path) => yaml_rows(cx, &path, &text, &mut out),
                _ => {
                    cx.report(
                        &ypath!["cases", "file"],
                        ProblemKind::Invalid(format!(
                            "cannot tell the format of cases file {}: name it .jsonl, .csv, \
                             .yaml or .yml",
                            path.display()
                        )),
                    );
                    return (Vec::new(), Vec::new());
                }
            }
        }
    }
    out.finish(cx)
}

/// The cases read so far, each row checked as it comes.
struct Cases<'f> {
    f: &'f SessionFile,
    read: Vec<Case>,
    locations: Vec<Location>,
    /// Line of each case id's first row.
    first: HashMap<String, usize>,
    /// Rows seen, the valid and the invalid: row N's default id is `case-N`.
    rows: usize,
    /// Some row or the whole file could not be read (already reported): "no cases" would
    /// only repeat that.
    unreadable: bool,
}

impl<'f> Cases<'f> {
    fn new(f: &'f SessionFile) -> Self {
        Cases {
            f,
            read: Vec::new(),
            locations: Vec::new(),
            first: HashMap::new(),
            rows: 0,
            unreadable: false,
        }
    }

    fn push(&mut self, cx: &mut Checker, mut row: Row) {
        self.rows += 1;
        let case = match case_from_row(std::mem::take(&mut row.map), self.rows) {
            Ok(case) => case,
            Err(e) => {
                cx.report_at(
                    row.at_key(e.key.as_deref()),
                    ProblemKind::Invalid(e.message),
                );
                return;
            }
        };
        if let Some(&first_line) = self.first.get(&case.id) {
            cx.report_at(
                row.at_key(Some("id")),
                ProblemKind::Duplicate {
                    what: "case id",
                    name: case.id.clone(),
                    first_line,
                },
            );
            return;
        }
        self.first.insert(case.id.clone(), row.at.line);
        if let Some(gold) = &case.gold
            && !self.f.variants.iter().any(|v| &v.name == gold)
        {
            cx.report_at(
                row.at_key(Some("gold")),
                ProblemKind::Unknown {
                    kind: RefKind::Variant,
                    name: gold.clone(),
                    known: self.f.variants.iter().map(|v| v.name.clone()).collect(),
                },
            );
        }
        self.read.push(case);
        self.locations.push(row.at);
    }

    fn finish(mut self, cx: &mut Checker) -> (Vec<Case>, Vec<Location>) {
        if self.rows == 0 && !self.unreadable {
            let at = match &self.f.cases {
                CasesSpec::Inline(_) => ypath!["cases"].to_vec(),
                CasesSpec::File(_) => ypath!["cases", "file"].to_vec(),
            };
            cx.report(
                &at,
                ProblemKind::Invalid("no cases: a session needs at least one".into()),
            );
        }
        self.read.shrink_to_fit();
        self.locations.shrink_to_fit();
        (self.read, self.locations)
    }
}

/// A row as a case. Reserved keys: `id` (default `case-N`, N the 1-based row), `reference`,
/// `tags`, `split`, `gold`, `relevant` (corpus documents that answer it, a list or
/// `a.md|b.md`), `vars`; every other key is a variable.
fn case_from_row(mut map: Map<String, Value>, row: usize) -> Result<Case, RowError> {
    let err = |key: &str, message: String| RowError {
        key: Some(key.to_owned()),
        message,
    };
    let id = match map.shift_remove("id") {
        None | Some(Value::Null) => format!("case-{row}"),
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(err(
                "id",
                format!("`id` must be a non-empty string or a number, not {other}"),
            ));
        }
    };
    let reference = match map.shift_remove("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        // A structured reference (the JSON a model should produce) is compared as text.
        Some(other) => Some(other.to_string()),
    };
    let tags = match map.shift_remove("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => split_tags(&s),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|t| match t {
                Value::String(s) => Ok(s),
                other => Err(err("tags", format!("a tag must be a string, not {other}"))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(err(
                "tags",
                format!("`tags` must be a list of strings, not {other}"),
            ));
        }
    };
    let mut text = |key: &str| match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(err(key, format!("`{key}` must be a string, not {other}"))),
    };
    let split = text("split")?;
    let gold = text("gold")?;
    let relevant = match map.shift_remove("relevant") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => split_tags(&s),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|t| match t {
                Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                other => Err(err(
                    "relevant",
                    format!("a relevant document must be a path (a string), not {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(err(
                "relevant",
                format!("`relevant` must be a list of document paths, not {other}"),
            ));
        }
    };
    let mut vars = match map.shift_remove("vars") {
        // Sized to fit: a session can hold many thousand cases.
        None | Some(Value::Null) => Map::with_capacity(map.len()),
        Some(Value::Object(vars)) => vars,
        Some(other) => {
            return Err(err(
                "vars",
                format!("`vars` must map variable names to values, not {other}"),
            ));
        }
    };
    for (k, v) in map {
        if vars.contains_key(&k) {
            return Err(err(
                &k,
                format!("variable `{k}` is set twice: at the top level and under `vars`"),
            ));
        }
        vars.insert(k, v);
    }
    if let Some(k) = RESERVED_VARS.iter().find(|k| vars.contains_key(**k)) {
        return Err(err(
            k,
            format!(
                "`{k}` cannot be a variable: templates see the whole case as `case` and \
                 retrieved passages as `passages`"
            ),
        ));
    }
    Ok(Case {
        id,
        vars,
        reference,
        tags,
        split,
        gold,
        relevant,
    })
}

/// Cases read from a JSONL file outside a session (a training file for `loupe export
/// --from references`), each with its 1-based line number. Rows have the session's case
/// format; a problem is given as `file:line:col: what`.
pub fn load_jsonl_file(path: &Path) -> Result<Vec<(Case, usize)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read cases file {}: {e}", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out: Vec<(Case, usize)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows += 1;
        let at = format!("{}:{}", path.display(), i + 1);
        let map = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            Ok(other) => return Err(format!("{at}:1: a case must be a JSON object, not {other}")),
            Err(e) => return Err(format!("{at}:{}: {e}", e.column())),
        };
        let case = case_from_row(map, rows).map_err(|e| {
            let key = e.key.map(|k| format!(" (`{k}`)")).unwrap_or_default();
            format!("{at}:1:{key} {}", e.message)
        })?;
        if let Some(first) = seen.insert(case.id.clone(), i + 1) {
            return Err(format!(
                "{at}:1: case id `{}` is used twice (first on line {first})",
                case.id
            ));
        }
        out.push((case, i + 1));
    }
    Ok(out)
}

/// Tags written in one string (a CSV cell): `common|edge`.
fn split_tags(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn jsonl_rows(cx: &mut Checker, path: &Path, text: &str, out: &mut Cases) {
    // A byte-order mark (some editors on Windows write one) is not part of the first row.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = Location {
            file: path.to_owned(),
            line: i + 1,
            col: 1,
        };
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => out.push(
                cx,
                Row {
                    map,
                    at,
                    keys: HashMap::new(),
                },
            ),
            Ok(other) => {
                out.unreadable = true;
                cx.report_at(
                    at,
                    ProblemKind::Invalid(format!("a case must be a JSON object, not {other}")),
                );
            }
            Err(e) => {
                out.unreadable = true;
                cx.push(json_problem(path, i + 1, &e));
            }
        }
    }
}

fn csv_rows(cx: &mut Checker, path: &Path, text: &str, out: &mut Cases) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let at = |line: u64| Location {
        file: path.to_owned(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        col: 1,
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.unreadable = true;
            cx.report_at(at(1), ProblemKind::Parse(csv_message(&e)));
            return;
        }
    };
    let mut seen = HashSet::new();
    for h in &headers {
        if !seen.insert(h) {
            cx.report_at(
                at(1),
                ProblemKind::Duplicate {
                    what: "column",
                    name: h.to_owned(),
                    first_line: 1,
                },
            );
        }
    }
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(1, csv::Position::line);
                out.unreadable = true;
                cx.report_at(at(line), ProblemKind::Parse(csv_message(&e)));
                continue;
            }
        };
        let row_at = at(record.position().map_or(1, csv::Position::line));
        let mut map = Map::new();
        let mut bad = false;
        for (key, cell) in headers.iter().zip(record.iter()) {
            let value = match key {
                "tags" => Value::Array(split_tags(cell).into_iter().map(Value::String).collect()),
                // An empty optional cell is an absent value, not an empty string.
                "id" | "reference" | "split" | "gold" | "relevant" | "vars" if cell.is_empty() => {
                    continue;
                }
                "vars" => match serde_json::from_str(cell) {
                    Ok(v) => v,
                    Err(e) => {
                        out.unreadable = true;
                        cx.report_at(
                            row_at.clone(),
                            ProblemKind::Invalid(format!(
                                "column `vars` must hold a JSON object: {e}"
                            )),
                        );
                        bad = true;
                        break;
                    }
                },
                _ => Value::String(cell.to_owned()),
            };
            map.insert(key.to_owned(), value);
        }
        if !bad {
            out.push(
                cx,
                Row {
                    map,
                    at: row_at,
                    keys: HashMap::new(),
                },
            );
        }
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("this row has {len} fields, but the header has {expected_len}"),
        _ => e.to_string(),
    }
}

fn yaml_rows(cx: &mut Checker, path: &Path, text: &str, out: &mut Cases) {
    let maps: Vec<Map<String, Value>> = match serde_yaml::from_str(text) {
        Ok(maps) => maps,
        Err(e) => {
            out.unreadable = true;
            cx.push(yaml_problem(path, text, &e));
            return;
        }
    };
    let index = PosIndex::build(text);
    let at = |p: &[super::position::Seg]| location(path, index.value(p));
    for (i, map) in maps.into_iter().enumerate() {
        let row = Row {
            at: at(&ypath![i]),
            keys: map.keys().map(|k| (k.clone(), at(&ypath![i, k]))).collect(),
            map,
        };
        out.push(cx, row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reserved_keys_and_variables() {
        let c = case_from_row(
            row(&json!({
                "id": 7, "text": "t", "reference": {"risk": "low"}, "tags": ["edge"],
                "split": "eval", "vars": {"lang": "en"}
            })),
            1,
        )
        .ok()
        .expect("a case");
        assert_eq!(c.id, "7");
        assert_eq!(c.reference.as_deref(), Some(r#"{"risk":"low"}"#));
        assert_eq!(c.tags, ["edge"]);
        assert_eq!(c.split.as_deref(), Some("eval"));
        assert_eq!(Value::Object(c.vars), json!({"lang": "en", "text": "t"}));
    }

    #[test]
    fn ids_default_to_the_row_number() {
        let c = case_from_row(row(&json!({"text": "t"})), 3)
            .ok()
            .expect("a case");
        assert_eq!(c.id, "case-3");
    }

    #[test]
    fn string_tags_split_on_bars() {
        let c = case_from_row(row(&json!({"tags": "common| edge |"})), 1)
            .ok()
            .expect("a case");
        assert_eq!(c.tags, ["common", "edge"]);
    }

    #[test]
    fn bad_rows_name_the_key() {
        for (v, key) in [
            (json!({"id": [1]}), "id"),
            (json!({"tags": [1]}), "tags"),
            (json!({"split": 2}), "split"),
            (json!({"vars": 1}), "vars"),
            (json!({"x": 1, "vars": {"x": 2}}), "x"),
            (json!({"case": 1}), "case"),
            (json!({"vars": {"passages": []}}), "passages"),
        ] {
            let Err(e) = case_from_row(row(&v), 1) else {
                panic!("{v} should fail");
            };
            assert_eq!(e.key.as_deref(), Some(key), "{v}: {}", e.message);
        }
    }
}
