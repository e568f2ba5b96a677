//! The run picker: any run of the session, to show in Results and Compare (`R`), or to
//! compare the shown run against (`E`).

pub mod state;
pub mod update;
pub mod view;
