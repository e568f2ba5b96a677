//! The rating screen's and the owner's view's `update`.
//!
//! Keys of the rating screen come from the keymap's `rate` section (falling back to
//! `global`), so each can be rebound; the defaults:
//!
//! | key | action | does |
//! | --- | --- | --- |
//! | `h` `←` | `rate_left` (`left`) | left is better |
//! | `l` `→` | `rate_right` (`right`) | right is better |
//! | `t` `=` | `rate_tie` | tie |
//! | `x` | `rate_both_bad` | both are bad |
//! | `1`..`9` (`0` = 10) | (fixed) | next rubric score: each dimension for the left, then the right |
//! | `backspace` | `take_back_score` | take back the last score |
//! | `[` `]` | `labels_left`, `labels_right` | failure-mode labels of a side: one key per label toggles it, esc or enter closes |
//! | `n` | `write_note` | write a note (enter keeps it, esc drops it) |
//! | `u` | `undo_rating` | undo the last rating |
//! | `s` | `skip_comparison` | skip: this comparison comes back after the others |
//! | `w` `i` `v` | `toggle_word_diff`, `toggle_inputs`, `cycle_layout` | word diff, case inputs, side by side or stacked |
//! | `j` `k` `pgdn` `pgup` | `down`, `up`, `page_down`, `page_up` | scroll the outputs |
//! | `?` | `help` | help |
//! | `q` `ctrl-c` | `quit` | leave (`esc` = `back` too, from the workbench) |
//!
//! A verdict without scores is one key; with three dimensions for both sides, seven; a
//! label adds two (open the side's labels, the label's key). The verdict, its scores and
//! labels are written and flushed before the next comparison shows; keys typed while a
//! write is in flight wait and are replayed after it, in order.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::state::{Adaptive, Arrange, Draft, Pending, Phase, RatingScreen, Side};
use super::{Order, RateEffect, RateMsg, Reorder};
use crate::diff::DiffMode;
use crate::store::{RatingRecord, Winner};
use crate::tui::action::Action;
use crate::tui::input::{Key, KeyCode, Modifiers};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::msg::Effect;
use crate::tui::state::State;

/// Longest output pair the word diff is computed for inside `update` (a few ms at most).
const MAX_DIFF_CHARS: usize = 20_000;
const MAX_NOTE_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Left,
    Right,
    Tie,
    BothBad,
}

fn fx(e: RateEffect) -> Vec<Effect> {
    vec![Effect::Rate(e)]
}

/// Opens the rating screen for `rater`. `fixed`: the screen is the whole App (`loupe
/// rate`), and leaving it quits.
pub fn start(state: &mut State, rater: &str, run: Option<String>, fixed: bool) -> Vec<Effect> {
    let mut screen = RatingScreen::new(
        &state.session.file.name,
        rater,
        run.clone(),
        state.session.file.rubric.clone(),
    );
    screen.fixed = fixed;
    screen.labels = crate::rating::labels::of_session(&state.session);
    state.rating = Some(screen);
    fx(RateEffect::Open {
        rater: rater.to_owned(),
        run,
    })
}

/// Keys go here before the workbench's keymap. `None`: not ours, handle as usual.
pub fn on_key(state: &mut State, keymap: &Keymap, key: Key) -> Option<Vec<Effect>> {
    state
        .rating
        .is_some()
        .then(|| screen_key(state, keymap, key))
}

/// Pasted text goes into the note being typed. `true` when it was taken.
pub fn on_paste(state: &mut State, text: &str) -> bool {
    if let Some(s) = &mut state.rating {
        if let Some(note) = &mut s.note_edit {
            push_note(note, text);
        }
        return true;
    }
    false
}

fn push_note(note: &mut String, text: &str) {
    for c in text.chars() {
        if note.chars().count() >= MAX_NOTE_CHARS {
            break;
        }
        note.push(if c.is_control() { ' ' } else { c });
    }
}

fn is_ctrl_c(key: &Key) -> bool {
    key.is_ctrl('c')
}

fn screen_key(state: &mut State, keymap: &Keymap, key: Key) -> Vec<Effect> {
    let action = keymap.lookup(Context::Rate, &key);
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    if s.pending.is_some() {
        let quits = action == Some(Action::Quit) && s.note_edit.is_none() && s.picking.is_none();
        if is_ctrl_c(&key) || quits {
            s.leaving = true;
        } else {
            s.deferred.push_back(key);
        }
        return Vec::new();
    }
    if is_ctrl_c(&key) {
        return leave(state);
    }
    if let Some(note) = &mut s.note_edit {
        match key.code {
            KeyCode::Enter => {
                let text = note.trim().to_owned();
                s.draft.note = (!text.is_empty()).then_some(text);
                s.note_edit = None;
            }
            KeyCode::Esc => s.note_edit = None,
            KeyCode::Backspace => {
                note.pop();
            }
            KeyCode::Char(c) if !key.mods.contains(Modifiers::CTRL) => {
                push_note(note, &c.to_string());
            }
            _ => {}
        }
        return Vec::new();
    }
    if s.help {
        s.help = false;
        return Vec::new();
    }
    if s.phase != Phase::Ready {
        if matches!(action, Some(Action::Quit | Action::Back)) || key.code == KeyCode::Esc {
            return leave(state);
        }
        return Vec::new();
    }
    if let Some(side) = s.picking {
        pick_label(s, side, action, key);
        return Vec::new();
    }
    // Digits are rubric scores whatever the keymap says: a score is its own digit.
    if let KeyCode::Char(d @ '0'..='9') = key.code
        && !key.mods.contains(Modifiers::CTRL)
    {
        score(s, d);
        return Vec::new();
    }
    let Some(action) = action else {
        return Vec::new();
    };
    match action {
        Action::RateLeft | Action::Left => return verdict(state, Verdict::Left),
        Action::RateRight | Action::Right => return verdict(state, Verdict::Right),
        Action::RateTie => return verdict(state, Verdict::Tie),
        Action::RateBothBad => return verdict(state, Verdict::BothBad),
        Action::TakeBackScore => {
            s.draft.scores.pop();
        }
        Action::WriteNote if s.current.is_some() => {
            s.note_edit = Some(s.draft.note.clone().unwrap_or_default());
        }
        Action::LabelsLeft if s.current.is_some() => s.picking = Some(Side::Left),
        Action::LabelsRight if s.current.is_some() => s.picking = Some(Side::Right),
        Action::UndoRating => return undo(s),
        Action::SkipComparison => skip(s, state.now_ms),
        Action::ToggleWordDiff => {
            s.word_diff = !s.word_diff;
            refresh_diff(s);
        }
        Action::ToggleInputs => s.show_inputs = !s.show_inputs,
        Action::CycleLayout => {
            s.arrange = match s.arrange {
                Arrange::Auto => Arrange::SideBySide,
                Arrange::SideBySide => Arrange::Stacked,
                Arrange::Stacked => Arrange::Auto,
            };
        }
        Action::Down => s.scroll = s.scroll.saturating_add(1),
        Action::Up => s.scroll = s.scroll.saturating_sub(1),
        Action::PageDown => s.scroll = s.scroll.saturating_add(10),
        Action::PageUp => s.scroll = s.scroll.saturating_sub(10),
        Action::Help => s.help = true,
        Action::Quit => return leave(state),
        Action::Back if !s.fixed => return leave(state),
        Action::Back => {
            s.draft = Draft::default();
            s.message = None;
        }
        _ => {}
    }
    Vec::new()
}

/// A key in the label picker: a label's own key toggles it on the side; the other side's
/// labels key switches sides; esc, enter or the same side's key closes it.
fn pick_label(s: &mut RatingScreen, side: Side, action: Option<Action>, key: Key) {
    match (action, key.code) {
        (Some(Action::LabelsLeft), _) if side == Side::Right => s.picking = Some(Side::Left),
        (Some(Action::LabelsRight), _) if side == Side::Left => s.picking = Some(Side::Right),
        (Some(Action::LabelsLeft | Action::LabelsRight), _)
        | (_, KeyCode::Esc | KeyCode::Enter) => s.picking = None,
        (_, KeyCode::Char(c)) if !key.mods.contains(Modifiers::CTRL) => {
            let Some(index) = crate::rating::labels::KEYS.find(c) else {
                return;
            };
            let Some(label) = s.labels.get(index).cloned() else {
                return;
            };
            let chosen = &mut s.draft.labels[side.index()];
            if let Some(at) = chosen.iter().position(|l| *l == label) {
                chosen.remove(at);
            } else {
                chosen.push(label);
            }
        }
        _ => {}
    }
}

fn score(s: &mut RatingScreen, digit: char) {
    if s.current.is_none() || s.rubric.is_empty() {
        return;
    }
    let slot = s.draft.scores.len();
    if slot >= s.slots() {
        s.message = Some((
            "every score is given: give the verdict (h, l, t, x) or backspace".into(),
            true,
        ));
        return;
    }
    let value = if digit == '0' { 10 } else { digit as u8 - b'0' };
    let dim = &s.rubric[slot % s.rubric.len()];
    if value > dim.scale {
        s.message = Some((format!("{} is scored 1 to {}", dim.key, dim.scale), true));
        return;
    }
    s.message = None;
    s.draft.scores.push(value);
}

fn verdict(state: &mut State, choice: Verdict) -> Vec<Effect> {
    let now = state.now_ms;
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    let Some(i) = s.current else {
        return Vec::new();
    };
    let item = &s.items[i];
    let a = &item.assignment;
    let left = a.left.clone();
    let right = item.right().to_owned();
    let preferred = match choice {
        Verdict::Left => Some(&left),
        Verdict::Right => Some(&right),
        Verdict::Tie | Verdict::BothBad => None,
    };
    let winner = match (preferred, choice) {
        (Some(p), _) if *p == a.comparison.a => Winner::A,
        (Some(_), _) => Winner::B,
        (None, Verdict::Tie) => Winner::Tie,
        (None, _) => Winner::BothBad,
    };
    let n = s.rubric.len();
    let mut scores: BTreeMap<String, BTreeMap<String, u8>> = BTreeMap::new();
    for (slot, value) in s.draft.scores.iter().enumerate() {
        let variant = if slot < n { &left } else { &right };
        scores
            .entry(variant.clone())
            .or_default()
            .insert(s.rubric[slot % n].key.clone(), *value);
    }
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (variant, chosen) in [&left, &right].into_iter().zip(&s.draft.labels) {
        if !chosen.is_empty() {
            labels.insert(variant.clone(), chosen.clone());
        }
    }
    let record = RatingRecord {
        session: s.session.clone(),
        rater: s.rater.clone(),
        comparison: a.comparison.clone(),
        left,
        winner,
        scores,
        note: s.draft.note.clone(),
        labels,
        gold: a.gold,
        elapsed_ms: now.saturating_sub(s.shown_at_ms),
        at_ms: 0,
        seq: s.history.len() as u32,
    };
    s.pending = Some(Pending::Save(i));
    s.saved_mark = false;
    s.message = None;
    let reorder = reorder_request(s);
    fx(RateEffect::Save(record, reorder))
}

/// Under the adaptive schedule, what the host needs to work out the queue's order again,
/// with a new ticket.
fn reorder_request(s: &mut RatingScreen) -> Option<Reorder> {
    let a = s.adaptive.as_mut()?;
    a.asked += 1;
    Some(Reorder {
        rater: s.rater.clone(),
        queue: a.queue.clone(),
        sample: a.sample.clone(),
        ticket: a.asked,
    })
}

/// Takes an adaptive order from the host, unless a later one was applied already; says
/// whether it did. The comparison on screen stays; the order says what comes after it.
/// Items the order does not name keep their place after those it does.
fn apply_order(s: &mut RatingScreen, order: &Order) -> bool {
    let Some(a) = &mut s.adaptive else {
        return false;
    };
    if order.ticket < a.applied {
        return false;
    }
    a.applied = order.ticket;
    if order.comparisons.is_empty() {
        return false;
    }
    let at: std::collections::HashMap<&crate::store::ComparisonKey, usize> = s
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (&it.assignment.comparison, i))
        .collect();
    let mut placed = vec![false; s.items.len()];
    let mut new = Vec::with_capacity(s.items.len());
    for c in &order.comparisons {
        if let Some(&i) = at.get(c)
            && !placed[i]
        {
            placed[i] = true;
            new.push(i);
        }
    }
    new.extend(s.order.iter().copied().filter(|&i| !placed[i]));
    s.order = new;
    true
}

/// Others' ratings have settled the pair of the comparison on screen (the owner may stop
/// on it): the screen moves on to the first comparison of a pair still open, since a
/// judgement of the settled one no longer moves the decision. Only a comparison the order
/// chose and the rater has not begun on gives way (no score, label or note; not one brought
/// back by undo), and never a gold item or one of the calibration sample; it stays in the
/// queue and comes back after the open pairs.
fn give_way(s: &mut RatingScreen, order: &Order, now: u64) {
    let Some(i) = s.current else {
        return;
    };
    let pair_of = |i: usize| {
        let c = &s.items[i].assignment.comparison;
        (c.a.clone(), c.b.clone())
    };
    let item = &s.items[i];
    let begun = s.draft != Draft::default() || s.note_edit.is_some() || s.picking.is_some();
    if !s.from_order
        || begun
        || s.pending.is_some()
        || s.done[i]
        || item.assignment.gold
        || item.calibration
        || !order.settled.contains(&pair_of(i))
    {
        return;
    }
    let open = s.order.iter().copied().find(|&j| {
        j != i
            && !s.done[j]
            && !s.skipped.contains(&j)
            && !s.items[j].assignment.gold
            && !order.settled.contains(&pair_of(j))
    });
    if let Some(j) = open {
        show(s, Some(j), now);
        s.message = Some((
            "moved on: the last one is settled by others' ratings; it comes back later".into(),
            false,
        ));
    }
}

/// Ratings changed in the process (this rater's or, over `loupe serve`, others'): an
/// adaptive queue asks for its order again, so the next comparison is chosen from every
/// rating so far. A save in flight brings a newer order itself.
pub fn on_ratings_changed(state: &mut State) -> Vec<Effect> {
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    if s.phase != Phase::Ready || s.pending.is_some() {
        return Vec::new();
    }
    reorder_request(s).map_or_else(Vec::new, |r| fx(RateEffect::Reorder(r)))
}

fn undo(s: &mut RatingScreen) -> Vec<Effect> {
    let Some((_, last)) = s.history.last() else {
        s.message = Some(("nothing to undo".into(), false));
        return Vec::new();
    };
    let record = last.clone();
    s.pending = Some(Pending::Undo);
    s.saved_mark = false;
    fx(RateEffect::Undo(record))
}

fn skip(s: &mut RatingScreen, now: u64) {
    let Some(i) = s.current else {
        return;
    };
    s.skipped.retain(|x| *x != i);
    s.skipped.push(i);
    show(s, next(s), now);
    if s.current == Some(i) {
        s.message = Some(("this is the only comparison left".into(), false));
    }
}

/// The next item: the first unrated one in `order` not skipped, else the skipped
/// ones in the order they were skipped.
pub fn next(s: &RatingScreen) -> Option<usize> {
    s.order
        .iter()
        .copied()
        .find(|&i| !s.done[i] && !s.skipped.contains(&i))
        .or_else(|| s.skipped.iter().copied().find(|&i| !s.done[i]))
}

fn show(s: &mut RatingScreen, item: Option<usize>, now: u64) {
    s.current = item;
    s.from_order = true;
    s.picking = None;
    s.shown_at_ms = now;
    s.scroll = 0;
    refresh_diff(s);
}

fn refresh_diff(s: &mut RatingScreen) {
    s.diff = None;
    if !s.word_diff {
        return;
    }
    let Some(item) = s.item() else {
        return;
    };
    if item.left_text.len() + item.right_text.len() > MAX_DIFF_CHARS {
        s.message = Some(("these outputs are too long for a word diff".into(), false));
        return;
    }
    let d = crate::diff::diff(&item.left_text, &item.right_text, DiffMode::Word);
    s.diff = Some(Arc::new(d));
}

fn leave(state: &mut State) -> Vec<Effect> {
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    if s.pending.is_some() {
        s.leaving = true;
        return Vec::new();
    }
    if s.fixed {
        state.quit = true;
        return Vec::new();
    }
    state.rating = None;
    if state.owner.is_some() {
        return fx(RateEffect::LoadOwner);
    }
    Vec::new()
}

pub fn on_msg(state: &mut State, keymap: &Keymap, msg: RateMsg) -> Vec<Effect> {
    let now = state.now_ms;
    match msg {
        RateMsg::OwnerLoaded(_) | RateMsg::OwnerFailed(_) | RateMsg::RatingsChanged => {
            return Vec::new();
        }
        _ => {}
    }
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    match msg {
        RateMsg::Opened(opened) => {
            let opened = *opened;
            s.run = Some(opened.record.run_id.clone());
            s.left_out = opened.left_out;
            s.done = vec![false; opened.items.len()];
            s.order = (0..opened.items.len()).collect();
            s.items = opened.items;
            s.adaptive = opened.adaptive.then(|| Adaptive {
                queue: s.items.iter().map(|it| it.assignment.clone()).collect(),
                sample: Arc::new(
                    s.items
                        .iter()
                        .filter(|it| it.calibration)
                        .map(|it| it.assignment.comparison.clone())
                        .collect(),
                ),
                asked: 0,
                applied: 0,
            });
            for r in opened.ratings {
                if let Some(i) = s
                    .items
                    .iter()
                    .position(|it| it.assignment.comparison == r.comparison)
                {
                    s.done[i] = true;
                    s.history.push((i, r));
                }
            }
            s.phase = Phase::Ready;
            if opened.new && !s.items.is_empty() {
                s.message = Some((
                    format!("{} comparisons are yours to rate", s.items.len()),
                    false,
                ));
            }
            show(s, next(s), now);
            Vec::new()
        }
        RateMsg::OpenFailed(e) => {
            s.phase = Phase::Failed(e);
            Vec::new()
        }
        RateMsg::Saved(record, order) => {
            let Some(Pending::Save(i)) = s.pending else {
                return Vec::new();
            };
            s.pending = None;
            if let Some(order) = order {
                apply_order(s, &order);
            }
            s.done[i] = true;
            s.history.push((i, record));
            s.saved_mark = true;
            s.draft = Draft::default();
            s.skipped.retain(|x| *x != i);
            show(s, next(s), now);
            after_write(state, keymap)
        }
        RateMsg::SaveFailed(e) => {
            s.pending = None;
            s.leaving = false;
            s.deferred.clear();
            s.message = Some((
                format!("NOT saved: {e}. Give the verdict again to retry"),
                true,
            ));
            Vec::new()
        }
        RateMsg::Undone(record) => {
            s.pending = None;
            let Some(pos) = s.history.iter().rposition(|(_, r)| *r == record) else {
                return after_write(state, keymap);
            };
            let (i, r) = s.history.remove(pos);
            s.done[i] = false;
            s.skipped.retain(|x| *x != i);
            show(s, Some(i), now);
            // Asked back by the rater: it does not give way to another pair.
            s.from_order = false;
            s.draft = draft_of(&r, &s.rubric, &s.items[i]);
            s.message = Some((
                "undone: the comparison is back with your scores; give the verdict again".into(),
                false,
            ));
            after_write(state, keymap)
        }
        RateMsg::UndoFailed(e) => {
            s.pending = None;
            s.leaving = false;
            s.deferred.clear();
            s.message = Some((format!("undo failed, the rating stays: {e}"), true));
            Vec::new()
        }
        RateMsg::Reordered(order) => {
            // A stale answer says nothing of what is settled now.
            if apply_order(s, &order) {
                give_way(s, &order, now);
            }
            Vec::new()
        }
        RateMsg::OwnerLoaded(_) | RateMsg::OwnerFailed(_) | RateMsg::RatingsChanged => Vec::new(),
    }
}

/// The scores and note of an undone rating, back as a draft (the longest run of slots
/// from the first that has scores).
fn draft_of(
    r: &RatingRecord,
    rubric: &[crate::session::RubricDim],
    item: &crate::rating::Item,
) -> Draft {
    let mut scores = Vec::new();
    'slots: for variant in [item.assignment.left.as_str(), item.right()] {
        for dim in rubric {
            match r.scores.get(variant).and_then(|m| m.get(&dim.key)) {
                Some(v) => scores.push(*v),
                None => break 'slots,
            }
        }
    }
    let labels_of = |variant: &str| r.labels.get(variant).cloned().unwrap_or_default();
    Draft {
        scores,
        note: r.note.clone(),
        labels: [labels_of(&item.assignment.left), labels_of(item.right())],
    }
}

/// After a write: leave if asked, else replay the keys typed meanwhile until one of
/// them starts another write.
fn after_write(state: &mut State, keymap: &Keymap) -> Vec<Effect> {
    let Some(s) = &mut state.rating else {
        return Vec::new();
    };
    if s.leaving {
        s.leaving = false;
        s.deferred.clear();
        return leave(state);
    }
    let mut effects = Vec::new();
    while let Some(s) = &mut state.rating
        && s.pending.is_none()
        && let Some(key) = s.deferred.pop_front()
    {
        effects.extend(screen_key(state, keymap, key));
    }
    effects
}
