//! The rating screen (blind pairwise preference with rubric scores, for one rater) and
//! the owner's view of a rating session, as one self-contained part of the App: its own
//! state ([`state`]), update ([`update`]), drawing ([`draw`]) and effects ([`host`]).
//!
//! The workbench reaches it through a handful of hooks: `State::rate`, `Msg::Rate`,
//! `Effect::Rate`, [`update::on_key`] before the keymap, [`draw::draw`] over the screen,
//! and [`update::start`] for `loupe rate`. It reads its keys itself (see [`update`]), so
//! that digits are rubric scores and letters are verdicts whatever the workbench binds.

pub mod draw;
pub mod host;
pub mod state;
pub mod update;

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
