//! One set of model clients for the whole process, so a model's limits hold across
//! everything the process does at once: every App, `loupe run`, the judge, RAG index
//! builds and embedding calls.
//!
//! Clients are keyed by what a session says about the model. Two model specs that name the
//! same endpoint (provider, base URL, model, API key variable) with the same
//! `concurrency` and `rpm` share one [`Limits`], whatever their names, params or prices
//! (those go in each request, not in the client); a spec with other limits gets limits of
//! its own. Specs that also agree on timeouts, retries and streaming share the client
//! itself (its HTTP connections too).
//!
//! Chat and embedding requests both go through the [`Client`] from [`ModelPool::client`]
//! (`Client::complete` and `Client::embed`), so an embedding model named in a RAG config
//! gets its client the same way as a chat model:
//!
//! ```ignore
//! let embedder = services.models().client(&embedding_model_spec)?;
//! let batch = embedder.embed(&request, &cancel).await?;
//! ```
//!
//! Any other kind of client for a model is kept with [`ModelPool::shared`], which hands
//! the builder the model's shared `Limits` (its requests wait on `limits.slot()` and
//! `limits.pace()`).
//!
//! A client is built once per spec and kind and cloned out after that, so every request
//! to one spec, chat or embeddings, counts against one concurrency and one
//! requests-per-minute window. A client built straight with `Client::new` has
//! limits of its own and is for tests and one-off tools.
//!
//! Chat clients of one endpoint (provider and base URL) also share its [`Reachability`]:
//! when the server goes away, every model it serves pauses together and one probe finds
//! it back.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::client::{Client, Settings};
use super::error::ProviderError;
use super::limits::Limits;
use super::protocol::trim_base;
use super::reachability::{ReachPolicy, Reachability};
use crate::spec::{ModelSpec, ProviderKind};

/// Which limits a spec is bounded by: the endpoint and the numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LimitKey {
    provider: ProviderKind,
    base_url: Option<String>,
    model: String,
    api_key_env: Option<String>,
    concurrency: u32,
    rpm: Option<u32>,
}

/// Which client serves a spec: its limits, how it talks (timeouts, retries, streaming),
/// and the kind of client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    limits: LimitKey,
    settings: Settings,
    kind: TypeId,
}

fn limit_key(spec: &ModelSpec, settings: &Settings) -> LimitKey {
    LimitKey {
        provider: spec.provider,
        base_url: spec
            .base_url
            .as_deref()
            .map(|b| trim_base(b.trim()).to_owned()),
        model: spec.model.clone(),
        api_key_env: spec.api_key_env.clone(),
        concurrency: settings.concurrency,
        rpm: settings.rpm,
    }
}

/// The process's model clients; see the module documentation.
#[derive(Default)]
pub struct ModelPool {
    limits: Mutex<HashMap<LimitKey, Limits>>,
    clients: Mutex<HashMap<ClientKey, Box<dyn Any + Send + Sync>>>,
    /// By provider and base URL.
    reach: Mutex<HashMap<(ProviderKind, String), Reachability>>,
    policy: ReachPolicy,
}

impl ModelPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// A pool whose endpoints count as down, are probed and are given up on by `policy`
    /// instead of the defaults (tests use short waits).
    pub fn with_reach_policy(policy: ReachPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// The reachability every chat client of `spec`'s endpoint shares (made on first use).
    pub fn reachability(&self, spec: &ModelSpec) -> Reachability {
        let base = spec
            .base_url
            .as_deref()
            .unwrap_or_else(|| super::default_base_url(spec.provider));
        let key = (spec.provider, trim_base(base.trim()).to_owned());
        let mut map = self.reach.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(key)
            .or_insert_with(|| Reachability::new(self.policy))
            .clone()
    }

    /// The limits every client for `spec` shares (made on first use).
    pub fn limits(&self, spec: &ModelSpec) -> Limits {
        let settings = Settings::from_spec(spec);
        // A poisoned map is still a valid map: the panic happened outside any insert.
        let mut map = self.limits.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(limit_key(spec, &settings))
            .or_insert_with(|| Limits::new(settings.concurrency, settings.rpm))
            .clone()
    }

    /// The chat client for `spec`, built on first use (an error, such as a missing API
    /// key, is returned each time and nothing is kept).
    pub fn client(&self, spec: &ModelSpec) -> Result<Client, ProviderError> {
        self.shared(spec, |spec, limits| {
            Ok(Client::with_limits(spec, limits)?.with_reachability(self.reachability(spec)))
        })
    }

    /// The client of type `C` for `spec`: the one built before, or `build(spec, limits)`
    /// with the spec's shared limits, kept for next time.
    pub fn shared<C, F>(&self, spec: &ModelSpec, build: F) -> Result<C, ProviderError>
    where
        C: Clone + Send + Sync + 'static,
        F: FnOnce(&ModelSpec, Limits) -> Result<C, ProviderError>,
    {
        let settings = Settings::from_spec(spec);
        let key = ClientKey {
            limits: limit_key(spec, &settings),
            settings,
            kind: TypeId::of::<C>(),
        };
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = clients.get(&key).and_then(|c| c.downcast_ref::<C>()) {
            return Ok(c.clone());
        }
        // Built under the lock so two callers racing for one model cannot make two
        // clients; building reads an env var and sets up an HTTP client, no I/O.
        let client = build(spec, self.limits(spec))?;
        clients.insert(key, Box::new(client.clone()));
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ModelSpec {
        serde_yaml::from_str(yaml).expect("a model spec")
    }

    #[test]
    fn one_model_one_set_of_limits() {
        let pool = ModelPool::new();
        let a = spec("{provider: openai, base_url: 'http://h:1/v1', model: m, concurrency: 2}");
        // Another name's params and trailing slash: the same model, the same limits.
        let b = spec(
            "{provider: openai, base_url: 'http://h:1/v1/', model: m, concurrency: 2, \
             params: {temperature: 0.5}}",
        );
        let other_model =
            spec("{provider: openai, base_url: 'http://h:1/v1', model: n, concurrency: 2}");
        let other_limit =
            spec("{provider: openai, base_url: 'http://h:1/v1', model: m, concurrency: 3}");
        let ca = pool.client(&a).expect("client");
        let cb = pool.client(&b).expect("client");
        assert!(ca.limits().same_as(cb.limits()));
        assert!(ca.limits().same_as(&pool.limits(&a)));
        assert!(
            !ca.limits()
                .same_as(pool.client(&other_model).expect("c").limits())
        );
        let c3 = pool.client(&other_limit).expect("client");
        assert!(!ca.limits().same_as(c3.limits()));
        // One server: one reachability, whatever the model or limits.
        assert!(ca.reachability().same_as(c3.reachability()));
        assert!(
            ca.reachability()
                .same_as(pool.client(&other_model).expect("c").reachability())
        );
        let elsewhere = spec("{provider: openai, base_url: 'http://h:2/v1', model: m}");
        assert!(
            !ca.reachability()
                .same_as(pool.client(&elsewhere).expect("c").reachability())
        );
        assert_eq!(c3.limits().concurrency(), 3);
        // A client made outside the pool has limits of its own.
        assert!(!ca.limits().same_as(Client::new(&a).expect("c").limits()));
    }

    #[test]
    fn other_kinds_of_client_share_the_limits_and_are_built_once() {
        #[derive(Clone)]
        struct Embedder(Limits);
        let pool = ModelPool::new();
        let s = spec("{provider: openai, base_url: 'http://h:1/v1', model: e, rpm: 60}");
        let mut built = 0;
        for _ in 0..3 {
            let e = pool
                .shared(&s, |_, limits| {
                    built += 1;
                    Ok(Embedder(limits))
                })
                .expect("built");
            assert!(e.0.same_as(pool.client(&s).expect("chat").limits()));
        }
        assert_eq!(built, 1);
    }

    #[test]
    fn a_missing_key_is_an_error_each_time() {
        let pool = ModelPool::new();
        let s = spec("{provider: openai, model: m, api_key_env: LOUPE_TEST_POOL_UNSET_KEY}");
        for _ in 0..2 {
            assert!(matches!(
                pool.client(&s),
                Err(ProviderError::MissingKey { .. })
            ));
        }
    }
}
