//! Exports: one record per `loupe export`, so a store knows which data left it and where.
//!
//! Key scheme of the `exports` tree: the export id, which sorts by time (`20261128-215706-3fa9`,
//! as run ids). The value holds the whole manifest as JSON: the store does not need to know
//! its shape, and an audit reads it back exactly as it was written beside the data.

use serde::{Deserialize, Serialize};

use super::{CellKey, OUTPUTS, OutputRecord, Result, Store, decode, get, put};

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

    /// A run's outputs in key order, after `after` (exclusive) when given, read lazily.
    /// An export reads a run in strides, closing the store between them and going on after
    /// the last key it saw: sled 0.34 keeps every page a scan touched in memory whatever its
    /// cache capacity, so one long scan of 100k outputs would hold them all.
    pub fn outputs_after(
        &self,
        run_id: &str,
        after: Option<&CellKey>,
    ) -> impl Iterator<Item = Result<OutputRecord>> + use<> {
        let prefix = CellKey::run_prefix(run_id);
        let after = after.map(CellKey::encode);
        let start = after.clone().unwrap_or_else(|| prefix.clone());
        self.inner
            .outputs
            .range(start..)
            .take_while(move |item| match item {
                Ok((key, _)) => key.starts_with(&prefix),
                Err(_) => true,
            })
            .filter(move |item| match item {
                Ok((key, _)) => after.as_deref() != Some(key.as_ref()),
                Err(_) => true,
            })
            .map(|item| decode(OUTPUTS, &item?.1))
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

    #[test]
    fn outputs_come_in_strides_in_key_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let output = |run: &str, case: &str| OutputRecord {
            run_id: run.into(),
            variant: "v".into(),
            case_id: case.into(),
            repeat: 0,
            text: case.into(),
            usage: crate::spec::Usage::default(),
            latency_ms: 0,
            ttft_ms: None,
            cost_usd: None,
            cached: false,
            attempts: 1,
            finish_reason: None,
            error: None,
            request_hash: String::new(),
            checks: Vec::new(),
            schema_attempts: Vec::new(),
            passages: Vec::new(),
            finished_ms: 0,
        };
        for case in ["c1", "c2", "c3", "c4", "c5"] {
            store.put_output(&output("r", case)).expect("put");
        }
        store.put_output(&output("r2", "c0")).expect("put");
        // In strides of two, each going on after the last key of the one before.
        let mut seen = Vec::new();
        let mut after: Option<CellKey> = None;
        loop {
            let stride: Vec<OutputRecord> = store
                .outputs_after("r", after.as_ref())
                .take(2)
                .collect::<Result<_>>()
                .expect("outputs");
            let Some(last) = stride.last() else { break };
            after = Some(last.key());
            seen.extend(stride.into_iter().map(|o| o.case_id));
        }
        assert_eq!(seen, ["c1", "c2", "c3", "c4", "c5"]);
        let all: Vec<String> = store
            .outputs_after("r", None)
            .map(|o| o.expect("output").case_id)
            .collect();
        assert_eq!(
            all,
            ["c1", "c2", "c3", "c4", "c5"],
            "stops at the run's end"
        );
    }
}
