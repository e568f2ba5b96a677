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

/// Reads a judge's answer strictly: a structured answer (`{"winner": "A"}`, also under
/// `verdict` or `answer`), or else the first word that is exactly `A`, `B` or `tie` used
/// as a verdict. A letter is a verdict when it stands alone (the end of the answer,
/// punctuation, a bracket or a quote follows it) or when a predicate follows it ("B is
/// better", "A wins"); a letter followed by any other word is the article ("a tie", "A
/// clear win for B"), not an answer. `tie` and `equal` are read in any case; a lone
/// lower-case letter counts ("b."), an article never does. `None` when nothing can be
/// read, or when both letters are named with no predicate ("Both A and B are fine"); such
/// an order counts as a disagreement.
pub fn parse_answer(text: &str) -> Option<Pick> {
    let text = text.trim();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        return ["winner", "verdict", "answer"]
            .iter()
            .find_map(|key| match map.get(*key) {
                Some(serde_json::Value::String(w)) => Some(w.as_str()),
                _ => None,
            })
            .and_then(|w| {
                let w = w.trim().trim_matches(|c: char| !c.is_alphanumeric());
                match w {
                    "A" | "a" => Some(Pick::A),
                    "B" | "b" => Some(Pick::B),
                    _ if is_tie_word(w) => Some(Pick::Tie),
                    _ => None,
                }
            });
    }
    let words = words_with_context(text);
    for (index, (word, next)) in words.iter().enumerate() {
        if is_tie_word(word) {
            return Some(Pick::Tie);
        }
        let pick = match *word {
            "A" | "a" => Pick::A,
            "B" | "b" => Pick::B,
            _ => continue,
        };
        match next {
            // "A", "B.", "[A]", "**B**", "A: ...", "answer A" at the end.
            Next::Delimiter => return Some(pick),
            Next::Word => {
                let following = words.get(index + 1).map_or("", |w| w.0);
                if PREDICATES.contains(&following.to_ascii_lowercase().as_str()) {
                    return Some(pick);
                }
                // Otherwise an article ("a tie", "A clear win"): read on.
            }
        }
    }
    None
}

/// Words that, following a lone `A` or `B`, make it the subject of a verdict.
const PREDICATES: &[&str] = &[
    "is", "was", "wins", "won", "win", "better", "clearly", "seems", "appears", "gives",
    "provides", "answers", "does", "has", "should", "would", "because", "since",
];

fn is_tie_word(word: &str) -> bool {
    word.eq_ignore_ascii_case("tie") || word.eq_ignore_ascii_case("equal")
}

/// What follows a word: another word after plain spaces, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Word,
    Delimiter,
}

/// The answer's alphanumeric words, each with what follows it.
fn words_with_context(text: &str) -> Vec<(&str, Next)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_alphanumeric()) {
        let from = &rest[start..];
        let end = from
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(from.len());
        let (word, after) = from.split_at(end);
        let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
        let next = match after[spaces..].chars().next() {
            Some(c) if c.is_alphanumeric() && spaces > 0 => Next::Word,
            _ => Next::Delimiter,
        };
        // A word glued to an apostrophe ("A's") is not a lone letter.
        if after.starts_with(['\'', '\u{2019}']) {
            out.push(("", Next::Word));
        } else {
            out.push((word, next));
        }
        rest = after;
    }
    out
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

/// P(the answer shown first is better) from an answer's token log-probabilities (each
/// position's most likely tokens): at the first position where `A` or `B` is among the
/// candidates, P(A) / (P(A) + P(B)), a token counting as a letter when it is exactly that
/// capital letter apart from spaces and punctuation (a lower-case `a` is likely the
/// article). `None` when no position offers either letter.
pub fn first_better(top_logprobs: &[Vec<(String, f64)>]) -> Option<f64> {
    for position in top_logprobs {
        let (mut a, mut b) = (0.0_f64, 0.0_f64);
        for (token, logprob) in position {
            let letter = token.trim().trim_matches(|c: char| !c.is_alphanumeric());
            let p = logprob.exp();
            if !p.is_finite() {
                continue;
            }
            match letter {
                "A" => a += p,
                "B" => b += p,
                _ => {}
            }
        }
        if a + b > 0.0 {
            return Some(a / (a + b));
        }
    }
    None
}

/// P(variant `a` better) from both placements: `ab` is P(first better) with `a` shown
/// first, `ba` with `b` shown first, so `a` is better there with 1 − `ba`. The mean of the
/// two cancels a constant preference for a position.
pub fn average_over_placements(ab: f64, ba: f64) -> f64 {
    f64::midpoint(ab, 1.0 - ba)
}

/// The verdict from P(`a` better): `a` past ½ + `margin`, `b` below ½ − `margin`, else a
/// tie; with whether both placements favoured the same variant.
pub fn verdict_from_probability(
    p_a: f64,
    margin: f64,
    ab: Option<f64>,
    ba: Option<f64>,
) -> (JudgeVerdict, bool) {
    let verdict = if p_a > 0.5 + margin {
        JudgeVerdict::A
    } else if p_a < 0.5 - margin {
        JudgeVerdict::B
    } else {
        JudgeVerdict::Tie
    };
    let agreed = match (ab, ba) {
        (Some(x), Some(y)) => (x > 0.5) == (1.0 - y > 0.5),
        _ => false,
    };
    (verdict, agreed)
}

/// Says how a probability verdict came about, naming the variants.
pub fn explain_probability(
    a: &str,
    b: &str,
    p_a: f64,
    margin: f64,
    ab: Option<f64>,
    ba: Option<f64>,
) -> String {
    let (verdict, _) = verdict_from_probability(p_a, margin, ab, ba);
    let shown = |p: Option<f64>| p.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.2}"));
    let orders = format!(
        "P({a} better) {p_a:.2}, averaged over {a} shown first: P(first better) {}, {b} shown first: {}; margin {margin}",
        shown(ab),
        shown(ba)
    );
    match verdict {
        JudgeVerdict::A => format!("{a} wins ({orders})"),
        JudgeVerdict::B => format!("{b} wins ({orders})"),
        JudgeVerdict::Tie => format!("tie: within the margin ({orders})"),
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
        assert_eq!(parse_answer(r#"{"verdict": "tie"}"#), Some(Pick::Tie));
    }

    #[test]
    fn the_article_a_is_not_answer_a() {
        // The defect: "a tie" and "A clear win for B" were read as A.
        assert_eq!(parse_answer("a tie"), Some(Pick::Tie));
        assert_eq!(parse_answer("It is a tie."), Some(Pick::Tie));
        assert_eq!(parse_answer("A clear win for B"), Some(Pick::B));
        assert_eq!(parse_answer("A clear win for B."), Some(Pick::B));
        assert_eq!(parse_answer("A much better answer is B"), Some(Pick::B));
        assert_eq!(parse_answer("A tough call: tie"), Some(Pick::Tie));
        assert_eq!(parse_answer("a close call"), None);
        // The letter as the subject of a verdict, or standing alone.
        assert_eq!(parse_answer("A is better"), Some(Pick::A));
        assert_eq!(parse_answer("B wins."), Some(Pick::B));
        assert_eq!(parse_answer("The better answer is A."), Some(Pick::A));
        assert_eq!(parse_answer("**B**\nIt cites the policy."), Some(Pick::B));
        assert_eq!(parse_answer("Verdict: A\nbecause"), Some(Pick::A));
        assert_eq!(parse_answer("A's answer is longer"), None);
        assert_eq!(parse_answer("Both A and B are fine"), None);
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
    fn probabilities_cancel_a_position_bias() {
        let position = |pairs: &[(&str, f64)]| -> Vec<(String, f64)> {
            pairs
                .iter()
                .map(|(t, p)| ((*t).to_owned(), p.ln()))
                .collect()
        };
        // The first position offers neither letter; the second gives A 0.6, " B" 0.2.
        let top = vec![
            position(&[("The", 0.5), ("To", 0.3)]),
            position(&[("A", 0.6), (" B", 0.2), ("a", 0.1)]),
        ];
        assert!((first_better(&top).expect("a letter") - 0.75).abs() < 1e-12);
        assert_eq!(first_better(&[position(&[("a", 0.9)])]), None);
        assert_eq!(first_better(&[]), None);
        // A judge that prefers position A by 0.3 whatever is shown, and x slightly: with x
        // first P(first) = 0.8, with y first P(first) = 0.7 (so x: 0.3). Averaged, x 0.55:
        // a tie at margin 0.1, where the text answers ("A" both times) were a disagreement.
        let p = average_over_placements(0.8, 0.7);
        assert!((p - 0.55).abs() < 1e-12);
        assert_eq!(
            verdict_from_probability(p, 0.1, Some(0.8), Some(0.7)),
            (JudgeVerdict::Tie, false)
        );
        assert_eq!(
            verdict_from_probability(average_over_placements(0.9, 0.4), 0.1, Some(0.9), Some(0.4)),
            (JudgeVerdict::A, true)
        );
        assert_eq!(
            verdict_from_probability(average_over_placements(0.3, 0.8), 0.1, Some(0.3), Some(0.8))
                .0,
            JudgeVerdict::B
        );
        assert!(
            explain_probability("x", "y", 0.75, 0.1, Some(0.9), Some(0.4))
                .starts_with("x wins (P(x better) 0.75")
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
