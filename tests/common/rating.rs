//! A rating session and a complete run of it, built through the store API (no model).

use std::path::{Path, PathBuf};

use loupe::session::Session;
use loupe::store::{Assignment, ComparisonKey, RatingRecord, RunRecord, Store, Winner};

/// Writes `rate.yaml` in `dir`: variants plain, grounded, tuned (plain on model `acme-7b`), pairs plain/grounded and grounded/tuned,
/// rubric clarity, accuracy, tone, `cases` cases; `gold` lists (case index, better variant).
pub fn write_session(dir: &Path, cases: usize, k: u32, gold: &[(usize, &str)]) -> PathBuf {
    let mut rows = String::new();
    for i in 0..cases {
        let g = gold
            .iter()
            .find(|(c, _)| *c == i)
            .map(|(_, v)| format!(", gold: {v}"))
            .unwrap_or_default();
        rows.push_str(&format!(
            "  - {{ id: c{i}, text: \"Rotate the key of service {i}\"{g} }}\n"
        ));
    }
    let yaml = format!(
        r#"name: rate-test
models:
  big:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: acme-7b
  small:
    provider: openai
    base_url: http://127.0.0.1:9/v1
    model: tiny-1b
templates:
  t:
    user: "Evaluate: {{{{ text }}}}"
variants:
  - {{ name: plain, template: t, model: big }}
  - {{ name: grounded, template: t, model: small }}
  - {{ name: tuned, template: t, model: small }}
cases:
{rows}rubric:
  - {{ key: clarity, scale: 5 }}
  - {{ key: accuracy, scale: 5 }}
  - {{ key: tone, scale: 5 }}
rating:
  pairs: [[plain, grounded], [grounded, tuned]]
  raters_per_comparison: {k}
  mask: [SecretCorp]
"#
    );
    let path = dir.join("rate.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// What variant `v` "answered" on case `case`: plain names its model, to test masking.
pub fn output_text(v: &str, case: &str) -> String {
    match v {
        "plain" => format!("As acme-7B by SecretCorp: {case} is low risk.\nRationale: routine."),
        "grounded" => format!("{case}: medium risk.\nRationale: a wrong key breaks clients."),
        _ => format!("{case}: high risk!\nRationale: \u{1b}[31mkeys\u{1b}[0m are critical."),
    }
}

/// Stores a complete run of every variant on every case of `session`, planned by the real
/// planner (so the templates' versions and the request hashes are the ones a run stores, and
/// an export can rebuild each prompt).
pub fn complete_run(store: &Store, session: &Session) -> RunRecord {
    let plan = super::planned::plan(session, store);
    super::planned::complete(store, &plan, |cell| {
        let text = output_text(&cell.key.variant, &cell.key.case_id);
        super::planned::answer(cell, text, Vec::new())
    })
}

/// A session file with a store holding a complete run, in `dir`.
pub fn setup(dir: &Path, cases: usize, k: u32, gold: &[(usize, &str)]) -> (PathBuf, PathBuf) {
    let session_path = write_session(dir, cases, k, gold);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.join("store");
    let store = Store::open(&store_dir).unwrap();
    complete_run(&store, &session);
    (session_path, store_dir)
}

/// A rating of `a` by `rater` in session `session` as the rating screen stores one, with a
/// verdict and nothing else (no scores, labels or note), given now; change what a test
/// needs with `RatingRecord { labels, ..verdict(...) }`.
pub fn verdict(
    session: &str,
    rater: &str,
    a: &Assignment,
    winner: Winner,
    seq: u32,
) -> RatingRecord {
    RatingRecord {
        gold: a.gold,
        seq,
        ..rating(session, rater, a.comparison.clone(), &a.left, winner)
    }
}

/// The comparison of `a` with `b` on case `case_id` (its first repeat) in run `run_id`.
pub fn comparison(run_id: &str, case_id: &str, a: &str, b: &str) -> ComparisonKey {
    ComparisonKey {
        run_id: run_id.to_owned(),
        case_id: case_id.to_owned(),
        repeat: 0,
        a: a.to_owned(),
        b: b.to_owned(),
    }
}

/// A rating by `rater` in session `session` of `comparison` shown with `left` on the left,
/// as the rating screen stores one: a verdict and nothing else (no scores, labels or note),
/// not a gold item, given now after a second's thought, first in the rater's sequence.
/// Change what a test needs with `RatingRecord { at_ms, ..rating(...) }`.
pub fn rating(
    session: &str,
    rater: &str,
    comparison: ComparisonKey,
    left: &str,
    winner: Winner,
) -> RatingRecord {
    RatingRecord {
        session: session.to_owned(),
        rater: rater.to_owned(),
        comparison,
        left: left.to_owned(),
        winner,
        scores: std::collections::BTreeMap::new(),
        note: None,
        labels: std::collections::BTreeMap::new(),
        gold: false,
        elapsed_ms: 1000,
        at_ms: loupe::store::now_ms(),
        seq: 0,
    }
}

/// Turns the session written by [`setup`] (k = 2) to `rating.schedule: adaptive`.
pub fn set_adaptive(session_path: &Path) {
    let yaml = std::fs::read_to_string(session_path).unwrap();
    assert!(yaml.contains("raters_per_comparison: 2"), "{yaml}");
    add_rating_setting(session_path, "schedule: adaptive");
}

/// Adds `setting` (`key: value`) to the `rating:` section of the session written by
/// [`write_session`], on the line after `raters_per_comparison`.
pub fn add_rating_setting(session_path: &Path, setting: &str) {
    let yaml = std::fs::read_to_string(session_path).unwrap();
    let at = yaml.find("  raters_per_comparison: ").unwrap();
    let end = at + yaml[at..].find('\n').unwrap() + 1;
    let yaml = format!("{}  {setting}\n{}", &yaml[..end], &yaml[end..]);
    std::fs::write(session_path, yaml).unwrap();
}
