//! The rating screen: blind pairwise preference with rubric scores, for one rater. Its
//! state ([`state`]), update ([`update`]), drawing ([`view`]) and store work ([`host`]).
//!
//! The App reaches it through `State::rating`, `Msg::Rate`, `Effect::Rate`, the rating
//! layer of `tui::layers` (keys and painting), and [`update::start`] for `loupe rate`. Its
//! effects and messages also carry the owner's view's (`screens::owner`) store work.

pub mod host;
pub mod state;
pub mod update;
pub mod view;

pub use state::*;

use std::collections::HashSet;
use std::sync::Arc;

use crate::rating::Opened;
use crate::rating::owner::OwnerReport;
use crate::store::{Assignment, ComparisonKey, RatingRecord};

/// What the host needs to put an adaptive queue in order again (`rating.schedule:
/// adaptive`): the rater, their queue and its calibration sample (fixed while the screen is
/// open, so shared), and a ticket that says which answer is the latest asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Reorder {
    pub rater: String,
    pub queue: Arc<[Assignment]>,
    pub sample: Arc<HashSet<ComparisonKey>>,
    pub ticket: u64,
}

/// A queue's new order: its comparisons, first to be shown first, and the pairs the
/// ratings already settle (see `rating::Reordered`).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub ticket: u64,
    pub comparisons: Vec<ComparisonKey>,
    pub settled: HashSet<(String, String)>,
}

/// Results of rating effects, back into `update`.
#[derive(Debug)]
pub enum RateMsg {
    Opened(Box<Opened>),
    OpenFailed(String),
    /// The rating is on disk (its `at_ms` stamped by the host); with the queue's new order
    /// when it is adaptive (none if that could not be worked out: the old one stands).
    Saved(RatingRecord, Option<Order>),
    /// An adaptive queue's order from the ratings now in the store.
    Reordered(Order),
    SaveFailed(String),
    /// The rating's removal is on disk.
    Undone(RatingRecord),
    UndoFailed(String),
    OwnerLoaded(Box<OwnerReport>),
    OwnerFailed(String),
    /// Someone in this process saved or undid a rating (the owner's view refreshes).
    RatingsChanged,
}

/// Store work the rating screen asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum RateEffect {
    /// Open (or create) the rater's queue.
    Open { rater: String, run: Option<String> },
    /// Write a rating and flush it; reports `Saved` only once it is on disk, with the
    /// queue's new order when a `Reorder` is given (worked out after the write, so it
    /// counts this rating).
    Save(RatingRecord, Option<Reorder>),
    /// Work out an adaptive queue's order again (others' ratings arrived).
    Reorder(Reorder),
    /// Remove a rating and flush.
    Undo(RatingRecord),
    /// Compute the owner's view.
    LoadOwner,
}
