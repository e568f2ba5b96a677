//! The `judge` check: a model compares two variants' outputs for the same case.
//!
//! Each comparison is asked twice, once with the pair in each order (variant `a` shown as
//! answer A, then shown as answer B), because judges prefer one position whatever the
//! content (Zheng et al. 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena",
//! section 3.3, which also proposes this swap). A verdict counts only when both orders
//! name the same variant; any disagreement, an unreadable answer included, is a tie.
//!
//! This module is the pure part: what the judge template sees, reading an answer, and
//! combining the two orders. Asking the model is the runner's judge phase.

use crate::spec::JudgeSpec;
pub use crate::spec::{JudgeVerdict, Pick};

/// The template variable holding the output shown as answer A.
pub const OUTPUT_A: &str = "output_a";
/// The template variable holding the output shown as answer B.
pub const OUTPUT_B: &str = "output_b";

/// The name a judge's results go by: `template@model`.
pub fn judge_id(spec: &JudgeSpec) -> String {
    format!("{}@{}", spec.template, spec.model)
}

/// Reads a judge's answer: `A`, `B` or `tie` as the first word (any case, with or
/// without quotes, brackets or a trailing full stop), or `{"winner": "A"}`, or a
/// phrase like "Answer B is better" when only one of the two letters appears as a word.
/// `None` when it cannot be read; such an order counts as a disagreement.
pub fn parse_answer(text: &str) -> Option<Pick> {
    let text = text.trim();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(serde_json::Value::String(w)) = map.get("winner")
    {
        return word_pick(w);
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(first) = words.first().and_then(|w| word_pick(w)) {
        return Some(first);
    }
    // "Answer B is better": exactly one of the letters appears as a word.
    let has = |letter: &str| words.contains(&letter);
    match (has("A"), has("B")) {
        (true, false) => Some(Pick::A),
        (false, true) => Some(Pick::B),
        _ if words.iter().any(|w| w.eq_ignore_ascii_case("tie")) => Some(Pick::Tie),
        _ => None,
    }
}

fn word_pick(word: &str) -> Option<Pick> {
    let w = word.trim().trim_matches(|c: char| !c.is_alphanumeric());
    if w.eq_ignore_ascii_case("a") {
        Some(Pick::A)
    } else if w.eq_ignore_ascii_case("b") {
        Some(Pick::B)
    } else if w.eq_ignore_ascii_case("tie") || w.eq_ignore_ascii_case("equal") {
        Some(Pick::Tie)
    } else {
        None
    }
}

/// Combines the two orders. `ab` is the pick with variant `a` shown as A, `ba` the pick
/// with `b` shown as A. Returns the verdict and whether the two orders agreed.
pub fn combine(ab: Option<Pick>, ba: Option<Pick>) -> (JudgeVerdict, bool) {
    // In terms of the variants: in the swapped order, position A is variant b.
    let first = ab.map(|p| match p {
        Pick::A => JudgeVerdict::A,
        Pick::B => JudgeVerdict::B,
        Pick::Tie => JudgeVerdict::Tie,
    });
    let second = ba.map(|p| match p {
        Pick::A => JudgeVerdict::B,
        Pick::B => JudgeVerdict::A,
        Pick::Tie => JudgeVerdict::Tie,
    });
    match (first, second) {
        (Some(x), Some(y)) if x == y => (x, true),
        _ => (JudgeVerdict::Tie, false),
    }
}

/// Says in words how the verdict came about, naming the variants.
pub fn explain(a: &str, b: &str, ab: Option<Pick>, ba: Option<Pick>) -> String {
    let said = |pick: Option<Pick>, shown_a: &str, shown_b: &str| match pick {
        Some(Pick::A) => format!("{shown_a} better"),
        Some(Pick::B) => format!("{shown_b} better"),
        Some(Pick::Tie) => "tie".to_owned(),
        None => "no readable answer".to_owned(),
    };
    let (verdict, agreed) = combine(ab, ba);
    let orders = format!(
        "{a} shown first: {}; {b} shown first: {}",
        said(ab, a, b),
        said(ba, b, a)
    );
    match (verdict, agreed) {
        (JudgeVerdict::A, _) => format!("{a} wins ({orders})"),
        (JudgeVerdict::B, _) => format!("{b} wins ({orders})"),
        (JudgeVerdict::Tie, true) => format!("tie ({orders})"),
        (JudgeVerdict::Tie, false) if ab.is_none() || ba.is_none() => {
            format!("tie: no readable verdict in both orders ({orders})")
        }
        (JudgeVerdict::Tie, false) => format!("tie: the orders disagree ({orders})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_letters_words_and_json() {
        assert_eq!(parse_answer("A"), Some(Pick::A));
        assert_eq!(parse_answer("  b.\n"), Some(Pick::B));
        assert_eq!(parse_answer("\"B\""), Some(Pick::B));
        assert_eq!(parse_answer("[A] because it is shorter"), Some(Pick::A));
        assert_eq!(parse_answer("Tie"), Some(Pick::Tie));
        assert_eq!(parse_answer(r#"{"winner": "b"}"#), Some(Pick::B));
        assert_eq!(parse_answer("Answer B is better"), Some(Pick::B));
        assert_eq!(parse_answer("Both A and B are fine"), None);
        assert_eq!(parse_answer("I cannot decide"), None);
        assert_eq!(parse_answer(""), None);
        assert_eq!(parse_answer(r#"{"winner": "neither"}"#), None);
    }

    #[test]
    fn agreement_in_both_orders_counts() {
        // a shown first and judged better; then b shown first and a (now B) judged better.
        assert_eq!(
            combine(Some(Pick::A), Some(Pick::B)),
            (JudgeVerdict::A, true)
        );
        assert_eq!(
            combine(Some(Pick::B), Some(Pick::A)),
            (JudgeVerdict::B, true)
        );
        assert_eq!(
            combine(Some(Pick::Tie), Some(Pick::Tie)),
            (JudgeVerdict::Tie, true)
        );
    }

    #[test]
    fn position_bias_and_disagreement_become_ties() {
        // Always "A" whatever is shown there: pure position bias.
        assert_eq!(
            combine(Some(Pick::A), Some(Pick::A)),
            (JudgeVerdict::Tie, false)
        );
        assert_eq!(
            combine(Some(Pick::B), Some(Pick::B)),
            (JudgeVerdict::Tie, false)
        );
        assert_eq!(
            combine(Some(Pick::A), Some(Pick::Tie)),
            (JudgeVerdict::Tie, false)
        );
        assert_eq!(combine(None, Some(Pick::B)), (JudgeVerdict::Tie, false));
        assert_eq!(combine(None, None), (JudgeVerdict::Tie, false));
    }

    #[test]
    fn explanations_name_the_variants() {
        assert_eq!(
            explain("x", "y", Some(Pick::A), Some(Pick::B)),
            "x wins (x shown first: x better; y shown first: x better)"
        );
        assert_eq!(
            explain("x", "y", Some(Pick::A), Some(Pick::A)),
            "tie: the orders disagree (x shown first: x better; y shown first: y better)"
        );
        assert_eq!(
            explain("x", "y", None, Some(Pick::Tie)),
            "tie: no readable verdict in both orders (x shown first: no readable answer; y shown first: tie)"
        );
    }

    #[test]
    fn judge_ids_name_template_and_model() {
        let spec = JudgeSpec {
            template: "judge".into(),
            model: "big".into(),
            pairs: Vec::new(),
        };
        assert_eq!(judge_id(&spec), "judge@big");
    }
}
