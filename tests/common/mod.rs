//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used)]

pub mod checks;
pub mod cli;
pub mod consumers;
pub mod embed_server;
pub mod execute;
pub mod export_fixture;
pub mod http;
pub mod json_server;
pub mod jsonl;
pub mod mock_judge;
pub mod mock_openai;
pub mod mock_script;
pub mod model_server;
pub mod outage_server;
pub mod planned;
pub mod rating;
pub mod records;
pub mod reference;
pub mod tmux;
pub mod tui_harness;
pub mod workbench;
