//! The rating screen's state: plain data.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::diff::DiffLines;
use crate::rating::Item;
use crate::session::RubricDim;
use crate::store::{Assignment, ComparisonKey, RatingRecord};
use crate::tui::input::Key;

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Loading,
    Ready,
    /// The queue could not be opened; the text says why.
    Failed(String),
}

/// How the two outputs share the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrange {
    /// Side by side when the screen is wide enough, else stacked.
    Auto,
    SideBySide,
    Stacked,
}

/// A store write the screen waits for before it moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// A rating of this item is being written.
    Save(usize),
    /// The last rating is being removed.
    Undo,
}

/// What the rater gave on the comparison on screen, before the verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    /// Rubric scores in entry order: every dimension for the left, then for the right.
    pub scores: Vec<u8>,
    pub note: Option<String>,
    /// Failure-mode labels of the left output, then the right, in the order given.
    pub labels: [Vec<String>; 2],
}

/// A side of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }
}

/// An adaptive queue's fixed parts, and which of the orders asked for is the latest.
#[derive(Debug, Clone)]
pub struct Adaptive {
    pub queue: Arc<[Assignment]>,
    pub sample: Arc<HashSet<ComparisonKey>>,
    /// Tickets of the last order asked for and the last one applied: an answer older than
    /// the one applied is dropped.
    pub asked: u64,
    pub applied: u64,
}

pub struct RatingScreen {
    pub session: String,
    pub rater: String,
    /// Started as `loupe rate`: the screen is the whole App and `q` leaves it.
    pub fixed: bool,
    pub run: Option<String>,
    pub phase: Phase,
    pub rubric: Vec<RubricDim>,
    /// The rater's queue, as opened (indices into it stay put: `done`, `history`,
    /// `skipped`, `current`).
    pub items: Vec<Item>,
    /// The order the items are offered in: all of `items`' indices. The adaptive schedule
    /// changes it after each rating; otherwise it is the queue's.
    pub order: Vec<usize>,
    /// Under `rating.schedule: adaptive`: the queue and its calibration sample, as the host
    /// needs them to work the order out again.
    pub adaptive: Option<Adaptive>,
    /// Per item: rated (on disk).
    pub done: Vec<bool>,
    /// Ratings on disk from this rater, oldest first, with their item: what undo removes.
    pub history: Vec<(usize, RatingRecord)>,
    /// Items put off with skip, in the order skipped; they come back after the rest.
    pub skipped: Vec<usize>,
    /// The item on screen.
    pub current: Option<usize>,
    /// Whether the queue's order put it there (not undo bringing it back): only then may it
    /// give way to a pair still open when others' ratings settle its own.
    pub from_order: bool,
    /// `State::now_ms` when the current item appeared.
    pub shown_at_ms: u64,
    pub draft: Draft,
    /// The note being typed, when the note line is open.
    pub note_edit: Option<String>,
    pub pending: Option<Pending>,
    /// Keys typed while a write was in flight, replayed when it is done.
    pub deferred: VecDeque<Key>,
    pub saved_mark: bool,
    /// A message for the rater (a failed write, an undo), with whether it is an error.
    pub message: Option<(String, bool)>,
    pub show_inputs: bool,
    pub arrange: Arrange,
    pub word_diff: bool,
    pub diff: Option<Arc<DiffLines>>,
    pub scroll: u16,
    pub help: bool,
    /// Leave once the write in flight is done.
    pub leaving: bool,
    /// Comparisons of the run left out (an output missing or failed).
    pub left_out: usize,
    /// The failure-mode labels the session offers, in picker order.
    pub labels: Vec<String>,
    /// The label picker, open for this side.
    pub picking: Option<Side>,
}

impl RatingScreen {
    pub fn new(session: &str, rater: &str, run: Option<String>, rubric: Vec<RubricDim>) -> Self {
        Self {
            session: session.to_owned(),
            rater: rater.to_owned(),
            fixed: false,
            run,
            phase: Phase::Loading,
            rubric,
            items: Vec::new(),
            order: Vec::new(),
            adaptive: None,
            done: Vec::new(),
            history: Vec::new(),
            skipped: Vec::new(),
            current: None,
            from_order: false,
            shown_at_ms: 0,
            draft: Draft::default(),
            note_edit: None,
            pending: None,
            deferred: VecDeque::new(),
            saved_mark: false,
            message: None,
            show_inputs: true,
            arrange: Arrange::Auto,
            word_diff: false,
            diff: None,
            scroll: 0,
            help: false,
            leaving: false,
            left_out: 0,
            labels: crate::rating::labels::BUILT_IN
                .iter()
                .map(|l| (*l).to_owned())
                .collect(),
            picking: None,
        }
    }

    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|d| **d).count()
    }

    pub fn item(&self) -> Option<&Item> {
        self.items.get(self.current?)
    }

    /// Rubric slots: every dimension for the left, then for the right.
    pub fn slots(&self) -> usize {
        self.rubric.len() * 2
    }
}
