//! A planned run carried out to its end from a synchronous test.

#![allow(dead_code, clippy::unwrap_used)]

use loupe::runner::{self, Plan, RunOptions};
use loupe::store::{RunStatus, Store};
use tokio_util::sync::CancellationToken;

/// Executes `plan` into `store` with `opts` on a runtime of its own, through a fresh model
/// pool, never cancelled and with its events dropped: the status the run ends in.
pub fn to_end(store: &Store, plan: Plan, opts: RunOptions) -> RunStatus {
    let endpoints = runner::endpoints(&loupe::providers::ModelPool::new(), &plan).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        runner::execute(
            store,
            plan,
            &endpoints,
            opts,
            &CancellationToken::new(),
            &tx,
        )
        .await
        .unwrap()
        .status
    })
}
