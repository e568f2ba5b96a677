//! The manifest written beside an export's data: where every row came from, what was done
//! to the rows, and how to check that the files are the ones written.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Counts;
use super::files::FileEntry;
use crate::session::{Params, Price, ProviderKind};
use crate::store::{RunRecord, RunVariant, format_time};

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub export_id: String,
    pub loupe_version: &'static str,
    pub format: &'static str,
    /// UTC, `2026-11-28 21:57:06`.
    pub created: String,
    pub created_ms: u64,
    pub session: SessionInfo,
    pub runs: Vec<RunInfo>,
    pub variants: Vec<VariantInfo>,
    /// Template version hash -> template name, for every version the runs used.
    pub template_versions: BTreeMap<String, String>,
    /// Raters whose ratings were read (names as the store has them).
    pub raters: Vec<String>,
    pub filters: Filters,
    pub hygiene: Hygiene,
    pub counts: Counts,
    pub duplicates_removed: Duplicates,
    /// Placeholders written, by kind (`email`, `phone`, `card`, `ip`, `iban`, `secret`, and
    /// `api_key` for a key the session names, replaced even with `--no-redact`).
    pub redactions: BTreeMap<&'static str, u64>,
    pub files: Vec<FileEntry>,
    pub notes: Vec<String>,
    /// What each RAG variant retrieved from: its config as the session says it now and
    /// the corpus snapshots (paths and content hashes) its outputs' passages came from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rag: Vec<RagInfo>,
    /// sft: `outputs` (of runs) or `references` (cases' reference answers).
    pub source: &'static str,
    /// Where each fine-tuned variant's model came from (`model: tuned:NAME`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub training: Vec<crate::tune::Lineage>,
    /// With `source: references`: the cases and the variant that rendered their prompts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<ReferencesInfo>,
}

/// What a `--from references` export read.
#[derive(Debug, Clone, Serialize)]
pub struct ReferencesInfo {
    pub variant: String,
    pub template: String,
    pub template_version: String,
    pub cases: CasesFileInfo,
}

/// A cases file (or the session file, for its own cases) as read.
#[derive(Debug, Clone, Serialize)]
pub struct CasesFileInfo {
    pub path: String,
    pub sha256: String,
    pub rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RagInfo {
    pub run_id: String,
    pub variant: String,
    pub config: String,
    /// `None` when the session no longer has the config.
    pub spec: Option<crate::store::RagRecord>,
    pub corpora: Vec<crate::store::CorpusRecord>,
}

/// The RAG part of a manifest for `runs`.
pub fn rag_info(
    store: &crate::store::Store,
    session: &crate::session::Session,
    runs: &[RunRecord],
) -> Result<Vec<RagInfo>, crate::store::StoreError> {
    let ix = store.rag_index()?;
    let mut out = Vec::new();
    for run in runs {
        if run.variants.iter().all(|v| v.rag.is_none()) {
            continue;
        }
        let retrievals = ix.retrievals(&run.id)?;
        for v in &run.variants {
            let Some(config) = &v.rag else { continue };
            let mut ids: Vec<&str> = retrievals
                .iter()
                .filter(|(variant, _, r)| *variant == v.name && !r.corpus.is_empty())
                .map(|(_, _, r)| r.corpus.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let mut corpora = Vec::new();
            for id in ids {
                if let Some(c) = ix.corpus(id)? {
                    corpora.push(c);
                }
            }
            out.push(RagInfo {
                run_id: run.id.clone(),
                variant: v.name.clone(),
                config: config.clone(),
                spec: session
                    .file
                    .rag
                    .get(config)
                    .map(crate::store::RagRecord::from),
                corpora,
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub name: String,
    pub path: String,
    /// sha256 hex of the session file's bytes.
    pub sha256: String,
    /// blake3 hex of the same bytes: what runs record as `session_hash`.
    pub blake3: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub id: String,
    pub created: String,
    pub status: crate::store::RunStatus,
    /// blake3 of the session file the run used.
    pub session_blake3: String,
    /// The session file changed since this run (rows still use the run's template versions).
    pub session_changed: bool,
    pub outputs: usize,
}

impl RunInfo {
    pub fn of(run: &RunRecord, session_blake3: &str) -> Self {
        Self {
            id: run.id.clone(),
            created: format_time(run.created_ms),
            status: run.status,
            session_blake3: run.session_hash.clone(),
            session_changed: run.session_hash != session_blake3,
            outputs: run.cell_count(),
        }
    }
}

/// A variant as a run used it; the model without anything secret.
#[derive(Debug, Clone, Serialize)]
pub struct VariantInfo {
    pub run_id: String,
    pub name: String,
    pub template: String,
    pub template_version: String,
    pub model_name: String,
    pub provider: ProviderKind,
    pub model: String,
    /// Without user name, password or query string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub params: Params,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rag: Option<String>,
}

impl VariantInfo {
    pub fn of(run_id: &str, v: &RunVariant) -> Self {
        let model = v.model.to_spec();
        Self {
            run_id: run_id.to_owned(),
            name: v.name.clone(),
            template: v.template.clone(),
            template_version: v.template_version.clone(),
            model_name: v.model_name.clone(),
            provider: model.provider,
            model: model.model,
            base_url: model.base_url.as_deref().map(public_url),
            params: model.params,
            price: model.price,
            rag: v.rag.clone(),
        }
    }
}

/// A URL with any credentials and query string removed (a base URL may carry a token).
pub fn public_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(unparseable url)".to_owned(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Filters {
    /// How the runs were chosen: `--run`, `latest complete run`, `rated runs`.
    pub runs_from: &'static str,
    pub variants: Vec<String>,
    pub tags: Vec<String>,
    pub min_rubric: BTreeMap<String, f64>,
    /// Raters who had to agree (preference pairs; sft outputs that were rated).
    pub consensus: u32,
    pub include_failing: bool,
    /// sft: outputs a rater gave one of these labels were left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hygiene {
    pub redact: bool,
    /// Set when `--no-redact` was given: recorded so nobody mistakes the files for redacted.
    pub no_redact: bool,
    pub dedupe: bool,
    pub decontaminate: bool,
    /// The split name whose cases are evaluation data.
    pub eval_split: &'static str,
    pub eval_cases: usize,
    pub split: SplitInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct SplitInfo {
    pub valid: f64,
    pub seed: u64,
    /// Rows are assigned by a hash of the seed and this key: one case never straddles files.
    pub by: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Duplicates {
    pub exact: u64,
    /// Equal after whitespace and case folding (and not exactly equal).
    pub folded: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(
            public_url("https://user:pw@api.example.test/v1?key=abc#x"),
            "https://api.example.test/v1"
        );
        assert_eq!(
            public_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(public_url("not a url"), "(unparseable url)");
    }
}
