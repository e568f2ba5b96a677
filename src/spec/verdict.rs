//! Verdicts on a pair of answers: a person's, and a judge model's.

use serde::{Deserialize, Serialize};

/// What a rater said about a pair, in terms of the `a` and `b` of the record that holds it:
/// a stored rating's pair as configured (not the screen's left and right), or a verdict's
/// own `a` and `b` in the statistics (which put the side shown first as `a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    A,
    B,
    Tie,
    BothBad,
}

/// What the judge picked in one order, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The answer shown first (A).
    A,
    /// The answer shown second (B).
    B,
    Tie,
}

/// The judgement of a pair `(a, b)` in terms of the variants, not positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeVerdict {
    /// Variant `a` of the pair is better.
    A,
    /// Variant `b` of the pair is better.
    B,
    Tie,
}
