//! What the process owns once and shares with everything it runs: the store handle and
//! the model clients with their limits.
//!
//! One `Services` is made when the process opens its store and handed (as an `Arc`) to
//! every App, `loupe run`, the judge and RAG index builds. Because they all take their
//! model clients from its one [`ModelPool`], a model's `concurrency` and `rpm` hold for
//! the process as a whole: two runs at once (two Apps, or an App and a judge) never send
//! more than the session allows. See [`crate::providers::ModelPool`] for how a client for
//! an embedding model is obtained.

use std::sync::Arc;

use crate::providers::ModelPool;
use crate::store::Store;

pub struct Services {
    store: Store,
    models: ModelPool,
}

impl Services {
    /// The process's services over an open store.
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            models: ModelPool::new(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn models(&self) -> &ModelPool {
        &self.models
    }
}
