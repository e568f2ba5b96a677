//! What every export does to its rows by default: redaction, deduplication,
//! decontamination against the evaluation split, and a deterministic train/valid split.
//!
//! Each piece keeps state that does not grow with row size: dedupe keeps 16 bytes per
//! distinct row, decontamination one automaton over the evaluation cases, redaction a small
//! bounded cache of message texts (system prompts and few-shot turns repeat on every row).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use aho_corasick::AhoCorasick;
use serde::Serialize;

use crate::eval::pii::{self, PiiKind};
use crate::session::Case;

/// Lower case, every run of whitespace one space, trimmed: "equal after whitespace and case
/// folding" means equal after this.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.is_ascii() {
            // The common case, and a fifth of an export's time before this shortcut.
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        } else {
            for c in word.chars() {
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

/// Why a row is a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    /// Byte for byte the same as a row already written.
    Exact,
    /// The same after whitespace and case folding.
    Folded,
}

/// Remembers the rows written, by a 64-bit digest of their parts: 16 bytes a row, and a
/// chance of two different rows colliding of about 3e-8 in a million rows.
#[derive(Debug, Default)]
pub struct Dedupe {
    exact: HashSet<u64>,
    folded: HashSet<u64>,
}

fn digest<'a>(parts: impl IntoIterator<Item = &'a str>, fold_parts: bool) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        // Length-prefixed: ("ab", "c") and ("a", "bc") are different rows.
        if fold_parts {
            let f = fold(p);
            h.update(&(f.len() as u64).to_le_bytes());
            h.update(f.as_bytes());
        } else {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
    }
    let mut out = [0; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(out)
}

impl Dedupe {
    /// `None` for a new row (remembered from now on), else which kind of duplicate it is.
    pub fn check(&mut self, parts: &[&str]) -> Option<Duplicate> {
        let exact = digest(parts.iter().copied(), false);
        if self.exact.contains(&exact) {
            return Some(Duplicate::Exact);
        }
        let folded = digest(parts.iter().copied(), true);
        if !self.folded.insert(folded) {
            return Some(Duplicate::Folded);
        }
        self.exact.insert(exact);
        None
    }
}

/// Which file a group of rows goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Valid,
}

/// Train or valid for a group (a case id), from a hash of the seed and the group alone:
/// the same on every machine and in any row order, and one case's rows never straddle the
/// two files (repeats and variants of a case would otherwise leak into validation).
pub fn split_of(seed: u64, group: &str, valid: f64) -> Split {
    if valid <= 0.0 {
        return Split::Train;
    }
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(group.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    // 53 bits: exactly representable in an f64, uniform in [0, 1).
    let x = (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    if x < valid {
        Split::Valid
    } else {
        Split::Train
    }
}

/// Why a row is held back as evaluation data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contamination {
    /// Its case is in the evaluation split.
    EvalSplit,
    /// Its input matches (or contains) the input of an evaluation case.
    MatchesEvalCase,
}

/// A case's inputs, folded, as one string (keys sorted, string values folded).
fn vars_fingerprint(case: &Case) -> String {
    let sorted: BTreeMap<&String, String> = case
        .vars
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => fold(s),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// Shorter folded values are too common ("low", "yes") to say a row copies an eval case.
const MIN_MATCH_CHARS: usize = 24;

/// The check that keeps evaluation inputs out of an export could not be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "the check that keeps the {eval_cases} evaluation cases' inputs out of the export could not \
     be built from their {inputs} long inputs ({reason}); nothing was exported, since rows \
     copying an evaluation case would go out unnoticed"
)]
pub struct DecontaminationError {
    inputs: usize,
    eval_cases: usize,
    reason: String,
}

/// Knows the evaluation cases' inputs; tells whether a row's case or prompt matches one.
#[derive(Debug)]
pub struct Decontaminator {
    eval_split: String,
    /// Ids of the other cases whose inputs match an evaluation case's: found once, when the
    /// export starts, not again for every row of the case.
    matching: HashSet<String>,
    automaton: Option<AhoCorasick>,
    pub eval_cases: usize,
}

impl Decontaminator {
    /// From the session's cases: those whose split is `eval_split` are the evaluation set.
    /// Fails, rather than exporting unchecked rows, when the input matcher cannot be built.
    pub fn new(cases: &[Case], eval_split: &str) -> Result<Self, DecontaminationError> {
        Self::with_matcher(cases, eval_split, |patterns| {
            AhoCorasick::new(patterns).map_err(|e| e.to_string())
        })
    }

    /// As [`Decontaminator::new`], with the matcher built by `build` (tests make it fail).
    pub fn with_matcher(
        cases: &[Case],
        eval_split: &str,
        build: impl FnOnce(&[&String]) -> Result<AhoCorasick, String>,
    ) -> Result<Self, DecontaminationError> {
        let is_eval = |c: &Case| c.split.as_deref() == Some(eval_split);
        let mut fingerprints = HashSet::new();
        let mut long_values = HashSet::new();
        let mut eval_cases = 0;
        for c in cases.iter().filter(|c| is_eval(c)) {
            eval_cases += 1;
            fingerprints.insert(vars_fingerprint(c));
            for v in c.vars.values() {
                if let serde_json::Value::String(s) = v {
                    let f = fold(s);
                    if f.chars().count() >= MIN_MATCH_CHARS {
                        long_values.insert(f);
                    }
                }
            }
        }
        let matching = if eval_cases == 0 {
            HashSet::new()
        } else {
            cases
                .iter()
                .filter(|c| !is_eval(c))
                .filter(|c| {
                    fingerprints.contains(&vars_fingerprint(c))
                        || c.vars.values().any(|v| {
                            matches!(v, serde_json::Value::String(s) if long_values.contains(&fold(s)))
                        })
                })
                .map(|c| c.id.clone())
                .collect()
        };
        let mut patterns: Vec<&String> = long_values.iter().collect();
        patterns.sort();
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(build(&patterns).map_err(|reason| DecontaminationError {
                inputs: patterns.len(),
                eval_cases,
                reason,
            })?)
        };
        Ok(Self {
            eval_split: eval_split.to_owned(),
            matching,
            automaton,
            eval_cases,
        })
    }

    /// Whether a row built from `case` whose final user message is `user` is evaluation data.
    pub fn check(&self, case: &Case, user: Option<&str>) -> Option<Contamination> {
        if case.split.as_deref() == Some(self.eval_split.as_str()) {
            return Some(Contamination::EvalSplit);
        }
        if self.matching.contains(&case.id) {
            return Some(Contamination::MatchesEvalCase);
        }
        if let (Some(ac), Some(user)) = (&self.automaton, user)
            && ac.is_match(&fold(user))
        {
            return Some(Contamination::MatchesEvalCase);
        }
        None
    }
}

/// Redaction counts by kind name (`email`, `phone`, ..., and `api_key` for the literal value
/// of a key the session names).
pub type RedactionCounts = BTreeMap<&'static str, u64>;

/// How many distinct message texts the redactor remembers before starting over.
const CACHE_ENTRIES: usize = 4096;
/// Texts longer than this are not cached (they are unlikely to repeat, and would hold memory).
const CACHE_MAX_BYTES: usize = 16 * 1024;

/// Replaces personal data and secrets with typed placeholders, and counts what it replaced.
#[derive(Debug)]
pub struct Redactor {
    enabled: bool,
    /// Values of the API keys the session's models name, when set in the environment: never
    /// exported, even with `--no-redact`.
    keys: Vec<String>,
    cache: HashMap<String, (String, Vec<(PiiKind, usize)>)>,
}

impl Redactor {
    pub fn new(enabled: bool, keys: Vec<String>) -> Self {
        Self {
            enabled,
            keys: keys.into_iter().filter(|k| k.len() >= 8).collect(),
            cache: HashMap::new(),
        }
    }

    /// `text` as it may be written; what was replaced is added to `tally` (the caller adds
    /// a row's tally to the manifest only when the row is written).
    pub fn redact(&mut self, text: &str, tally: &mut RedactionCounts) -> String {
        let mut text = Cow::Borrowed(text);
        for key in &self.keys {
            if text.contains(key.as_str()) {
                let n = text.matches(key.as_str()).count();
                *tally.entry("api_key").or_insert(0) += n as u64;
                text = Cow::Owned(text.replace(key.as_str(), PiiKind::Secret.placeholder()));
            }
        }
        if !self.enabled {
            return text.into_owned();
        }
        if let Some((out, counts)) = self.cache.get(text.as_ref()) {
            for (kind, n) in counts {
                *tally.entry(kind.as_str()).or_insert(0) += *n as u64;
            }
            return out.clone();
        }
        let (out, counts) = pii::redact(&text);
        for (kind, n) in &counts {
            *tally.entry(kind.as_str()).or_insert(0) += *n as u64;
        }
        if text.len() <= CACHE_MAX_BYTES {
            if self.cache.len() >= CACHE_ENTRIES {
                self.cache.clear();
            }
            self.cache.insert(
                text.into_owned(),
                (out.clone(), counts.into_iter().collect()),
            );
        }
        out
    }
}

/// Adds a row's redactions to the total.
pub fn add_counts(total: &mut RedactionCounts, row: &RedactionCounts) {
    for (k, n) in row {
        *total.entry(k).or_insert(0) += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, split: Option<&str>, text: &str) -> Case {
        let mut vars = serde_json::Map::new();
        vars.insert("text".into(), text.into());
        Case {
            id: id.into(),
            vars,
            reference: None,
            tags: Vec::new(),
            split: split.map(str::to_owned),
            gold: None,
            relevant: Vec::new(),
        }
    }

    #[test]
    fn folding_collapses_whitespace_and_case() {
        assert_eq!(fold("  Hello \n\t WORLD  "), "hello world");
        assert_eq!(fold("ÄÖ  x"), "äö x");
        assert_eq!(fold("Straße\u{a0}NAÏVE Cafe"), "straße naïve cafe");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn dedupe_tells_exact_from_folded_duplicates() {
        let mut d = Dedupe::default();
        assert_eq!(d.check(&["Prompt", "Answer one"]), None);
        assert_eq!(d.check(&["Prompt", "Answer one"]), Some(Duplicate::Exact));
        assert_eq!(
            d.check(&["prompt", "  answer   ONE "]),
            Some(Duplicate::Folded)
        );
        assert_eq!(d.check(&["Prompt", "Answer two"]), None);
        // Parts are length-prefixed: moving text between parts is a different row.
        assert_eq!(d.check(&["PromptAnswer", " two"]), None);
    }

    #[test]
    fn split_is_deterministic_per_group_and_seed() {
        let groups: Vec<String> = (0..2000).map(|i| format!("case-{i}")).collect();
        let a: Vec<Split> = groups.iter().map(|g| split_of(7, g, 0.1)).collect();
        let b: Vec<Split> = groups.iter().rev().map(|g| split_of(7, g, 0.1)).collect();
        let b: Vec<Split> = b.into_iter().rev().collect();
        assert_eq!(a, b, "order does not matter");
        let valid = a.iter().filter(|s| **s == Split::Valid).count();
        assert!((150..250).contains(&valid), "about 10%: {valid}");
        let c: Vec<Split> = groups.iter().map(|g| split_of(8, g, 0.1)).collect();
        assert_ne!(a, c, "another seed, another split");
        assert!(groups.iter().all(|g| split_of(7, g, 0.0) == Split::Train));
        assert!(groups.iter().all(|g| split_of(7, g, 1.0) == Split::Valid));
        // Pinned: the split of a given seed never changes between versions.
        assert_eq!(split_of(7, "case-0", 0.5), split_of(7, "case-0", 0.5));
    }

    #[test]
    fn decontamination_drops_eval_split_and_copies_of_eval_inputs() {
        let cases = vec![
            case(
                "t1",
                Some("train"),
                "Lower the log level of the search service.",
            ),
            case(
                "e1",
                Some("eval"),
                "Drop the unused column users.fax_number now.",
            ),
            case(
                "t2",
                Some("train"),
                "drop the UNUSED column   users.fax_number now.",
            ),
            case("t3", Some("train"), "Short"),
            case("e2", Some("eval"), "Short"),
        ];
        let d = Decontaminator::new(&cases, "eval").expect("built");
        assert_eq!(d.eval_cases, 2);
        assert_eq!(
            d.check(&cases[0], Some("Evaluate: Lower the log level")),
            None
        );
        assert_eq!(d.check(&cases[1], None), Some(Contamination::EvalSplit));
        assert_eq!(
            d.check(&cases[2], None),
            Some(Contamination::MatchesEvalCase),
            "same input after folding"
        );
        assert_eq!(
            d.check(&cases[3], None),
            Some(Contamination::MatchesEvalCase),
            "the whole input equals an eval case's, however short"
        );
        let other = case("t4", Some("train"), "Something else entirely, long enough");
        assert_eq!(
            d.check(
                &other,
                Some("<request>Please: DROP the unused column users.fax_number now.</request>")
            ),
            Some(Contamination::MatchesEvalCase),
            "the prompt contains an eval input"
        );
        assert_eq!(d.check(&other, Some("<request>Drop it</request>")), None);
        let none = Decontaminator::new(&cases[..1], "eval").expect("built");
        assert_eq!(none.check(&cases[2], None), None);
    }

    #[test]
    fn a_matcher_that_cannot_be_built_stops_the_export_with_a_reason() {
        let cases = vec![case(
            "e1",
            Some("eval"),
            "Drop the unused column users.fax_number now.",
        )];
        let err = Decontaminator::with_matcher(&cases, "eval", |_| Err("state ids ran out".into()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("1 evaluation cases"), "{err}");
        assert!(err.contains("(state ids ran out)"), "{err}");
        assert!(err.contains("nothing was exported"), "{err}");
    }

    #[test]
    fn redactor_counts_by_kind_and_hides_session_keys_even_when_disabled() {
        let mut r = Redactor::new(true, vec!["sk-live-0123456789abcdef".into()]);
        let mut tally = RedactionCounts::new();
        let text = "mail jane@example.com, ip 10.1.2.3, key sk-live-0123456789abcdef";
        let out = r.redact(text, &mut tally);
        assert_eq!(out, "mail [EMAIL], ip [IP], key [SECRET]");
        // Cached the second time, counted again.
        assert_eq!(r.redact(text, &mut tally), out);
        assert_eq!(tally.get("email"), Some(&2));
        assert_eq!(tally.get("ip"), Some(&2));
        assert_eq!(tally.get("api_key"), Some(&2));
        let mut total = RedactionCounts::new();
        add_counts(&mut total, &tally);
        add_counts(&mut total, &tally);
        assert_eq!(total.values().sum::<u64>(), 12);

        let mut off = Redactor::new(false, vec!["sk-live-0123456789abcdef".into()]);
        let mut tally = RedactionCounts::new();
        assert_eq!(
            off.redact("jane@example.com sk-live-0123456789abcdef", &mut tally),
            "jane@example.com [SECRET]"
        );
        assert_eq!(tally.get("email"), None);
        assert_eq!(tally.get("api_key"), Some(&1));
    }

    #[test]
    fn redactor_covers_ibans_ipv6_phones_and_cards() {
        let mut r = Redactor::new(true, Vec::new());
        let mut tally = RedactionCounts::new();
        let out = r.redact(
            "IBAN GB82 WEST 1234 5698 7654 32, host 2001:db8::8a2e:370:7334, call +1 415 555 2671, card 4111 1111 1111 1111",
            &mut tally,
        );
        assert_eq!(out, "IBAN [IBAN], host [IP], call [PHONE], card [CARD]");
        for kind in ["iban", "ip", "phone", "card"] {
            assert_eq!(tally.get(kind), Some(&1), "{kind}");
        }
    }
}
