//! The adaptive queue (`rating.schedule: adaptive`) through the real rating screen in a
//! real terminal (tmux, a private socket): with one pair already decided by stored ratings
//! and another close to it, the rater is offered the close pair first and never the
//! decided one while undecided pairs remain; the rating that lets the close pair stop
//! moves the very next comparison to the pair still open; a SIGKILL right after a rating
//! loses nothing and the queue resumes where the ratings say.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::tmux::{Tmux, open_after_kill};
use loupe::rating::open_rater;
use loupe::store::{RatingRecord, Store, Winner};

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");
const CASES: usize = 20;

/// Which variant an output on screen is: each answers in its own words
/// (`common::rating::output_text`).
const MARKERS: [(&str, &str); 3] = [
    ("low risk", "plain"),
    ("medium risk", "grounded"),
    ("high risk", "tuned"),
];

/// The comparison on screen: its two variants, left first (the left output is the one
/// met first reading the screen, side by side or stacked), and its case.
fn on_screen(screen: &str) -> (String, String, String) {
    let mut found: Vec<(usize, &str)> = MARKERS
        .iter()
        .filter_map(|(m, v)| screen.find(m).map(|at| (at, *v)))
        .collect();
    found.sort_unstable();
    assert_eq!(found.len(), 2, "two outputs on screen:\n{screen}");
    let case = screen
        .split("Case ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the case on screen:\n{screen}"))
        .to_owned();
    (found[0].1.to_owned(), found[1].1.to_owned(), case)
}

/// The pair of a comparison on screen, as the session names it.
fn pair_of(left: &str, right: &str) -> (&'static str, &'static str) {
    let has = |v: &str| left == v || right == v;
    match (has("plain"), has("grounded"), has("tuned")) {
        (true, true, _) => ("plain", "grounded"),
        (_, true, true) => ("grounded", "tuned"),
        _ => ("plain", "tuned"),
    }
}

fn rated(screen: &str) -> usize {
    let at = screen.find(&format!("/{} rated", 3 * CASES)).unwrap();
    let digits: String = screen[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

type Given = Vec<((&'static str, &'static str), String, Option<String>)>;

/// Rates the comparison on screen for `prefer` (a tie for none) and waits until the
/// screen says the rating is saved; returns the screen then.
fn rate(tmux: &Tmux, given: &mut Given, screen: &str, prefer: Option<&str>) -> String {
    let (left, right, case) = on_screen(screen);
    let key = match prefer {
        Some(v) if v == left => "h",
        Some(v) if v == right => "l",
        Some(v) => panic!("{v} is not on screen:\n{screen}"),
        None => "t",
    };
    given.push((pair_of(&left, &right), case, prefer.map(str::to_owned)));
    let n = given.len();
    tmux.send("r", key);
    tmux.wait_for("r", &format!("rating {n} saved"), |s| {
        s.contains(&format!(" {n}/60 rated")) && s.contains("saved")
    })
}

#[test]
fn the_adaptive_queue_offers_what_is_undecided_and_reorders_after_each_rating() {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), CASES, 2, &[]);
    let yaml = std::fs::read_to_string(&session_path).unwrap().replace(
        "pairs: [[plain, grounded], [grounded, tuned]]",
        "pairs: [[plain, grounded], [grounded, tuned], [plain, tuned]]",
    );
    std::fs::write(&session_path, yaml).unwrap();
    common::rating::set_adaptive(&session_path);
    let session = loupe::session::load(&session_path).unwrap();
    {
        // bo rated before: plain beat grounded 16 times out of 16 (the sequential test,
        // Holm across the three pairs, already lets that pair stop), grounded beat tuned
        // 12 times out of 13 (close, not yet), plain/tuned not at all.
        let store = Store::open(&store_dir).unwrap();
        let bo = open_rater(&store, &session, "bo", None).unwrap();
        let mut given: BTreeMap<(String, String), usize> = BTreeMap::new();
        for item in &bo.items {
            let c = &item.assignment.comparison;
            let n = given.entry((c.a.clone(), c.b.clone())).or_default();
            let winner = match (c.a.as_str(), c.b.as_str(), *n) {
                ("plain", "grounded", 0..16) | ("grounded", "tuned", 0..12) => Winner::A,
                ("grounded", "tuned", 12) => Winner::B,
                _ => continue,
            };
            *n += 1;
            let seq = u32::try_from(given.values().sum::<usize>()).unwrap();
            store
                .put_rating(&common::rating::verdict(
                    &session.file.name,
                    "bo",
                    &item.assignment,
                    winner,
                    seq,
                ))
                .unwrap();
        }
        let ratings: Vec<_> = store
            .ratings(&session.file.name)
            .collect::<Result<_, _>>()
            .unwrap();
        let tallies = loupe::rating::queue::pair_tallies(&ratings);
        let t = |a: &str, b: &str| tallies[&(a.to_owned(), b.to_owned())];
        let tests = loupe::eval::stats::sequential_tests(
            &[t("plain", "grounded"), t("grounded", "tuned"), (0, 0)],
            0.05,
        );
        assert!(tests[0].may_stop && !tests[1].may_stop, "{tests:?}");
    }

    let tmux = Tmux::new();
    let line = format!(
        "{LOUPE} --store {} rate {} --rater ana",
        store_dir.display(),
        session_path.display()
    );
    let mut pid = tmux.start("r", 160, 40, &line);
    let mut screen = tmux.wait_for("r", "ana's queue", |s| s.contains("0/60 rated"));
    // (pair, case, preferred variant) of each rating ana gives, in order.
    let mut given: Given = Vec::new();
    // grounded/tuned (12 to 1) is the pair nearest a decision: it comes first, and
    // plain/grounded (decided) never while the others are open. Four more for grounded
    // let it stop too (16 to 1; Holm across the two open pairs).
    for i in 0..4 {
        assert_eq!(
            pair_of(&on_screen(&screen).0, &on_screen(&screen).1),
            ("grounded", "tuned"),
            "rating {}: the close pair first\n{screen}",
            i + 1
        );
        screen = rate(&tmux, &mut given, &screen, Some("grounded"));
    }
    // The rating that let grounded/tuned stop changed what comes next: the pair still
    // open, plain/tuned, at once (the order as opened would go on with grounded/tuned).
    for prefer in [Some("plain"), Some("tuned"), None] {
        let (left, right, _) = on_screen(&screen);
        assert_eq!(
            pair_of(&left, &right),
            ("plain", "tuned"),
            "after grounded/tuned may stop, only plain/tuned is undecided:\n{screen}"
        );
        screen = rate(&tmux, &mut given, &screen, prefer);
    }
    assert_eq!(rated(&screen), 7);
    // SIGKILL right after the seventh rating showed as saved.
    tmux.kill9("r", pid);
    {
        let store = open_after_kill(&store_dir);
        let mine: Vec<RatingRecord> = store
            .ratings_by(&session.file.name, "ana")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(mine.len(), 7, "every rating shown as saved is on disk");
        for (r, (pair, case, prefer)) in mine.iter().zip(&given) {
            assert_eq!((r.comparison.a.as_str(), r.comparison.b.as_str()), *pair);
            assert_eq!(&r.comparison.case_id, case);
            assert_eq!(r.preferred(), prefer.as_deref());
        }
    }
    // The queue resumes from the ratings: seven rated, and next a plain/tuned comparison
    // not rated yet.
    tmux.cmd(&["kill-session", "-t", "r"]);
    pid = tmux.start("r", 160, 40, &line);
    screen = tmux.wait_for("r", "ana's queue again", |s| s.contains(" 7/60 rated"));
    let (left, right, case) = on_screen(&screen);
    assert_eq!(pair_of(&left, &right), ("plain", "tuned"), "{screen}");
    assert!(
        !given
            .iter()
            .any(|(p, c, _)| *p == ("plain", "tuned") && *c == case),
        "{case} was rated already:\n{screen}"
    );
    screen = rate(&tmux, &mut given, &screen, Some("plain"));
    assert_eq!(rated(&screen), 8);
    tmux.send("r", "q");
    tmux.wait_dead("r");
    let _ = pid;
}
