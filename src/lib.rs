//! Loupe: a terminal workbench for deciding between prompting, RAG and fine-tuning with data.

pub mod cli;
pub mod diff;
pub mod eval;
pub mod export;
pub mod providers;
pub mod rag;
pub mod rating;
pub mod report;
pub mod runner;
pub mod sanitize;
pub mod services;
pub mod session;
pub mod spec;
pub mod ssh;
pub mod store;
pub mod template;
pub mod tui;
pub mod tune;
