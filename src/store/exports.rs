//! Exports: one record per `loupe export`, so a store knows which data left it and where.
//!
//! Key scheme of the `exports` tree: the export id, which sorts by time (`20261128-215706-3fa9`,
//! as run ids). The value holds the whole manifest as JSON: the store does not need to know
//! its shape, and an audit reads it back exactly as it was written beside the data.

use serde::{Deserialize, Serialize};

use super::{Result, Store, decode, get, put};

/// One export as recorded in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: String,
    pub session: String,
    /// `sft`, `dpo`, `openai-dpo`, `rubric` or `raw`.
    pub format: String,
    /// The folder the files were written to, as given.
    pub out_dir: String,
    /// sha256 hex of the manifest file written beside the data.
    pub manifest_sha256: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// The manifest, as written.
    pub manifest: serde_json::Value,
    pub created_ms: u64,
}

impl Store {
    /// Records an export and waits until it is on disk.
    pub fn put_export(&self, rec: &ExportRecord) -> Result<()> {
        put(&self.inner.exports, rec.id.as_bytes(), rec)?;
        self.inner.exports.flush()?;
        Ok(())
    }

    pub fn export(&self, id: &str) -> Result<Option<ExportRecord>> {
        get(&self.inner.exports, "exports", id.as_bytes())
    }

    /// Every export, oldest first.
    pub fn exports(&self) -> impl Iterator<Item = Result<ExportRecord>> + use<> {
        self.inner
            .exports
            .iter()
            .values()
            .map(|v| decode("exports", &v?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> ExportRecord {
        ExportRecord {
            id: id.into(),
            session: "s".into(),
            format: "sft".into(),
            out_dir: "out".into(),
            manifest_sha256: "00".into(),
            rows_in: 3,
            rows_out: 2,
            manifest: serde_json::json!({"format": "sft"}),
            created_ms: 1,
        }
    }

    #[test]
    fn exports_round_trip_in_id_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        store
            .put_export(&record("20261128-120000-bbbb"))
            .expect("put");
        store
            .put_export(&record("20261128-110000-aaaa"))
            .expect("put");
        let ids: Vec<String> = store.exports().map(|r| r.expect("decode").id).collect();
        assert_eq!(ids, ["20261128-110000-aaaa", "20261128-120000-bbbb"]);
        let one = store.export("20261128-110000-aaaa").expect("get");
        assert_eq!(one, Some(record("20261128-110000-aaaa")));
        assert_eq!(store.export("nope").expect("get"), None);
    }
}
