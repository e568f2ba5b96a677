//! The rows `loupe ratings` prints: one per rating, flat, with its placement, rater and
//! times, as JSON Lines or CSV.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::store::{RatingRecord, Winner, format_time};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatingRow {
    pub session: String,
    pub rater: String,
    pub comparison: String,
    pub run_id: String,
    pub case_id: String,
    pub repeat: u32,
    pub a: String,
    pub b: String,
    /// The placement: the variant shown on the left.
    pub left: String,
    pub right: String,
    pub winner: Winner,
    pub preferred: Option<String>,
    pub gold: bool,
    /// Rubric scores per variant name, then per dimension.
    pub scores: BTreeMap<String, BTreeMap<String, u8>>,
    pub note: Option<String>,
    /// Failure-mode labels per variant name.
    pub labels: BTreeMap<String, Vec<String>>,
    pub elapsed_ms: u64,
    pub at_ms: u64,
    /// `at_ms` as UTC date and time.
    pub at: String,
}

impl RatingRow {
    pub fn of(r: &RatingRecord) -> Self {
        let right = r.comparison.other(&r.left);
        Self {
            session: r.session.clone(),
            rater: r.rater.clone(),
            comparison: r.comparison.id(),
            run_id: r.comparison.run_id.clone(),
            case_id: r.comparison.case_id.clone(),
            repeat: r.comparison.repeat,
            a: r.comparison.a.clone(),
            b: r.comparison.b.clone(),
            left: r.left.clone(),
            right: right.to_owned(),
            winner: r.winner,
            preferred: r.preferred().map(str::to_owned),
            gold: r.gold,
            scores: r.scores.clone(),
            note: r.note.clone(),
            labels: r.labels.clone(),
            elapsed_ms: r.elapsed_ms,
            at_ms: r.at_ms,
            at: format_time(r.at_ms),
        }
    }
}

/// `loupe stats` input: one verdict a line, exactly the verdicts the owner's view analyses
/// (sides as the rater saw them, `a` the left, so position bias is measured; gold items
/// left out, since they measure raters). Returns how many gold ratings were left out.
pub fn write_stats(out: &mut impl Write, ratings: &[RatingRecord]) -> std::io::Result<usize> {
    for v in crate::rating::owner::verdicts(ratings) {
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
    }
    Ok(ratings.iter().filter(|r| r.gold).count())
}

pub fn write_jsonl(out: &mut impl Write, ratings: &[RatingRecord]) -> std::io::Result<()> {
    for r in ratings {
        serde_json::to_writer(&mut *out, &RatingRow::of(r))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn winner_name(w: Winner) -> &'static str {
    match w {
        Winner::A => "a",
        Winner::B => "b",
        Winner::Tie => "tie",
        Winner::BothBad => "both_bad",
    }
}

/// CSV with one `a_<dim>` and `b_<dim>` column per rubric dimension (`dims`, then any
/// other dimension found in the ratings), scores of the pair's `a` and `b`.
pub fn write_csv(
    out: &mut impl Write,
    ratings: &[RatingRecord],
    dims: &[String],
) -> anyhow::Result<()> {
    let mut dims: Vec<String> = dims.to_vec();
    for r in ratings {
        for key in r.scores.values().flat_map(BTreeMap::keys) {
            if !dims.contains(key) {
                dims.push(key.clone());
            }
        }
    }
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "session",
        "rater",
        "comparison",
        "run_id",
        "case_id",
        "repeat",
        "a",
        "b",
        "left",
        "right",
        "winner",
        "preferred",
        "gold",
        "elapsed_ms",
        "at_ms",
        "at",
        "note",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for side in ["a", "b"] {
        for d in &dims {
            header.push(format!("{side}_{d}"));
        }
    }
    // Labels of each side, `;`-separated (label names have no `;`).
    header.push("a_labels".to_owned());
    header.push("b_labels".to_owned());
    w.write_record(&header)?;
    for r in ratings {
        let row = RatingRow::of(r);
        let mut rec = vec![
            row.session,
            row.rater,
            row.comparison,
            row.run_id,
            row.case_id,
            row.repeat.to_string(),
            row.a.clone(),
            row.b.clone(),
            row.left,
            row.right,
            winner_name(row.winner).to_owned(),
            row.preferred.unwrap_or_default(),
            row.gold.to_string(),
            row.elapsed_ms.to_string(),
            row.at_ms.to_string(),
            row.at,
            row.note.unwrap_or_default(),
        ];
        for variant in [&row.a, &row.b] {
            for d in &dims {
                rec.push(
                    row.scores
                        .get(variant)
                        .and_then(|m| m.get(d))
                        .map(u8::to_string)
                        .unwrap_or_default(),
                );
            }
        }
        for variant in [&row.a, &row.b] {
            rec.push(
                row.labels
                    .get(variant)
                    .map(|l| l.join(";"))
                    .unwrap_or_default(),
            );
        }
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}
