//! Frozen releases: what `loupe gate` records when a candidate passes.
//!
//! Key scheme of the `releases` tree: `time_be(8) \0 id`, so releases list in time order. A
//! release is written with compare-and-swap against an empty slot and flushed before the
//! gate reports success: it is never overwritten, and never acknowledged unsaved.

use serde::{Deserialize, Serialize};

use super::models::{ModelRecord, RagRecord};
use super::{Result, Store, StoreError, decode, time_key};

/// The RAG configuration a released variant used, frozen as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedRag {
    pub name: String,
    /// The config as the session file had it when the run was made; `None` when the stored
    /// session text no longer parses.
    #[serde(default)]
    pub spec: Option<RagRecord>,
}

/// A variant that passed a gate, with everything needed to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// `rel-20261128-215706-3fa9`.
    pub id: String,
    pub session: String,
    pub session_hash: String,
    pub run_id: String,
    pub variant: String,
    pub baseline: String,
    pub template: String,
    /// blake3 of the template's canonical form.
    pub template_version: String,
    /// The template's canonical form (system, examples, user, schema), frozen.
    #[serde(default)]
    pub template_content: Option<serde_json::Value>,
    pub model_name: String,
    /// Provider, endpoint, model and params; holds only the *name* of a key's env var.
    pub model: ModelRecord,
    #[serde(default)]
    pub rag: Option<ReleasedRag>,
    /// The head to head and the decision, as `loupe gate --format json` printed them.
    pub evidence: serde_json::Value,
    /// For a fine-tuned candidate (`model: tuned:NAME`): its training run as it was when
    /// frozen, naming the data manifest (and through it every training row), the base and
    /// the model file by sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<super::TrainingRunRecord>,
    pub created_ms: u64,
}

impl ReleaseRecord {
    fn key(&self) -> Vec<u8> {
        let mut key = time_key(self.created_ms).to_vec();
        key.push(0);
        key.extend_from_slice(self.id.as_bytes());
        key
    }
}

impl Store {
    /// Records a release and waits until it is on disk. Fails, rather than overwrite,
    /// when a release with the same time and id exists.
    pub fn put_release(&self, rec: &ReleaseRecord) -> Result<()> {
        let bytes = serde_json::to_vec(rec).map_err(|source| StoreError::Decode {
            tree: "releases",
            source,
        })?;
        let swapped =
            self.inner
                .releases
                .compare_and_swap(rec.key(), None::<&[u8]>, Some(bytes))?;
        if swapped.is_err() {
            return Err(StoreError::ReleaseExists(rec.id.clone()));
        }
        self.inner.releases.flush()?;
        Ok(())
    }

    /// Every release, oldest first.
    pub fn releases(&self) -> impl Iterator<Item = Result<ReleaseRecord>> + use<> {
        self.inner
            .releases
            .iter()
            .values()
            .map(|v| decode("releases", &v?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ParamsRecord, ProviderRecord};

    fn release(id: &str, at: u64) -> ReleaseRecord {
        ReleaseRecord {
            id: id.into(),
            session: "s".into(),
            session_hash: "h".into(),
            run_id: "r".into(),
            variant: "few-shot".into(),
            baseline: "zero-shot".into(),
            template: "t".into(),
            template_version: "v".into(),
            template_content: None,
            model_name: "local".into(),
            model: ModelRecord {
                provider: ProviderRecord::Openai,
                base_url: None,
                model: "m".into(),
                params: ParamsRecord::default(),
                api_key_env: None,
                price: None,
                concurrency: None,
                rpm: None,
                timeouts: None,
                retries: None,
                stream: None,
            },
            rag: None,
            evidence: serde_json::json!({"passed": true}),
            training: None,
            created_ms: at,
        }
    }

    #[test]
    fn releases_are_never_overwritten() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Open {
            path: std::path::PathBuf::new(),
            source: e.into(),
        })?;
        let store = Store::open(dir.path())?;
        store.put_release(&release("rel-2", 20))?;
        store.put_release(&release("rel-1", 10))?;
        let mut again = release("rel-2", 20);
        again.variant = "changed".into();
        assert!(matches!(
            store.put_release(&again),
            Err(StoreError::ReleaseExists(id)) if id == "rel-2"
        ));
        let all: Vec<_> = store.releases().collect::<Result<_>>()?;
        let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["rel-1", "rel-2"]);
        assert_eq!(all[1].variant, "few-shot", "the first write stands");
        Ok(())
    }
}
