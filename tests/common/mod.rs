//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod consumers;
pub mod embed_server;
pub mod mock_judge;
pub mod mock_openai;
pub mod model_server;
pub mod planned;
pub mod rating;
