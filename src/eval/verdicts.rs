//! `loupe stats FILE`: what a file of pairwise verdicts says about the variants.
//!
//! # Input
//!
//! JSON Lines, one verdict per line (blank lines are skipped, other keys such as a
//! `note` are ignored):
//!
//! ```json
//! {"rater": "ana", "item": "case-7", "a": "prompt", "b": "prompt+rag", "winner": "a",
//!  "scores": {"a": {"clarity": 4}, "b": {"clarity": 5}}}
//! ```
//!
//! `winner` is `a`, `b`, `tie` or `both_bad`; `scores` (rubric scores per side) is
//! optional.
//!
//! # Output
//!
//! [`analyse`] returns a [`StatsReport`]; [`render_table`] prints it for people and
//! `serde_json` prints it for programs, in this shape (intervals are at
//! `confidence` = 1 − `alpha`; a number that is undefined for the data is `null`):
//!
//! ```json
//! {
//!   "verdicts": 59, "items": 10, "alpha": 0.05, "confidence": 0.95,
//!   "raters": ["ana", "ben"],
//!   "variants": ["fine-tuned", "prompt", "prompt+rag"],
//!   "pairs": [{
//!     "first": "fine-tuned", "second": "prompt",
//!     "first_wins": 10, "second_wins": 5, "ties": 3, "both_bad": 0,
//!     "win_rate": {"estimate": 0.667, "low": 0.417, "high": 0.848},
//!     "sign_test_p": 0.302, "holm_p": 0.604, "significant": false,
//!     "more_judgements_needed": 12,
//!     "sequential": {"e_value": 1.9, "p": 0.526, "holm_p": 1.0, "may_stop": false}
//!   }],
//!   "ranking": {
//!     "model": "bradley_terry_davidson",
//!     "variants": [{"name": "prompt+rag", "rank": 1, "log_strength": 0.34,
//!                   "strength": 1.41, "interval": {"low": -0.2, "high": 0.9}}],
//!     "tie_parameter": 0.29, "tie_parameter_interval": {"low": 0.1, "high": 0.5},
//!     "prior_precision": 0.01, "resamples": 1000, "resamples_without_winner": 0,
//!     "seed": 1, "converged": true,
//!     "connected": true, "components": [["fine-tuned", "prompt", "prompt+rag"]]
//!   },
//!   "position_bias": {"a_wins": 30, "decisive": 52,
//!                     "rate": {"estimate": 0.577, "low": 0.442, "high": 0.701},
//!                     "sign_test_p": 0.332},
//!   "agreement": {
//!     "units": 30,
//!     "cohen": [{"rater_1": "ana", "rater_2": "ben", "shared_units": 4, "kappa": 0.0}],
//!     "fleiss": {"kappa": -0.14, "items": 14, "raters_per_item": 2},
//!     "krippendorff_alpha_nominal": -0.07,
//!     "rubric": [{"dimension": "clarity", "units": 25, "krippendorff_alpha_ordinal": 0.56,
//!                 "means": [{"variant": "prompt", "mean": 3.1, "ratings": 20}]}]
//!   },
//!   "notes": ["..."]
//! }
//! ```
//!
//! # Definitions
//!
//! - A pair is unordered: `first` is the variant whose name sorts first, whichever
//!   side it was shown on. `win_rate` is first's share of the verdicts with a winner;
//!   ties and `both_bad` are excluded from it and from the sign test (they are
//!   counted separately), so the rate and the test are about the same verdicts.
//!   `holm_p` adjusts the pairs' sign-test p-values together (Holm 1979) and
//!   `significant` is `holm_p < alpha`. `more_judgements_needed` estimates how many
//!   more verdicts with a winner this pair needs before `significant` turns yes (its
//!   Holm-adjusted p below `alpha`, the other pairs as they stand) if its observed
//!   rate holds (`0`: already significant; `null`: even, or beyond a billion).
//! - `sign_test_p`, `holm_p`, `significant` and `more_judgements_needed` are the
//!   fixed-sample test: valid when the number of judgements was fixed before looking.
//!   Looking as ratings arrive and stopping at the first p < alpha makes false wins
//!   far likelier than alpha. `sequential` is the test for that: the Beta-mixture
//!   e-value `e_value` of the pair's wins against losses (see
//!   [`stats::mixture_log_e_value`]), its anytime-valid `p` = min(1, 1/E), `holm_p`
//!   adjusted across the pairs, and `may_stop` = `holm_p < alpha`: stopping on that
//!   pair now, or at any later look, keeps the chance of a false win below alpha.
//! - `ranking`: Bradley–Terry with Davidson's ties, fitted by penalised maximum
//!   likelihood (see [`stats::fit_bradley_terry`]); `both_bad` counts as a tie,
//!   since neither side was preferred. Log-strengths sum to 0 (strengths have
//!   geometric mean 1); intervals come from resampling verdicts with `seed`, leaving
//!   out (and counting in `resamples_without_winner`) any resample that drew no
//!   verdict with a winner, whose flat fit would pin sparse intervals at 0.
//!   `components` lists the groups of variants linked by comparisons: with more
//!   than one, strengths compare only within a group.
//! - `position_bias`: the share of verdicts with a winner won by whichever variant
//!   was shown as `a`; 0.5 means no bias.
//! - Agreement: a unit is one item judged on one pair of variants. Each rater's
//!   verdict on it is expressed in terms of the variants (first wins, second wins,
//!   tie, both bad), never sides, since raters may have seen different placements;
//!   when a rater judged a unit twice, the later verdict counts. Cohen's kappa is
//!   computed for every two raters on the units both judged; Fleiss' kappa on the
//!   units with the most common number of raters (at least two); Krippendorff's
//!   alpha (nominal) on every unit with two or more raters. For rubric scores a unit
//!   is an item's output from one variant on one dimension, and alpha is ordinal.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::eval::stats::{
    self, BradleyTerryOptions, Comparison, FleissKappa, Interval, Level, Outcome, PairCounts, Rate,
};

/// Which of the verdict's `a` and `b` the rater preferred (the one verdict type the store
/// keeps for ratings too).
pub use crate::spec::Winner;

/// Rubric scores given to each side of a comparison, by dimension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideScores {
    #[serde(default)]
    pub a: BTreeMap<String, f64>,
    #[serde(default)]
    pub b: BTreeMap<String, f64>,
}

impl SideScores {
    pub fn is_empty(&self) -> bool {
        self.a.is_empty() && self.b.is_empty()
    }
}

/// One rater's judgement of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub rater: String,
    pub item: String,
    /// The variant shown as side A.
    pub a: String,
    /// The variant shown as side B.
    pub b: String,
    pub winner: Winner,
    #[serde(skip_serializing_if = "SideScores::is_empty")]
    pub scores: SideScores,
}

/// Why a verdict file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    #[error("{source_name}:{line}: cannot read: {source}")]
    Read {
        source_name: String,
        line: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}:{line}: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        message: String,
    },
}

/// A verdict as written, before the winner and names are checked.
#[derive(Deserialize)]
struct RawVerdict {
    rater: String,
    item: String,
    a: String,
    b: String,
    winner: String,
    #[serde(default)]
    scores: Option<SideScores>,
}

/// Reads JSONL verdicts. Errors name `source_name`, the 1-based line and the problem,
/// e.g. `verdicts.jsonl:12: unknown winner "c", expected a, b, tie or both_bad`.
pub fn parse_verdicts(
    reader: impl BufRead,
    source_name: &str,
) -> Result<Vec<Verdict>, VerdictError> {
    let mut verdicts = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|source| VerdictError::Read {
            source_name: source_name.to_owned(),
            line: number,
            source,
        })?;
        let text = line.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        let verdict = parse_line(text).map_err(|message| VerdictError::Invalid {
            source_name: source_name.to_owned(),
            line: number,
            message,
        })?;
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

fn parse_line(text: &str) -> Result<Verdict, String> {
    let raw: RawVerdict = serde_json::from_str(text).map_err(|error| {
        let message = describe_json_error(&error);
        // A row of `loupe ratings --format jsonl` is close enough to be tried here.
        let row: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(text).ok();
        if row.is_some_and(|r| r.contains_key("comparison") && r.contains_key("left")) {
            format!(
                "{message}: this is a `loupe ratings --format jsonl` row; \
                 `loupe ratings SESSION --format stats` writes verdicts for loupe stats"
            )
        } else {
            message
        }
    })?;
    let winner = match raw.winner.as_str() {
        "a" => Winner::A,
        "b" => Winner::B,
        "tie" => Winner::Tie,
        "both_bad" => Winner::BothBad,
        other => {
            return Err(format!(
                "unknown winner {other:?}, expected a, b, tie or both_bad"
            ));
        }
    };
    for (field, value) in [
        ("rater", &raw.rater),
        ("item", &raw.item),
        ("a", &raw.a),
        ("b", &raw.b),
    ] {
        if value.trim().is_empty() {
            return Err(format!("\"{field}\" is empty"));
        }
    }
    if raw.a == raw.b {
        return Err(format!(
            "\"a\" and \"b\" are the same variant {:?}; a verdict compares two",
            raw.a
        ));
    }
    Ok(Verdict {
        rater: raw.rater,
        item: raw.item,
        a: raw.a,
        b: raw.b,
        winner,
        scores: raw.scores.unwrap_or_default(),
    })
}

/// `serde_json`'s message without its "at line 1 column N" (every line is line 1 to
/// it); the column is kept for syntax errors, where it helps find the typo.
fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message);
    match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("invalid JSON at column {}: {message}", error.column())
        }
        _ => message.to_owned(),
    }
}

/// Settings for [`analyse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyseOptions {
    /// Seed for the bootstrap, so the same file gives the same report.
    pub seed: u64,
    /// Bootstrap resamples for the ranking's intervals; 0 skips them.
    pub bootstrap_resamples: usize,
    /// Significance level for tests; intervals are at confidence 1 − alpha.
    pub alpha: f64,
}

impl Default for AnalyseOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            bootstrap_resamples: 1000,
            alpha: 0.05,
        }
    }
}

/// Everything `loupe stats` reports; see the module documentation for the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    pub verdicts: usize,
    pub items: usize,
    pub alpha: f64,
    pub confidence: f64,
    pub raters: Vec<String>,
    pub variants: Vec<String>,
    pub pairs: Vec<PairStats>,
    pub ranking: Option<Ranking>,
    pub position_bias: PositionBias,
    pub agreement: Agreement,
    /// Caveats a reader needs, in plain words.
    pub notes: Vec<String>,
}

/// Head-to-head results for one unordered pair of variants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairStats {
    pub first: String,
    pub second: String,
    pub first_wins: u64,
    pub second_wins: u64,
    pub ties: u64,
    pub both_bad: u64,
    /// `first_wins / (first_wins + second_wins)` with a Wilson interval.
    pub win_rate: Rate,
    pub sign_test_p: f64,
    pub holm_p: f64,
    pub significant: bool,
    pub more_judgements_needed: Option<u64>,
    /// The anytime-valid test: whether watching ratings arrive may stop on this pair now.
    pub sequential: stats::SequentialTest,
}

/// The Bradley–Terry–Davidson ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    pub model: &'static str,
    /// Strongest first.
    pub variants: Vec<RankedVariant>,
    pub tie_parameter: Option<f64>,
    pub tie_parameter_interval: Option<Interval>,
    pub prior_precision: f64,
    pub resamples: usize,
    /// Resamples with no verdict that had a winner, left out of the intervals.
    pub resamples_without_winner: usize,
    pub seed: u64,
    pub converged: bool,
    pub connected: bool,
    pub components: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedVariant {
    pub name: String,
    pub rank: usize,
    pub log_strength: f64,
    pub strength: f64,
    /// Bootstrap interval of `log_strength`.
    pub interval: Interval,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionBias {
    pub a_wins: u64,
    pub decisive: u64,
    pub rate: Rate,
    pub sign_test_p: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// Units (item × pair) judged by at least two raters.
    pub units: usize,
    pub cohen: Vec<RaterPairKappa>,
    pub fleiss: FleissKappa,
    pub krippendorff_alpha_nominal: Option<f64>,
    pub rubric: Vec<RubricAgreement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterPairKappa {
    pub rater_1: String,
    pub rater_2: String,
    pub shared_units: u64,
    pub kappa: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RubricAgreement {
    pub dimension: String,
    /// Units (item × variant) scored by at least two raters.
    pub units: usize,
    pub krippendorff_alpha_ordinal: Option<f64>,
    pub means: Vec<VariantMean>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantMean {
    pub variant: String,
    /// Mean over every score given (repeats included), not only agreement units.
    pub mean: f64,
    pub ratings: u64,
}

/// A verdict's outcome in terms of the variants rather than the sides.
const CATEGORIES: usize = 4;
const FIRST_WINS: usize = 0;
const SECOND_WINS: usize = 1;
const TIE: usize = 2;
const BOTH_BAD: usize = 3;

/// The `FxHash` of rustc: names in a verdict file are not adversarial keys worth
/// `SipHash`'s flood resistance, which made analysing a 100k-verdict file about a
/// third slower. The final rotation (as `rustc-hash` 2 does) moves the well-mixed high bits
/// of the product into the low bits that pick a bucket; without it names sharing an
/// 8-byte prefix such as `case-123` collide in droves.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(<[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            self.add(rest.iter().fold(0, |w, &b| w << 8 | u64::from(b)));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Gives names dense ids as they are first seen; [`Interner::finish`] renumbers them
/// in sorted order so tables built from ids come out sorted by name. One hash lookup
/// per name occurrence: a 100k-verdict file is interned once and every statistic
/// works on ids.
#[derive(Default)]
struct Interner<'a> {
    index: FastMap<&'a str, u32>,
    names: Vec<&'a str>,
    /// The name looked up last, and its id.
    last: Option<(&'a str, u32)>,
}

impl<'a> Interner<'a> {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            index: FastMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            names: Vec::with_capacity(capacity),
            last: None,
        }
    }

    fn id(&mut self, name: &'a str) -> u32 {
        // Verdicts on one item usually come one after another.
        if let Some((last, id)) = self.last
            && last == name
        {
            return id;
        }
        let names = &mut self.names;
        let id = *self.index.entry(name).or_insert_with(|| {
            names.push(name);
            (names.len() - 1) as u32
        });
        self.last = Some((name, id));
        id
    }

    /// The sorted names, and for each first-seen id its position among them.
    fn finish(self) -> (Vec<&'a str>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by_key(|&id| self.names[id as usize]);
        let mut rank = vec![0; order.len()];
        for (position, &id) in order.iter().enumerate() {
            rank[id as usize] = position as u32;
        }
        (
            order.iter().map(|&id| self.names[id as usize]).collect(),
            rank,
        )
    }
}

/// A verdict with its names replaced by ids into sorted name tables, and its outcome
/// as a category of the unordered pair (`first` < `second`).
#[derive(Debug, Clone, Copy)]
struct Coded {
    rater: u32,
    item: u32,
    a: u32,
    b: u32,
    first: u32,
    second: u32,
    category: usize,
}

struct Coding<'a> {
    variants: Vec<&'a str>,
    raters: Vec<&'a str>,
    /// How many distinct items; item ids stay in order of first appearance, since no
    /// output lists items and sorting tens of thousands of names would be wasted.
    items: usize,
    verdicts: Vec<Coded>,
    /// Indices of the verdicts that carry rubric scores, so the rubric pass reads only
    /// those (a verdict is ~150 bytes: every extra pass over 100k of them is a few ms of
    /// cache misses).
    scored: Vec<u32>,
}

/// Reads each verdict once: every later statistic works on the compact [`Coded`] rows.
fn code(verdicts: &[Verdict]) -> Coding<'_> {
    let (mut variants, mut raters) = (Interner::default(), Interner::default());
    let mut items = Interner::with_capacity(verdicts.len());
    let mut scored = Vec::new();
    let provisional: Vec<([u32; 4], Winner)> = verdicts
        .iter()
        .enumerate()
        .map(|(index, v)| {
            if !v.scores.is_empty() {
                scored.push(index as u32);
            }
            let ids = [
                raters.id(&v.rater),
                items.id(&v.item),
                variants.id(&v.a),
                variants.id(&v.b),
            ];
            (ids, v.winner)
        })
        .collect();
    let (variants, variant_rank) = variants.finish();
    let (raters, rater_rank) = raters.finish();
    let coded = provisional
        .into_iter()
        .map(|([rater, item, a, b], winner)| {
            let (a, b) = (variant_rank[a as usize], variant_rank[b as usize]);
            let category = match winner {
                Winner::A if a < b => FIRST_WINS,
                Winner::B if b < a => FIRST_WINS,
                Winner::A | Winner::B => SECOND_WINS,
                Winner::Tie => TIE,
                Winner::BothBad => BOTH_BAD,
            };
            Coded {
                rater: rater_rank[rater as usize],
                item,
                a,
                b,
                first: a.min(b),
                second: a.max(b),
                category,
            }
        })
        .collect();
    Coding {
        variants,
        raters,
        items: items.names.len(),
        verdicts: coded,
        scored,
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The ranking's cost grows with the cube of the number of variants (a Newton step
/// per bootstrap resample); beyond this many, a file is more likely a mistake (item
/// ids in the variant fields) than a contest, and it is not ranked.
const MAX_RANKED_VARIANTS: usize = 100;

/// Computes every statistic in [`StatsReport`]. Never panics; empty or degenerate
/// input gives `null`s and notes instead of numbers.
pub fn analyse(verdicts: &[Verdict], options: &AnalyseOptions) -> StatsReport {
    let mut notes = Vec::new();
    let alpha = if options.alpha > 0.0 && options.alpha < 1.0 {
        options.alpha
    } else {
        notes.push(format!(
            "alpha {} is outside (0, 1); 0.05 was used",
            options.alpha
        ));
        0.05
    };
    let confidence = 1.0 - alpha;
    let coding = code(verdicts);

    let tallies = tally(&coding);
    let pairs = pair_stats(&coding, &tallies, alpha, confidence);
    let ranking = match coding.variants.len() {
        0 | 1 => {
            notes.push("fewer than two variants: nothing to rank".to_owned());
            None
        }
        k if k > MAX_RANKED_VARIANTS => {
            notes.push(format!(
                "{k} variants: more than {MAX_RANKED_VARIANTS} are not ranked"
            ));
            None
        }
        _ => Some(ranking(&coding, &tallies, options, confidence, &mut notes)),
    };

    // From the coded rows: side a won when the winning variant is the one shown as a.
    let (mut a_wins, mut decisive) = (0u64, 0u64);
    for v in &coding.verdicts {
        match v.category {
            FIRST_WINS => a_wins += u64::from(v.a == v.first),
            SECOND_WINS => a_wins += u64::from(v.a == v.second),
            _ => continue,
        }
        decisive += 1;
    }
    let position_bias = PositionBias {
        a_wins,
        decisive,
        rate: stats::rate(a_wins, decisive, confidence),
        sign_test_p: stats::sign_test(a_wins, decisive - a_wins),
    };

    let mut agreement = agreement(&coding, &mut notes);
    agreement.rubric = rubric_agreement(verdicts, &coding);

    StatsReport {
        verdicts: verdicts.len(),
        items: coding.items,
        alpha,
        confidence,
        raters: owned(&coding.raters),
        variants: owned(&coding.variants),
        pairs,
        ranking,
        position_bias,
        agreement,
        notes,
    }
}

/// Up to this many variants the tally is a dense table (256² cells of 32 bytes: 2 MB).
const DENSE_TALLY_VARIANTS: usize = 256;

/// Category counts per compared pair `(first, second)`, sorted by pair.
type Tallies = Vec<((u32, u32), [u64; CATEGORIES])>;

fn tally(coding: &Coding<'_>) -> Tallies {
    let k = coding.variants.len();
    // A dense k × k table when it is small (a hash lookup per verdict cost more than
    // everything else in the tally); a map for the odd file with hundreds of variants.
    if k <= DENSE_TALLY_VARIANTS {
        let mut table = vec![[0u64; CATEGORIES]; k * k];
        for v in &coding.verdicts {
            table[v.first as usize * k + v.second as usize][v.category] += 1;
        }
        return table
            .into_iter()
            .enumerate()
            .filter(|(_, t)| t.iter().any(|&n| n > 0))
            .map(|(cell, t)| (((cell / k) as u32, (cell % k) as u32), t))
            .collect();
    }
    let mut by_pair: FastMap<(u32, u32), [u64; CATEGORIES]> = FastMap::default();
    for v in &coding.verdicts {
        by_pair.entry((v.first, v.second)).or_default()[v.category] += 1;
    }
    let mut tallies: Tallies = by_pair.into_iter().collect();
    tallies.sort_unstable_by_key(|(pair, _)| *pair);
    tallies
}

fn pair_stats(
    coding: &Coding<'_>,
    tallies: &Tallies,
    alpha: f64,
    confidence: f64,
) -> Vec<PairStats> {
    let p_values: Vec<f64> = tallies
        .iter()
        .map(|(_, t)| stats::sign_test(t[FIRST_WINS], t[SECOND_WINS]))
        .collect();
    let holm = stats::holm_adjust(&p_values);
    // The count of judgements still needed uses the rule `significant` shows: this pair's
    // Holm-adjusted p below alpha, the other pairs' p-values as they stand.
    let needed = |index: usize, t: &[u64; CATEGORIES]| {
        let mut others = p_values.clone();
        others.remove(index);
        let rule = stats::HolmWithOthers::new(&others);
        stats::judgements_needed_until(t[FIRST_WINS], t[SECOND_WINS], |p| rule.adjusted(p) < alpha)
    };
    let counts: Vec<(u64, u64)> = tallies
        .iter()
        .map(|(_, t)| (t[FIRST_WINS], t[SECOND_WINS]))
        .collect();
    let sequential = stats::sequential_tests(&counts, alpha);
    tallies
        .iter()
        .enumerate()
        .zip(p_values.iter().zip(holm))
        .map(|((index, ((first, second), t)), (&p, holm_p))| PairStats {
            first: coding.variants[*first as usize].to_owned(),
            second: coding.variants[*second as usize].to_owned(),
            first_wins: t[FIRST_WINS],
            second_wins: t[SECOND_WINS],
            ties: t[TIE],
            both_bad: t[BOTH_BAD],
            win_rate: stats::rate(t[FIRST_WINS], t[FIRST_WINS] + t[SECOND_WINS], confidence),
            sign_test_p: p,
            holm_p,
            significant: holm_p < alpha,
            more_judgements_needed: needed(index, t),
            sequential: sequential[index],
        })
        .collect()
}

fn ranking(
    coding: &Coding<'_>,
    tallies: &Tallies,
    options: &AnalyseOptions,
    confidence: f64,
    notes: &mut Vec<String>,
) -> Ranking {
    let names = &coding.variants;
    let k = names.len();
    // Both-bad counts as a tie: neither side was preferred.
    let outcome = |category| match category {
        FIRST_WINS => Outcome::FirstWins,
        SECOND_WINS => Outcome::SecondWins,
        _ => Outcome::Tie,
    };
    let mut counts = PairCounts::new(k);
    for &((first, second), t) in tallies {
        for (category, &n) in t.iter().enumerate() {
            let (first, second) = (first as usize, second as usize);
            counts.add(
                Comparison {
                    first,
                    second,
                    outcome: outcome(category),
                },
                n as f64,
            );
        }
    }
    let bt_options = BradleyTerryOptions::default();
    let fit = stats::fit_bradley_terry(&counts, &bt_options, None);
    // The bootstrap resamples verdicts, so it needs them one by one.
    let comparisons: Vec<Comparison> = if options.bootstrap_resamples > 0 {
        coding
            .verdicts
            .iter()
            .map(|v| Comparison {
                first: v.first as usize,
                second: v.second as usize,
                outcome: outcome(v.category),
            })
            .collect()
    } else {
        Vec::new()
    };
    let bootstrap = stats::bootstrap_bradley_terry(
        &comparisons,
        k,
        &bt_options,
        &fit,
        options.bootstrap_resamples,
        confidence,
        options.seed,
    );

    let components: Vec<Vec<String>> = counts
        .components()
        .iter()
        .map(|group| group.iter().map(|&v| names[v].to_owned()).collect())
        .collect();
    if components.len() > 1 {
        let groups: Vec<String> = components.iter().map(|g| g.join(", ")).collect();
        notes.push(format!(
            "the comparison graph is disconnected ({}): strengths compare only within a group",
            groups.join(" | ")
        ));
    }
    for (v, name) in names.iter().enumerate() {
        let lost = (0..k).any(|o| counts.wins(o, v) > 0.0);
        let won = (0..k).any(|o| counts.wins(v, o) > 0.0);
        if won && !lost {
            notes.push(format!(
                "{name} never lost: its strength is bounded only by the weak prior (sd 10 on the log scale)"
            ));
        }
    }
    if fit.tie_parameter.is_none() {
        notes.push("no verdict had a winner: the ranking is flat".to_owned());
    }
    if !fit.converged {
        notes.push("the Bradley-Terry fit did not converge; treat the ranking as rough".to_owned());
    }
    if bootstrap.without_winner > 0 {
        notes.push(format!(
            "{} of {} bootstrap resamples had no winner: left out of the intervals",
            bootstrap.without_winner, bootstrap.resamples
        ));
    }
    if bootstrap.unconverged > 0 {
        notes.push(format!(
            "{} of {} bootstrap fits did not converge",
            bootstrap.unconverged, bootstrap.resamples
        ));
    }

    let mut ranked: Vec<RankedVariant> = fit
        .log_strengths
        .iter()
        .zip(&bootstrap.log_strength_intervals)
        .enumerate()
        .map(|(v, (&theta, &interval))| RankedVariant {
            name: names[v].to_owned(),
            rank: 0,
            log_strength: theta,
            strength: theta.exp(),
            interval,
        })
        .collect();
    ranked.sort_by(|x, y| {
        y.log_strength
            .total_cmp(&x.log_strength)
            .then_with(|| x.name.cmp(&y.name))
    });
    for (position, variant) in ranked.iter_mut().enumerate() {
        variant.rank = position + 1;
    }
    Ranking {
        model: "bradley_terry_davidson",
        variants: ranked,
        tie_parameter: fit.tie_parameter,
        tie_parameter_interval: bootstrap.tie_parameter_interval,
        prior_precision: bt_options.prior_precision,
        resamples: bootstrap.resamples,
        resamples_without_winner: bootstrap.without_winner,
        seed: options.seed,
        converged: fit.converged,
        connected: components.len() <= 1,
        components,
    }
}

/// One rating of one unit: `(unit, rater, order in the file, value)`.
type Rating<V> = (u64, u32, u32, V);

/// The units rated by two or more raters, each a run of `(rater, value)` with raters
/// ascending, stored flat so a large file costs no allocation per unit.
struct Units<V> {
    ratings: Vec<(u32, V)>,
    bounds: Vec<usize>,
}

impl<V: Copy> Units<V> {
    /// Keeps each rater's last rating of each unit and groups by unit, by sorting
    /// rather than hashing.
    fn pairable(mut ratings: Vec<Rating<V>>) -> Self {
        // One integer key compares faster than a tuple, and this sort dominates.
        ratings.sort_unstable_by_key(|&(unit, rater, order, _)| {
            u128::from(unit) << 64 | u128::from(rater) << 32 | u128::from(order)
        });
        let mut units = Self {
            ratings: Vec::new(),
            bounds: vec![0],
        };
        let mut start = 0;
        while start < ratings.len() {
            let unit = ratings[start].0;
            let end = ratings[start..]
                .iter()
                .position(|r| r.0 != unit)
                .map_or(ratings.len(), |len| start + len);
            let latest = (start..end)
                .filter(|&i| i + 1 == end || ratings[i + 1].1 != ratings[i].1)
                .map(|i| (ratings[i].1, ratings[i].3));
            let before = units.ratings.len();
            units.ratings.extend(latest);
            if units.ratings.len() - before >= 2 {
                units.bounds.push(units.ratings.len());
            } else {
                units.ratings.truncate(before);
            }
            start = end;
        }
        units
    }

    fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn iter(&self) -> impl Iterator<Item = &[(u32, V)]> {
        self.bounds.windows(2).map(|w| &self.ratings[w[0]..w[1]])
    }

    /// Each unit's values alone, for Krippendorff's alpha.
    fn values(&self, to_f64: impl Fn(V) -> f64) -> (Vec<f64>, Vec<std::ops::Range<usize>>) {
        let values = self.ratings.iter().map(|&(_, v)| to_f64(v)).collect();
        (values, self.bounds.windows(2).map(|w| w[0]..w[1]).collect())
    }
}

fn agreement(coding: &Coding<'_>, notes: &mut Vec<String>) -> Agreement {
    let k = coding.variants.len() as u64;
    // A unit is (item, pair), numbered item-major so units sort by item.
    let ratings = coding
        .verdicts
        .iter()
        .enumerate()
        .map(|(order, v)| {
            let unit = (u64::from(v.item) * k + u64::from(v.first)) * k + u64::from(v.second);
            (unit, v.rater, order as u32, v.category)
        })
        .collect();
    let units = Units::pairable(ratings);
    let mut cohen_tables: FastMap<(u32, u32), [[u64; CATEGORIES]; CATEGORIES]> = FastMap::default();
    let mut fleiss_table: Vec<[u64; CATEGORIES]> = Vec::with_capacity(units.len());
    for unit in units.iter() {
        // Raters within a unit are sorted, so (r1, r2) always has r1 < r2.
        for (i, &(r1, c1)) in unit.iter().enumerate() {
            for &(r2, c2) in &unit[i + 1..] {
                cohen_tables.entry((r1, r2)).or_default()[c1][c2] += 1;
            }
        }
        let mut row = [0; CATEGORIES];
        for &(_, category) in unit {
            row[category] += 1;
        }
        fleiss_table.push(row);
    }
    let (values, ranges) = units.values(|category| category as f64);
    let nominal_units: Vec<&[f64]> = ranges.into_iter().map(|r| &values[r]).collect();
    let mut cohen: Vec<((u32, u32), RaterPairKappa)> = cohen_tables
        .iter()
        .map(|(&(r1, r2), table)| {
            let kappa = RaterPairKappa {
                rater_1: coding.raters[r1 as usize].to_owned(),
                rater_2: coding.raters[r2 as usize].to_owned(),
                shared_units: table.iter().flatten().sum(),
                kappa: stats::cohens_kappa(table),
            };
            ((r1, r2), kappa)
        })
        .collect();
    cohen.sort_unstable_by_key(|(raters, _)| *raters);

    if coding.raters.len() < 2 {
        notes.push("fewer than two raters: agreement needs at least two".to_owned());
    } else if units.is_empty() {
        notes.push(
            "no comparison was judged by two raters: agreement cannot be measured".to_owned(),
        );
    }

    Agreement {
        units: units.len(),
        cohen: cohen.into_iter().map(|(_, kappa)| kappa).collect(),
        fleiss: stats::fleiss_kappa(&fleiss_table),
        krippendorff_alpha_nominal: stats::krippendorff_alpha(&nominal_units, Level::Nominal),
        rubric: Vec::new(),
    }
}

fn rubric_agreement(verdicts: &[Verdict], coding: &Coding<'_>) -> Vec<RubricAgreement> {
    let mut dimensions = Interner::default();
    let k = coding.variants.len();
    // A unit is (item, variant) within a dimension.
    let mut ratings: Vec<(u32, Rating<f64>)> = Vec::new();
    for &order in &coding.scored {
        let (v, coded) = (&verdicts[order as usize], &coding.verdicts[order as usize]);
        for (variant, scores) in [(coded.a, &v.scores.a), (coded.b, &v.scores.b)] {
            let unit = u64::from(coded.item) * k as u64 + u64::from(variant);
            for (dimension, &value) in scores {
                let rating = (unit, coded.rater, order, value);
                ratings.push((dimensions.id(dimension), rating));
            }
        }
    }
    let (names, rank) = dimensions.finish();
    let mut per_dimension: Vec<Vec<Rating<f64>>> = vec![Vec::new(); names.len()];
    for (dimension, rating) in ratings {
        per_dimension[rank[dimension as usize] as usize].push(rating);
    }
    names
        .iter()
        .zip(per_dimension)
        .map(|(name, ratings)| {
            // Means count every score given, before later scores replace earlier ones.
            let mut sums = vec![(0.0, 0u64); k];
            for &(unit, _, _, value) in &ratings {
                let sum = &mut sums[(unit % k as u64) as usize];
                sum.0 += value;
                sum.1 += 1;
            }
            let means = sums
                .iter()
                .zip(&coding.variants)
                .filter(|((_, ratings), _)| *ratings > 0)
                .map(|(&(sum, ratings), variant)| VariantMean {
                    variant: (*variant).to_owned(),
                    mean: sum / ratings as f64,
                    ratings,
                })
                .collect();
            let units = Units::pairable(ratings);
            let (values, ranges) = units.values(|value| value);
            let units: Vec<&[f64]> = ranges.into_iter().map(|r| &values[r]).collect();
            RubricAgreement {
                dimension: (*name).to_owned(),
                units: units.len(),
                krippendorff_alpha_ordinal: stats::krippendorff_alpha(&units, Level::Ordinal),
                means,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Plain-text rendering
// ---------------------------------------------------------------------------------

/// Left-aligned text columns, right-aligned numbers, two spaces between columns.
fn table(headers: &[&str], numeric: &[bool], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(numeric)
            .map(|((cell, &w), &right)| {
                let pad = " ".repeat(w - width(cell));
                if right {
                    format!("{pad}{cell}")
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// "1 rater", "2 raters".
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "<0.0001".to_owned()
    } else {
        format!("{p:.4}")
    }
}

fn interval(low: f64, high: f64) -> String {
    format!("[{low:.3}, {high:.3}]")
}

/// The report as aligned plain-text tables, for a terminal or a pipe (no colour).
pub fn render_table(report: &StatsReport) -> String {
    let level = report.confidence * 100.0;
    let percent = if (level - level.round()).abs() < 1e-9 {
        format!("{level:.0}%")
    } else {
        format!("{level:.1}%")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} on {} by {}; {}. Intervals {percent}, alpha {}.",
        counted(report.verdicts, "verdict"),
        counted(report.items, "item"),
        counted(report.raters.len(), "rater"),
        counted(report.variants.len(), "variant"),
        report.alpha
    );

    out.push_str(
        "\nPairs (win rate of the first; ties and both-bad excluded; p: exact sign test, fixed-sample: not for peeking, see the sequential test)\n",
    );
    let rows: Vec<Vec<String>> = report
        .pairs
        .iter()
        .map(|p| {
            vec![
                p.first.clone(),
                p.second.clone(),
                p.first_wins.to_string(),
                p.second_wins.to_string(),
                p.ties.to_string(),
                p.both_bad.to_string(),
                number(p.win_rate.estimate),
                interval(p.win_rate.low, p.win_rate.high),
                p_value(p.sign_test_p),
                p_value(p.holm_p),
                if p.significant {
                    "yes".to_owned()
                } else {
                    "no".to_owned()
                },
                p.more_judgements_needed
                    .map_or_else(|| "n/a".to_owned(), |n| n.to_string()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "first",
            "second",
            "wins",
            "losses",
            "ties",
            "both bad",
            "win rate",
            &percent,
            "p",
            "Holm p",
            "significant",
            "more needed",
        ],
        &[
            false, false, true, true, true, true, true, false, true, true, false, true,
        ],
        &rows,
    ));

    if !report.pairs.is_empty() {
        out.push_str(
            "\nSequential test (anytime-valid: may stop at any look; Beta-mixture e-value, Holm across pairs)\n",
        );
        let rows: Vec<Vec<String>> = report
            .pairs
            .iter()
            .map(|p| {
                vec![
                    p.first.clone(),
                    p.second.clone(),
                    format!("{:.3}", p.sequential.e_value),
                    p_value(p.sequential.p),
                    p_value(p.sequential.holm_p),
                    if p.sequential.may_stop {
                        "yes".to_owned()
                    } else {
                        "not yet".to_owned()
                    },
                ]
            })
            .collect();
        out.push_str(&table(
            &["first", "second", "e-value", "p", "Holm p", "may stop"],
            &[false, false, true, true, true, false],
            &rows,
        ));
    }

    if let Some(ranking) = &report.ranking {
        let _ = writeln!(
            out,
            "\nRanking (Bradley-Terry with ties, Davidson 1970; {} bootstrap resamples, seed {})",
            ranking.resamples, ranking.seed
        );
        let rows: Vec<Vec<String>> = ranking
            .variants
            .iter()
            .map(|v| {
                vec![
                    v.rank.to_string(),
                    v.name.clone(),
                    format!("{:.3}", v.log_strength),
                    interval(v.interval.low, v.interval.high),
                    format!("{:.3}", v.strength),
                ]
            })
            .collect();
        out.push_str(&table(
            &["rank", "variant", "log-strength", &percent, "strength"],
            &[true, false, true, false, true],
            &rows,
        ));
        let tie = match (ranking.tie_parameter, ranking.tie_parameter_interval) {
            (Some(nu), Some(i)) => format!("{nu:.3} {}", interval(i.low, i.high)),
            (nu, _) => number(nu),
        };
        let _ = writeln!(out, "  tie parameter: {tie}");
    }

    let bias = &report.position_bias;
    let _ = writeln!(
        out,
        "\nPosition bias: side a won {} of {} verdicts with a winner: {} {}, p {}",
        bias.a_wins,
        bias.decisive,
        number(bias.rate.estimate),
        interval(bias.rate.low, bias.rate.high),
        p_value(bias.sign_test_p)
    );

    let agreement = &report.agreement;
    let _ = writeln!(
        out,
        "\nAgreement ({} comparisons judged by two or more raters)",
        agreement.units
    );
    if !agreement.cohen.is_empty() {
        let rows: Vec<Vec<String>> = agreement
            .cohen
            .iter()
            .map(|c| {
                vec![
                    c.rater_1.clone(),
                    c.rater_2.clone(),
                    c.shared_units.to_string(),
                    number(c.kappa),
                ]
            })
            .collect();
        out.push_str(&table(
            &["rater", "rater", "shared", "Cohen's kappa"],
            &[false, false, true, true],
            &rows,
        ));
    }
    let fleiss = &agreement.fleiss;
    let _ = writeln!(
        out,
        "  Fleiss' kappa: {} ({} comparisons with {} raters each)",
        number(fleiss.kappa),
        fleiss.items,
        fleiss.raters_per_item
    );
    let _ = writeln!(
        out,
        "  Krippendorff's alpha (nominal): {}",
        number(agreement.krippendorff_alpha_nominal)
    );
    if !agreement.rubric.is_empty() {
        out.push_str(
            "\nRubric (mean score per variant; agreement: Krippendorff's alpha, ordinal)\n",
        );
        let mut headers = vec!["dimension", "units", "alpha"];
        headers.extend(report.variants.iter().map(String::as_str));
        let mut numeric = vec![false, true, true];
        numeric.extend(report.variants.iter().map(|_| true));
        let rows: Vec<Vec<String>> = agreement
            .rubric
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.dimension.clone(),
                    r.units.to_string(),
                    number(r.krippendorff_alpha_ordinal),
                ];
                row.extend(report.variants.iter().map(|name| {
                    let mean = r.means.iter().find(|m| &m.variant == name);
                    mean.map_or_else(
                        || "n/a".to_owned(),
                        |m| format!("{:.2} ({})", m.mean, m.ratings),
                    )
                }));
                row
            })
            .collect();
        out.push_str(&table(&headers, &numeric, &rows));
    }

    if !report.notes.is_empty() {
        out.push_str("\nNotes\n");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

#[cfg(test)]
// Exact comparisons are the point: scores and kappas here are exact small fractions.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Verdict>, VerdictError> {
        parse_verdicts(text.as_bytes(), "verdicts.jsonl")
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("invalid input").to_string()
    }

    const LINE: &str =
        r#"{"rater": "ana", "item": "case-7", "a": "prompt", "b": "prompt+rag", "winner": "a"}"#;

    #[test]
    fn parses_verdicts_with_scores_and_skips_blank_lines() {
        let text = format!(
            "\u{feff}{LINE}\n\n  \n{}\r\n",
            r#"{"rater":"ben","item":"case-7","a":"prompt+rag","b":"prompt","winner":"both_bad","note":"meh","scores":{"a":{"clarity":4},"b":{"clarity":2.5}}}"#
        );
        let verdicts = parse(&text).expect("valid");
        assert_eq!(verdicts.len(), 2);
        assert_eq!(verdicts[0].winner, Winner::A);
        assert_eq!(verdicts[1].winner, Winner::BothBad);
        assert_eq!(verdicts[1].scores.a["clarity"], 4.0);
        assert_eq!(verdicts[1].scores.b["clarity"], 2.5);
        assert!(verdicts[0].scores.a.is_empty());
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let bad_winner = LINE.replace(r#""winner": "a""#, r#""winner": "c""#);
        assert_eq!(
            error(&format!("{LINE}\n\n{bad_winner}")),
            r#"verdicts.jsonl:3: unknown winner "c", expected a, b, tie or both_bad"#
        );
        assert_eq!(
            error(r#"{"rater": "ana", "item": "x", "a": "p", "b": "q"}"#),
            "verdicts.jsonl:1: missing field `winner`"
        );
        assert_eq!(
            error("{\"rater\": "),
            "verdicts.jsonl:1: invalid JSON at column 9: EOF while parsing a value"
        );
        assert_eq!(
            error(&LINE.replace(r#""item": "case-7""#, r#""item": 7"#)),
            "verdicts.jsonl:1: invalid type: integer `7`, expected a string"
        );
        assert_eq!(
            error(&LINE.replace("prompt+rag", "prompt")),
            r#"verdicts.jsonl:1: "a" and "b" are the same variant "prompt"; a verdict compares two"#
        );
        assert_eq!(
            error(&LINE.replace("ana", " ")),
            r#"verdicts.jsonl:1: "rater" is empty"#
        );
        assert_eq!(
            error(&LINE.replace(
                r#""winner": "a""#,
                r#""winner": "a", "scores": {"a": {"clarity": "good"}}"#
            )),
            "verdicts.jsonl:1: invalid type: string \"good\", expected f64"
        );
        let invalid_utf8: &[u8] = b"{\"rater\": \"\xff\"}\n";
        let read_error = parse_verdicts(invalid_utf8, "v.jsonl")
            .expect_err("not UTF-8")
            .to_string();
        assert!(
            read_error.starts_with("v.jsonl:1: cannot read:"),
            "{read_error}"
        );
    }

    fn verdict(rater: &str, item: &str, a: &str, b: &str, winner: Winner) -> Verdict {
        Verdict {
            rater: rater.to_owned(),
            item: item.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
            winner,
            scores: SideScores::default(),
        }
    }

    #[test]
    fn nothing_to_analyse_is_not_a_crash() {
        let report = analyse(&[], &AnalyseOptions::default());
        assert!(report.pairs.is_empty() && report.ranking.is_none());
        assert_eq!(report.position_bias.rate.estimate, None);
        assert_eq!(report.agreement.krippendorff_alpha_nominal, None);
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("fewer than two variants"))
        );
        assert!(render_table(&report).contains("0 verdicts"));
        serde_json::to_string(&report).expect("serialisable");
    }

    #[test]
    fn placement_does_not_change_the_pair_or_the_agreement_category() {
        // Ana saw prompt on the left, Ben on the right; both preferred prompt+rag.
        let verdicts = [
            verdict("ana", "c1", "prompt", "prompt+rag", Winner::B),
            verdict("ben", "c1", "prompt+rag", "prompt", Winner::A),
        ];
        let report = analyse(&verdicts, &AnalyseOptions::default());
        assert_eq!(report.pairs.len(), 1);
        let pair = &report.pairs[0];
        assert_eq!(
            (pair.first.as_str(), pair.second.as_str()),
            ("prompt", "prompt+rag")
        );
        assert_eq!((pair.first_wins, pair.second_wins), (0, 2));
        assert_eq!(report.agreement.units, 1);
        assert_eq!(report.agreement.cohen[0].shared_units, 1);
        assert_eq!(report.agreement.fleiss.items, 1);
        assert_eq!(
            (report.position_bias.a_wins, report.position_bias.decisive),
            (1, 2)
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("prompt+rag never lost"))
        );
    }

    #[test]
    fn a_later_verdict_by_the_same_rater_replaces_the_earlier_for_agreement() {
        let verdicts = [
            verdict("ana", "c1", "x", "y", Winner::A),
            verdict("ben", "c1", "x", "y", Winner::B),
            verdict("ana", "c1", "y", "x", Winner::A),
            verdict("ana", "c2", "x", "y", Winner::Tie),
            verdict("ben", "c2", "x", "y", Winner::Tie),
        ];
        let report = analyse(&verdicts, &AnalyseOptions::default());
        assert_eq!(
            report.pairs[0].first_wins + report.pairs[0].second_wins,
            3,
            "tallies keep every verdict"
        );
        assert_eq!(report.agreement.units, 2);
        assert_eq!(
            report.agreement.cohen[0].kappa,
            Some(1.0),
            "ana's revision agrees with ben"
        );
        assert_eq!(report.agreement.krippendorff_alpha_nominal, Some(1.0));
    }

    #[test]
    fn one_rater_and_a_disconnected_graph_are_noted() {
        let verdicts = [
            verdict("ana", "c1", "a1", "a2", Winner::A),
            verdict("ana", "c1", "a1", "a2", Winner::B),
            verdict("ana", "c2", "b1", "b2", Winner::Tie),
            verdict("ana", "c3", "b1", "b2", Winner::A),
        ];
        let report = analyse(
            &verdicts,
            &AnalyseOptions {
                seed: 5,
                bootstrap_resamples: 50,
                alpha: 2.0,
            },
        );
        let ranking = report.ranking.as_ref().expect("four variants");
        assert!(!ranking.connected);
        assert_eq!(ranking.components, vec![vec!["a1", "a2"], vec!["b1", "b2"]]);
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("disconnected (a1, a2 | b1, b2)")),
            "{:?}",
            report.notes
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("fewer than two raters"))
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("alpha 2 is outside"))
        );
        assert_eq!(report.alpha, 0.05);
        assert!(report.agreement.cohen.is_empty());
        assert_eq!(report.agreement.fleiss.kappa, None);
    }

    #[test]
    fn rubric_scores_are_attributed_to_variants_not_sides() {
        let mut first = verdict("ana", "c1", "x", "y", Winner::A);
        first.scores.a.insert("clarity".to_owned(), 5.0);
        first.scores.b.insert("clarity".to_owned(), 2.0);
        let mut second = verdict("ben", "c1", "y", "x", Winner::B);
        second.scores.a.insert("clarity".to_owned(), 2.0);
        second.scores.b.insert("clarity".to_owned(), 5.0);
        let report = analyse(&[first, second], &AnalyseOptions::default());
        let clarity = &report.agreement.rubric[0];
        assert_eq!((clarity.dimension.as_str(), clarity.units), ("clarity", 2));
        assert_eq!(clarity.krippendorff_alpha_ordinal, Some(1.0));
        let means: Vec<(&str, f64)> = clarity
            .means
            .iter()
            .map(|m| (m.variant.as_str(), m.mean))
            .collect();
        assert_eq!(means, vec![("x", 5.0), ("y", 2.0)]);
    }

    #[test]
    fn more_judgements_needed_follows_the_adjusted_decision() {
        // Two pairs at 12-3 each: sign test p = 0.0352 apiece, Holm 0.0703. The old count
        // used the unadjusted p and read "0 more needed" next to "significant: no".
        let mut verdicts = Vec::new();
        for (x, y) in [("p", "q"), ("q", "r")] {
            for i in 0..15 {
                let winner = if i < 12 { Winner::A } else { Winner::B };
                verdicts.push(verdict("ana", &format!("c{i}"), x, y, winner));
            }
        }
        let report = analyse(&verdicts, &AnalyseOptions::default());
        for pair in &report.pairs {
            assert!((pair.sign_test_p - 0.035_156_25).abs() < 1e-9, "{pair:?}");
            assert!(!pair.significant);
            let more = pair.more_judgements_needed.expect("a lead to extrapolate");
            assert!(more > 0, "{pair:?}");
            // At 4:1 with the other pair as it stands, that many more makes Holm p < alpha
            // and one fewer does not.
            let holm_at = |n: u64| {
                let total = 15 + n;
                let wins = ((0.8 * total as f64).round()) as u64;
                stats::holm_adjust(&[stats::sign_test(wins, total - wins), pair.sign_test_p])[0]
            };
            assert!(holm_at(more) < 0.05 && holm_at(more - 1) >= 0.05, "{more}");
        }
        // One pair alone: the adjusted rule is the plain one.
        let alone = analyse(&verdicts[..15], &AnalyseOptions::default());
        assert!(alone.pairs[0].significant);
        assert_eq!(alone.pairs[0].more_judgements_needed, Some(0));
    }

    #[test]
    fn too_many_variants_are_not_ranked() {
        let verdicts: Vec<Verdict> = (0..=MAX_RANKED_VARIANTS)
            .map(|i| verdict("ana", "c1", &format!("v{i}"), &format!("w{i}"), Winner::A))
            .collect();
        let report = analyse(&verdicts, &AnalyseOptions::default());
        assert!(report.ranking.is_none());
        assert!(report.notes.iter().any(|n| n.contains("are not ranked")));
    }

    #[test]
    fn the_table_is_aligned_plain_text() {
        let verdicts = [
            verdict("ana", "c1", "prompt", "prompt+rag", Winner::B),
            verdict("ben", "c1", "prompt+rag", "prompt", Winner::A),
            verdict("ben", "c2", "prompt", "fine-tuned", Winner::Tie),
            verdict("cy", "c2", "fine-tuned", "prompt", Winner::BothBad),
        ];
        let text = render_table(&analyse(&verdicts, &AnalyseOptions::default()));
        assert!(!text.contains('\u{1b}'), "no escape sequences");
        let pairs: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("Pairs"))
            .skip(1)
            .take(3)
            .collect();
        assert!(
            pairs[0].contains("first") && pairs[0].contains("Holm p"),
            "{text}"
        );
        // Numbers are right-aligned: each row's "wins" cell ends where the header's does.
        let end_of_wins = pairs[0].find("wins").expect("header") + "wins".len();
        for row in &pairs[1..] {
            assert_eq!(&row[end_of_wins - 1..end_of_wins], "0", "{text}");
        }
    }
}
