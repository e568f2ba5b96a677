//! Failure-mode labels: why an output is bad, not only which of two is better.
//!
//! A rater opens the labels of one side with one key and toggles a label with one more;
//! the labels are part of the rating record (flushed with it, undone with it). The owner's
//! view counts them per variant as a share of that variant's rated outputs, with a Wilson
//! interval.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::eval::stats::{self, Rate};
use crate::session::Session;
use crate::store::RatingRecord;

/// The labels every session offers, in the order shown.
pub const BUILT_IN: [&str; 5] = [
    "hallucination",
    "formatting_error",
    "tone_violation",
    "unsafe",
    "off_task",
];

/// The keys that toggle labels in the label picker, in label order: one keystroke each.
pub const KEYS: &str = "123456789abcdefgimnoprsuvwyz";

/// Whether a session label's name is usable: a short word of letters, digits, `_` or `-`.
pub fn check_name(label: &str) -> Result<(), String> {
    if label.is_empty() || label.len() > 40 {
        return Err(format!("label `{label}` must be 1 to 40 characters long"));
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "label `{label}`: use letters, digits, `_` or `-` (e.g. `wrong_units`)"
        ));
    }
    Ok(())
}

/// Whether the session's labels and the built-in ones fit the picker's keys, once each.
pub fn check_count(labels: &[String]) -> Result<(), String> {
    let mut seen: BTreeSet<&str> = BUILT_IN.iter().copied().collect();
    for l in labels {
        if !seen.insert(l) {
            return Err(format!(
                "label `{l}` is listed twice (or is built in: {})",
                BUILT_IN.join(", ")
            ));
        }
    }
    if seen.len() > KEYS.len() {
        return Err(format!(
            "{} labels with the built-in ones; at most {} fit one key each",
            seen.len(),
            KEYS.len()
        ));
    }
    Ok(())
}

/// Every label a session offers: the built-in ones, then its own.
pub fn of_session(session: &Session) -> Vec<String> {
    let mut out: Vec<String> = BUILT_IN.iter().map(|l| (*l).to_owned()).collect();
    if let Some(r) = &session.file.rating {
        for l in &r.labels {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
    }
    out
}

/// How often raters put one label on one variant's outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelCount {
    pub variant: String,
    pub label: String,
    /// Ratings that put the label on this variant's output.
    pub count: u64,
    /// Ratings in which this variant's output was shown (gold items aside).
    pub rated: u64,
    /// `count / rated` with a Wilson interval.
    pub rate: Rate,
}

/// Label counts per variant over the ratings (gold items left out, like every figure about
/// variants; each rater's every rating counts, as in the win rates). Every label the
/// session offers is listed for every rated variant, zeros included, then labels the
/// ratings carry that the session no longer lists.
pub fn counts(session: &Session, ratings: &[RatingRecord], confidence: f64) -> Vec<LabelCount> {
    counts_of(of_session(session), ratings, confidence)
}

/// As [`counts`], with the labels offered given (`names`), for when only the ratings are at
/// hand (`loupe report` reads a run, whose session file may have moved on).
pub fn counts_of(
    mut names: Vec<String>,
    ratings: &[RatingRecord],
    confidence: f64,
) -> Vec<LabelCount> {
    let mut rated: BTreeMap<&str, u64> = BTreeMap::new();
    let mut counted: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in ratings.iter().filter(|r| !r.gold) {
        for v in [r.comparison.a.as_str(), r.comparison.b.as_str()] {
            *rated.entry(v).or_default() += 1;
        }
        for (variant, labels) in &r.labels {
            for l in labels {
                *counted.entry((variant.as_str(), l.as_str())).or_default() += 1;
                if !names.contains(l) {
                    names.push(l.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (variant, &n) in &rated {
        for label in &names {
            let count = counted
                .get(&(*variant, label.as_str()))
                .copied()
                .unwrap_or(0);
            out.push(LabelCount {
                variant: (*variant).to_owned(),
                label: label.clone(),
                count,
                rated: n,
                rate: stats::rate(count, n, confidence),
            });
        }
    }
    out
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The labels given, one line per variant that has any:
/// `  plain: hallucination 2/6 33% [10%, 70%] · off_task 1/6 ...`. `None` when no rating
/// carries a label. The owner's view and `loupe report` both print these.
pub fn lines(counts: &[LabelCount]) -> Option<Vec<String>> {
    let mut variants: Vec<&str> = counts.iter().map(|l| l.variant.as_str()).collect();
    variants.dedup();
    let mut out = Vec::new();
    for variant in variants {
        let given: Vec<String> = counts
            .iter()
            .filter(|l| l.variant == variant && l.count > 0)
            .map(|l| {
                format!(
                    "{} {}/{} {} [{}, {}]",
                    l.label,
                    l.count,
                    l.rated,
                    l.rate.estimate.map_or_else(|| "n/a".into(), pct),
                    pct(l.rate.low),
                    pct(l.rate.high)
                )
            })
            .collect();
        if !given.is_empty() {
            out.push(format!("  {variant}: {}", given.join(" · ")));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counts_are_checked() {
        assert!(check_name("wrong_units").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("two words").is_err());
        assert!(check_count(&["a".into(), "b".into()]).is_ok());
        assert!(check_count(&["unsafe".into()]).is_err(), "built in already");
        let many: Vec<String> = (0..KEYS.len()).map(|i| format!("l{i}")).collect();
        assert!(check_count(&many).is_err());
        // Every key is distinct and none is a key the picker needs for itself.
        let keys: BTreeSet<char> = KEYS.chars().collect();
        assert_eq!(keys.len(), KEYS.len());
        assert!(!keys.contains(&'q') && !keys.contains(&'h') && !keys.contains(&'l'));
    }
}
