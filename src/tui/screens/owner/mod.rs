//! The owner's view of a rating session: who rated how much, agreement, the ranking; and
//! from it, rating as someone (`R`).

pub mod state;
pub mod update;
pub mod view;
