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

use crate::rating::Opened;
use crate::rating::owner::OwnerReport;
use crate::store::RatingRecord;

/// Results of rating effects, back into `update`.
#[derive(Debug)]
pub enum RateMsg {
    Opened(Box<Opened>),
    OpenFailed(String),
    /// The rating is on disk (its `at_ms` stamped by the host).
    Saved(RatingRecord),
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
    /// Write a rating and flush it; reports `Saved` only once it is on disk.
    Save(RatingRecord),
    /// Remove a rating and flush.
    Undo(RatingRecord),
    /// Compute the owner's view.
    LoadOwner,
}
