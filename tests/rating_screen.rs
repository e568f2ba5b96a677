//! The rating screen driven through `update` with a synchronous host: keystroke counts,
//! deferred keys, undo, skip, the "saved" mark only after the write reports success,
//! blindness on screen, and snapshots at 80x24 (stacked and side by side).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use loupe::tui::input::{Key, KeyCode, Modifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use loupe::rating::queue::{self, QueueConfig};
use loupe::session::Session;
use loupe::store::{RaterRecord, RatingRecord, Store, Winner};
use loupe::tui::draw::{View, draw};
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::{Effect, Msg};
use loupe::tui::screens::rate::host::perform;
use loupe::tui::screens::rate::{Pending, RateEffect, RateMsg};
use loupe::tui::state::State;
use loupe::tui::theme::Theme;
use loupe::tui::update::update;

struct Harness {
    _dir: tempfile::TempDir,
    store: Store,
    session: Arc<Session>,
    state: State,
    keymap: Keymap,
}

impl Harness {
    /// A session of `cases` cases with a complete run, and rater `ana` opened on it with
    /// a fixed seed (so the queue, and the snapshots, are the same every time).
    fn new(cases: usize) -> Self {
        Self::with_gold(cases, &[], "ana")
    }

    fn with_gold(cases: usize, gold: &[(usize, &str)], rater: &str) -> Self {
        Self::build(cases, gold, rater, |_, _| {})
    }

    /// As `with_gold`, with `prepare` changing the stored run before the queue is made.
    fn build(
        cases: usize,
        gold: &[(usize, &str)],
        rater: &str,
        prepare: impl FnOnce(&Store, &str),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (session_path, store_dir) = common::rating::setup(dir.path(), cases, 2, gold);
        let session = Arc::new(loupe::session::load(&session_path).unwrap());
        let store = Store::open(&store_dir).unwrap();
        let run = store.latest_run(Some("rate-test"), true).unwrap().unwrap();
        prepare(&store, &run.id);
        let outputs: Vec<_> = store.outputs(&run.id).collect::<Result<_, _>>().unwrap();
        let offer = queue::candidates(&session, &run, &outputs).unwrap();
        let config = QueueConfig::of(&session);
        store
            .put_rater(&RaterRecord {
                session: "rate-test".into(),
                rater: rater.into(),
                run_id: run.id.clone(),
                seed: 7,
                queue: queue::assign(rater, 7, &offer.candidates, &config, &[]),
                created_ms: 0,
                active_ms: 0,
            })
            .unwrap();
        Self::open(dir, store, session, rater)
    }

    /// `rater`'s queue opened in the screen (as `loupe rate` starts it) over `store`.
    fn open(dir: tempfile::TempDir, store: Store, session: Arc<Session>, rater: &str) -> Self {
        let mut h = Harness {
            _dir: dir,
            store,
            session: session.clone(),
            state: State::new(session),
            keymap: Keymap::default(),
        };
        let effects = loupe::tui::screens::rate::update::start(&mut h.state, rater, None, true);
        let rest = h.run_all(effects);
        assert!(rest.is_empty());
        h
    }

    /// Sends a key; returns the effects without running them.
    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        update(
            &mut self.state,
            &self.keymap,
            Msg::Key(Key::new(code, Modifiers::NONE)),
        )
    }

    fn chars(&mut self, text: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        for c in text.chars() {
            out.extend(self.key(KeyCode::Char(c)));
        }
        out
    }

    fn deliver(&mut self, msg: RateMsg) -> Vec<Effect> {
        update(&mut self.state, &self.keymap, Msg::Rate(msg))
    }

    /// Runs rating effects against the store until none are left.
    fn run_all(&mut self, mut effects: Vec<Effect>) -> Vec<Effect> {
        let mut other = Vec::new();
        while let Some(e) = effects.pop() {
            match e {
                Effect::Rate(r) => {
                    let msg = perform(r, &self.store, &self.session);
                    effects.extend(self.deliver(msg));
                }
                e => other.push(e),
            }
        }
        other
    }

    fn screen(&self) -> &loupe::tui::screens::rate::RatingScreen {
        self.state.rating.as_ref().unwrap()
    }

    fn render(&self, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let theme = Theme::default();
        let view = View {
            theme: &theme,
            keymap: &self.keymap,
            ascii: false,
        };
        term.draw(|f| draw(&self.state, &view, f)).unwrap();
        term
    }

    fn text(&self, w: u16, h: u16) -> String {
        let term = self.render(w, h);
        let buf = term.backend().buffer();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}

fn save_of(effects: &[Effect]) -> RatingRecord {
    match effects {
        [Effect::Rate(RateEffect::Save(r, _))] => r.clone(),
        other => panic!("expected one save, got {other:?}"),
    }
}

#[test]
fn a_verdict_is_one_key_and_saved_shows_only_after_the_write() {
    let mut h = Harness::new(4);
    let first = h.screen().current.unwrap();
    let assignment = h.screen().items[first].assignment.clone();
    let effects = h.chars("h");
    let record = save_of(&effects);
    assert_eq!(record.left, assignment.left);
    assert_eq!(record.preferred(), Some(assignment.left.as_str()));
    assert_eq!(
        record.winner,
        if assignment.left == assignment.comparison.a {
            Winner::A
        } else {
            Winner::B
        }
    );
    assert!(record.scores.is_empty());
    // The write has not reported: nothing is acknowledged, the comparison stays.
    assert_eq!(h.screen().pending, Some(Pending::Save(first)));
    assert!(!h.screen().saved_mark);
    assert_eq!(h.screen().done_count(), 0);
    assert_eq!(h.screen().current, Some(first));
    assert!(!h.text(80, 24).contains("saved"));
    assert!(h.text(80, 24).contains("saving"));
    assert_eq!(h.store.ratings("rate-test").count(), 0);

    let msg = perform(RateEffect::Save(record, None), &h.store, &h.session);
    assert!(matches!(msg, RateMsg::Saved(..)));
    assert!(h.deliver(msg).is_empty());
    assert!(h.screen().saved_mark);
    assert_eq!(h.screen().done_count(), 1);
    assert_ne!(h.screen().current, Some(first));
    assert!(h.text(80, 24).contains("1/8 rated ✓ saved"));
    assert_eq!(h.store.ratings("rate-test").count(), 1);
}

#[test]
fn a_failed_write_is_not_acknowledged() {
    let mut h = Harness::new(2);
    let first = h.screen().current;
    save_of(&h.chars("453t"));
    h.deliver(RateMsg::SaveFailed("disk full".into()));
    let s = h.screen();
    assert_eq!(s.done_count(), 0);
    assert_eq!(s.current, first);
    assert!(!s.saved_mark);
    assert_eq!(s.draft.scores, [4, 5, 3], "the scores stay for a retry");
    assert!(h.text(100, 30).contains("NOT saved: disk full"));
    // Retrying is the verdict key again.
    save_of(&h.chars("t"));
}

#[test]
fn three_rubric_dimensions_for_both_sides_and_a_verdict_take_seven_keys() {
    let mut h = Harness::new(2);
    let i = h.screen().current.unwrap();
    let left = h.screen().items[i].assignment.left.clone();
    let right = h.screen().items[i].right().to_owned();
    let keys = "453244l";
    let effects = h.chars(keys);
    assert!(keys.len() <= 8);
    let record = save_of(&effects);
    assert_eq!(record.preferred(), Some(right.as_str()));
    let get = |v: &str, d: &str| record.scores[v][d];
    assert_eq!(
        [
            get(&left, "clarity"),
            get(&left, "accuracy"),
            get(&left, "tone")
        ],
        [4, 5, 3]
    );
    assert_eq!(
        [
            get(&right, "clarity"),
            get(&right, "accuracy"),
            get(&right, "tone")
        ],
        [2, 4, 4]
    );
    // A seventh score is refused; a score beyond the scale too.
    let mut h = Harness::new(2);
    assert!(h.chars("4532449").is_empty());
    assert_eq!(h.screen().draft.scores.len(), 6);
    let mut h = Harness::new(2);
    h.chars("7");
    assert!(h.screen().draft.scores.is_empty());
}

#[test]
fn keys_typed_during_a_write_wait_and_are_replayed_in_order() {
    let mut h = Harness::new(3);
    let first = save_of(&h.chars("h"));
    // Typed while the first write is in flight: they are for the next comparisons.
    assert!(h.chars("12x").is_empty());
    let next = h.deliver(perform(RateEffect::Save(first, None), &h.store, &h.session));
    let second = save_of(&next);
    assert_eq!(second.winner, Winner::BothBad);
    assert_eq!(second.scores.values().next().unwrap()["clarity"], 1);
    assert_eq!(second.scores.values().next().unwrap()["accuracy"], 2);
    assert_ne!(
        second.comparison,
        h.store
            .ratings("rate-test")
            .next()
            .unwrap()
            .unwrap()
            .comparison
    );
    let rest = h.run_all(vec![Effect::Rate(RateEffect::Save(second, None))]);
    assert!(rest.is_empty());
    assert_eq!(h.screen().done_count(), 2);
}

#[test]
fn undo_removes_the_last_rating_and_brings_it_back() {
    let mut h = Harness::new(2);
    let first = h.screen().current.unwrap();
    let e = h.chars("45n");
    assert!(e.is_empty());
    h.chars("too terse");
    h.key(KeyCode::Enter);
    let e = h.chars("h");
    h.run_all(e);
    assert_eq!(h.store.ratings("rate-test").count(), 1);
    let stored = h.store.ratings("rate-test").next().unwrap().unwrap();
    assert_eq!(stored.note.as_deref(), Some("too terse"));
    let e = h.chars("u");
    assert!(matches!(e.as_slice(), [Effect::Rate(RateEffect::Undo(_))]));
    assert_eq!(h.screen().pending, Some(Pending::Undo));
    h.run_all(e);
    assert_eq!(h.store.ratings("rate-test").count(), 0);
    let s = h.screen();
    assert_eq!(s.current, Some(first));
    assert_eq!(s.done_count(), 0);
    assert_eq!(s.draft.scores, [4, 5]);
    assert_eq!(s.draft.note.as_deref(), Some("too terse"));
    // Nothing left to undo.
    assert!(h.chars("u").is_empty());
}

#[test]
fn skip_puts_a_comparison_after_the_others() {
    let mut h = Harness::new(2);
    let order: Vec<usize> = (0..h.screen().items.len()).collect();
    assert_eq!(h.screen().current, Some(order[0]));
    assert!(h.chars("s").is_empty());
    assert_eq!(h.screen().current, Some(order[1]));
    for _ in 1..order.len() {
        let e = h.chars("t");
        h.run_all(e);
    }
    assert_eq!(
        h.screen().current,
        Some(order[0]),
        "the skipped one comes back"
    );
    let e = h.chars("t");
    h.run_all(e);
    assert_eq!(h.screen().current, None);
    assert!(h.text(80, 24).contains("All 4 comparisons are rated"));
}

#[test]
fn leaving_waits_for_the_write_in_flight() {
    let mut h = Harness::new(2);
    let record = save_of(&h.chars("h"));
    h.chars("q");
    assert!(!h.state.quit);
    let msg = perform(RateEffect::Save(record, None), &h.store, &h.session);
    h.deliver(msg);
    assert!(h.state.quit);
    assert_eq!(h.store.ratings("rate-test").count(), 1);
}

#[test]
fn the_screen_is_blind_and_safe() {
    let mut h = Harness::new(3);
    h.chars("w");
    for _ in 0..6 {
        for (w, ht) in [(80, 24), (140, 40)] {
            let text = h.text(w, ht);
            for name in [
                "plain",
                "grounded",
                "tuned",
                "acme",
                "tiny-1b",
                "SecretCorp",
                "big",
                "small",
            ] {
                assert!(
                    !text.to_lowercase().contains(&name.to_lowercase()),
                    "{name} on screen:\n{text}"
                );
            }
            assert!(!text.contains('\u{1b}'));
        }
        let e = h.chars("t");
        h.run_all(e);
    }
}

#[test]
fn the_header_says_how_many_comparisons_were_left_out_and_whose_queue_it_is() {
    // One failed output: the comparisons it is in are not asked.
    let h = Harness::build(3, &[], "ana\u{1b}[2J", |store, run_id| {
        let mut o = store.outputs(run_id).next().unwrap().unwrap();
        o.error = Some("HTTP 503".into());
        store.put_output(&o).unwrap();
    });
    let left_out = h.screen().left_out;
    assert!(left_out > 0);
    let text = h.text(120, 24);
    let header = text.lines().next().unwrap();
    assert!(
        header.contains(&format!("({left_out} left out)")),
        "{header}"
    );
    assert!(header.contains("rater ana\u{241b}[2J"), "{header}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn snapshot_stacked_80x24() {
    let mut h = Harness::new(3);
    h.chars("45");
    insta::assert_snapshot!(h.render(80, 24).backend());
}

#[test]
fn snapshot_side_by_side_80x24() {
    let mut h = Harness::new(3);
    let e = h.chars("h");
    h.run_all(e);
    h.chars("v");
    insta::assert_snapshot!(h.render(80, 24).backend());
}

#[test]
fn gold_items_measure_the_rater() {
    // Cases 0 and 1 are gold: plain is known better than grounded there.
    let mut h = Harness::with_gold(4, &[(0, "plain"), (1, "plain")], "ana");
    let s = h.screen();
    let golds = s.items.iter().filter(|i| i.assignment.gold).count();
    assert_eq!(golds, 2, "gold_rate unset: every gold comparison, once");
    assert_eq!(
        s.items.len(),
        4 + 2 + 2,
        "4 of grounded/tuned, 2+2 of plain/grounded"
    );
    // Prefer plain on the first gold item, grounded on the second; tie elsewhere.
    let mut right_answers = 0;
    while let Some(i) = h.screen().current {
        let item = &h.screen().items[i];
        let key = if item.assignment.gold {
            let want_plain = right_answers == 0;
            right_answers += 1;
            let plain_left = item.assignment.left == "plain";
            if want_plain == plain_left { 'h' } else { 'l' }
        } else {
            't'
        };
        let e = h.chars(&key.to_string());
        h.run_all(e);
    }
    let report = loupe::tui::screens::rate::host::owner_report(&h.store, &h.session).unwrap();
    let ana = &report.raters[0];
    assert_eq!((ana.gold_correct, ana.gold_done), (1, 2));
    assert_eq!(ana.gold_accuracy, loupe::eval::stats::rate(1, 2, 0.95));
    assert_eq!((ana.done, ana.assigned), (8, 8));
    assert_eq!(report.gold_ratings, 2);
    // Gold items stay out of the win rates.
    let decided: u64 = report
        .stats
        .pairs
        .iter()
        .map(|p| p.first_wins + p.second_wins + p.ties + p.both_bad)
        .sum();
    assert_eq!(decided, 6);
}

#[test]
fn the_owner_view_opens_from_the_workbench_and_starts_a_rater() {
    let mut h = Harness::new(2);
    let e = h.chars("htxt");
    h.run_all(e);
    // A workbench App on the same store: `5` (goto_rate) opens the owner's view.
    let mut w = Harness {
        _dir: tempfile::tempdir().unwrap(),
        store: h.store.clone(),
        session: h.session.clone(),
        state: State::new(h.session.clone()),
        keymap: Keymap::default(),
    };
    let e = w.key(KeyCode::Char('5'));
    w.run_all(e);
    let text = w.text(100, 40);
    assert!(text.contains("owner's view"), "{text}");
    assert!(text.contains("ana") && text.contains("4/4"), "{text}");
    assert!(text.contains("Agreement on verdicts"), "{text}");
    assert!(text.contains("Win rates"), "{text}");
    insta::assert_snapshot!("owner_view_100x40", w.render(100, 40).backend());
    // R asks for a name and opens the rating screen for it; esc comes back.
    w.chars("Rbo");
    assert!(w.text(100, 40).contains("rate as: bo"));
    let e = w.key(KeyCode::Enter);
    w.run_all(e);
    assert_eq!(w.screen().rater, "bo");
    assert_eq!(w.screen().items.len(), 4);
    assert!(!w.screen().fixed);
    let e = w.key(KeyCode::Esc);
    w.run_all(e);
    assert!(w.state.rating.is_none());
    assert!(w.state.owner.is_some());
    assert!(!w.state.quit);
    // Esc closes the view; other keys go back to the workbench.
    w.key(KeyCode::Esc);
    assert!(w.state.owner.is_none());
}

#[test]
fn labels_take_one_key_each_are_saved_with_the_rating_and_come_back_on_undo() {
    let mut h = Harness::new(2);
    let item = h.screen().current.unwrap();
    let (left, right) = {
        let it = &h.screen().items[item];
        (it.assignment.left.clone(), it.right().to_owned())
    };
    // `[` opens the left side's labels, `1` toggles hallucination, `]` moves to the right
    // side, `2` formatting_error, `5` off_task, and `5` again takes it back off.
    assert!(h.chars("[1]255").is_empty());
    assert_eq!(
        h.screen().picking,
        Some(loupe::tui::screens::rate::Side::Right)
    );
    assert!(h.text(100, 30).contains("Labels of the right output"));
    // A verdict key while the picker is open does nothing: esc closes it first.
    assert!(h.chars("h").is_empty());
    h.key(KeyCode::Esc);
    assert_eq!(h.screen().picking, None);
    let text = h.text(100, 30);
    assert!(
        text.contains("formatting_error"),
        "shown on the pane: {text}"
    );
    let e = h.chars("l");
    let record = save_of(&e);
    assert_eq!(record.labels[&left], ["hallucination"]);
    assert_eq!(record.labels[&right], ["formatting_error"]);
    h.run_all(e);
    let stored = h.store.ratings("rate-test").next().unwrap().unwrap();
    assert_eq!(stored.labels, record.labels, "flushed with the rating");
    // Undo brings the labels back into the draft.
    let e = h.chars("u");
    h.run_all(e);
    assert_eq!(h.store.ratings("rate-test").count(), 0);
    assert_eq!(
        h.screen().draft.labels,
        [
            vec!["hallucination".to_owned()],
            vec!["formatting_error".to_owned()]
        ]
    );
}

#[test]
fn the_rating_keys_come_from_the_keymap() {
    let mut h = Harness::new(2);
    h.keymap = Keymap::default()
        .with_overrides(
            "rate:\n  f: labels_left\n  '[': null\n  a: rate_left\n  h: null\n",
            "mine.yaml",
        )
        .unwrap();
    // `h` no longer gives a verdict; `a` does, and `f` opens the labels.
    assert!(h.chars("h").is_empty());
    assert!(h.chars("[").is_empty());
    assert_eq!(h.screen().picking, None);
    h.chars("f4");
    h.key(KeyCode::Esc);
    let text = h.text(100, 30);
    assert!(
        text.contains(" a left "),
        "the legend shows the rebound key: {text}"
    );
    let record = save_of(&h.chars("a"));
    let left = record.left.clone();
    assert_eq!(record.preferred(), Some(left.as_str()));
    assert_eq!(record.labels[&left], ["unsafe"]);
}

/// Under `rating.schedule: adaptive`, other raters' ratings arriving (the store's watch, as
/// when several rate at once over `loupe serve`) put the rest of the queue in order again:
/// the comparison on screen stays while its pair is open, what comes after it follows
/// them; once they settle its pair, an untouched comparison gives way to a pair still open
/// (one the rater has begun scoring stays).
#[test]
fn others_ratings_arriving_reorder_an_adaptive_queue() {
    let (mut h, bo_rates) = adaptive_with_bo(10);
    let pair_of = |h: &Harness, i: usize| h.screen().items[i].assignment.comparison.a.clone();
    let first = h.screen().current.unwrap();
    assert_eq!(pair_of(&h, first), "plain");
    // Two more from bo (12 to 0): plain/grounded is not settled yet; the watch tells the
    // screen, which asks for the order again, and the comparison on screen stays.
    (10..12).for_each(&bo_rates);
    let effects = h.deliver(RateMsg::RatingsChanged);
    assert!(
        matches!(effects.as_slice(), [Effect::Rate(RateEffect::Reorder(_))]),
        "{effects:?}"
    );
    assert!(h.run_all(effects).is_empty());
    assert_eq!(
        h.screen().current,
        Some(first),
        "the comparison on screen stays"
    );
    assert!(!h.text(100, 30).contains("moved on"));
    // Two more (14 to 0) and plain/grounded may stop: judging it no longer moves the
    // decision, so the untouched comparison on screen gives way to the pair still open.
    (12..14).for_each(&bo_rates);
    let effects = h.deliver(RateMsg::RatingsChanged);
    assert!(h.run_all(effects).is_empty());
    let moved = h.screen().current.unwrap();
    assert_ne!(moved, first);
    assert_eq!(pair_of(&h, moved), "grounded", "the pair still open");
    let text = h.text(100, 30);
    assert!(
        h.text(80, 24)
            .contains("moved on: the last one is settled by others' ratings; it comes back later"),
        "whole at 80 columns: {text}"
    );
    assert!(
        !text.contains("plain") && !text.contains("grounded"),
        "the notice names no variant: {text}"
    );
    // The one it left comes back after the open pair's comparisons.
    let order = &h.screen().order;
    let back = order.iter().position(|&i| i == first).unwrap();
    assert!(
        order[..back]
            .iter()
            .filter(|&&i| !h.screen().done[i])
            .all(|&i| h.screen().items[i].assignment.comparison.a == "grounded"),
        "the settled pair after the open one"
    );
    // What comes next is the pair still open: grounded/tuned.
    h.chars("s");
    let next = h.screen().current.unwrap();
    assert_eq!(
        pair_of(&h, next),
        "grounded",
        "the order follows bo's ratings"
    );
    // A later answer wins over an older one that arrives late, and a stale answer's
    // settled pairs move nothing (here: it says the pair on screen is settled).
    let on_screen = h.screen().current;
    let c = &h.screen().items[next].assignment.comparison;
    let stale = loupe::tui::screens::rate::Order {
        ticket: 0,
        comparisons: h
            .screen()
            .items
            .iter()
            .map(|i| i.assignment.comparison.clone())
            .collect(),
        settled: std::collections::HashSet::from([(c.a.clone(), c.b.clone())]),
    };
    let before = h.screen().order.clone();
    h.deliver(RateMsg::Reordered(stale));
    assert_eq!(h.screen().order, before);
    assert_eq!(h.screen().current, on_screen);
}

/// A comparison the rater has begun on (a rubric score given) stays on screen when others'
/// ratings settle its pair: nothing typed is thrown away.
#[test]
fn a_begun_comparison_stays_when_others_settle_its_pair() {
    let (mut h, bo_rates) = adaptive_with_bo(10);
    let first = h.screen().current.unwrap();
    assert!(h.chars("4").is_empty(), "a score is a draft, not a save");
    (10..14).for_each(&bo_rates);
    let effects = h.deliver(RateMsg::RatingsChanged);
    assert!(h.run_all(effects).is_empty());
    assert_eq!(h.screen().current, Some(first));
    assert_eq!(h.screen().draft.scores, [4]);
    assert!(!h.text(100, 30).contains("moved on"));
    // Its verdict (for plain, as bo's) is then saved as usual, and the next comparison is
    // of the open pair.
    let plain_key = if h.screen().items[first].assignment.left == "plain" {
        "h"
    } else {
        "l"
    };
    let e = h.chars(&format!("53{plain_key}"));
    h.run_all(e);
    let next = h.screen().current.unwrap();
    assert_eq!(h.screen().items[next].assignment.comparison.a, "grounded");
}

/// A session of 16 cases, pairs plain/grounded and grounded/tuned, two raters per
/// comparison, `schedule: adaptive`; bo prefers plain to grounded on his first `n`
/// comparisons of that pair (stored as the store stores ratings), then ana opens her queue
/// in the screen. Returns the harness and a function that stores bo's rating number `i` of
/// that pair.
fn adaptive_with_bo(n: usize) -> (Harness, impl Fn(usize)) {
    let dir = tempfile::tempdir().unwrap();
    let (session_path, store_dir) = common::rating::setup(dir.path(), 16, 2, &[]);
    common::rating::set_adaptive(&session_path);
    let session = Arc::new(loupe::session::load(&session_path).unwrap());
    let store = Store::open(&store_dir).unwrap();
    let bo = loupe::rating::open_rater(&store, &session, "bo", None).unwrap();
    let bo_plain: Vec<_> = bo
        .items
        .iter()
        .filter(|i| i.assignment.comparison.a == "plain")
        .map(|i| i.assignment.clone())
        .collect();
    let (bo_store, bo_session) = (store.clone(), session.file.name.clone());
    let bo_rates = move |n: usize| {
        let seq = u32::try_from(n).unwrap();
        bo_store
            .put_rating(&common::rating::verdict(
                &bo_session,
                "bo",
                &bo_plain[n],
                Winner::A,
                seq,
            ))
            .unwrap();
    };
    // bo prefers plain to grounded every time: that pair is the nearest to a decision, so
    // ana's queue opens with it.
    (0..n).for_each(&bo_rates);
    (Harness::open(dir, store, session, "ana"), bo_rates)
}
