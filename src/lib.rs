//! Loupe: a terminal workbench for deciding between prompting, RAG and fine-tuning with data.

pub mod cli;
pub mod eval;
pub mod providers;
pub mod sanitize;
pub mod session;
pub mod store;
