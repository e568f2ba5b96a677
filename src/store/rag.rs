//! The RAG index, content-addressed: documents by (path, content hash), chunk lists by
//! (document hash, chunking), embeddings by (embedder, chunk text hash), and the corpora
//! runs used by their id.
//!
//! Every record is written only once it is whole (one insert per chunk list or vector),
//! so an index build that fails midway leaves only records a later build can trust: it
//! finds what was done and does the rest.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Result, Store, decode, get, put};

const RAG_DOCUMENTS: &str = "rag_documents";
const RAG_CHUNKS: &str = "rag_chunks";
const RAG_EMBEDDINGS: &str = "rag_embeddings";
const RAG_CORPORA: &str = "rag_corpora";
const RAG_RETRIEVALS: &str = "rag_retrievals";

/// A corpus file as it was when indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RagDocumentRecord {
    pub path: String,
    /// blake3 of the file's bytes.
    pub hash: String,
    pub bytes: u64,
    pub indexed_ms: u64,
}

/// The files of one corpus at one moment: what a run retrieved from, named in exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusRecord {
    /// blake3 over the sorted (path, hash) pairs and the chunking key.
    pub id: String,
    pub chunking: String,
    pub documents: Vec<CorpusFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusFile {
    pub path: String,
    pub hash: String,
}

/// One ranked passage of a retrieval: its id, document and score at that stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPassage {
    pub id: String,
    pub source: String,
    pub score: f64,
}

/// What retrieval did for one cell of a run, stored beside its output (same run, variant
/// and case): the query, what was retrieved, how reranking ordered it, and what the prompt
/// was given. Repeats of a cell share it (they retrieve the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalRecord {
    /// The session's RAG config.
    pub config: String,
    /// The corpus snapshot retrieved from (see [`CorpusRecord`]).
    pub corpus: String,
    /// The query before any rewrite.
    pub query: String,
    /// The query a model rewrote it to, when the config rewrites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewritten: Option<String>,
    /// The `top_k` retrieved, best first.
    pub retrieved: Vec<ScoredPassage>,
    /// After reranking (the same as `retrieved` without a reranker).
    pub reranked: Vec<ScoredPassage>,
    /// The first `keep` of `reranked`: what the template saw.
    pub kept: Vec<ScoredPassage>,
    /// Why retrieval failed for this cell (then the lists are empty and the output
    /// records the same error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The documents the case lists as `relevant:`, what the metrics compare with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relevant: Vec<String>,
    /// How the variant's outputs cite (its `citations` check's pattern, if it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation_pattern: Option<String>,
}

/// The index trees (opened on first use; sled keeps the handles).
#[derive(Clone)]
pub struct RagIndex {
    documents: sled::Tree,
    chunks: sled::Tree,
    embeddings: sled::Tree,
    corpora: sled::Tree,
    retrievals: sled::Tree,
}

fn pair(a: &str, b: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + b.len() + 1);
    key.extend_from_slice(a.as_bytes());
    key.push(0);
    key.extend_from_slice(b.as_bytes());
    key
}

impl Store {
    pub fn rag_index(&self) -> Result<RagIndex> {
        let db = &self.inner.db;
        Ok(RagIndex {
            documents: db.open_tree(RAG_DOCUMENTS)?,
            chunks: db.open_tree(RAG_CHUNKS)?,
            embeddings: db.open_tree(RAG_EMBEDDINGS)?,
            corpora: db.open_tree(RAG_CORPORA)?,
            retrievals: db.open_tree(RAG_RETRIEVALS)?,
        })
    }
}

impl RagIndex {
    pub fn put_document(&self, rec: &RagDocumentRecord) -> Result<()> {
        put(&self.documents, &pair(&rec.path, &rec.hash), rec)
    }

    pub fn document(&self, path: &str, hash: &str) -> Result<Option<RagDocumentRecord>> {
        get(&self.documents, RAG_DOCUMENTS, &pair(path, hash))
    }

    /// The chunk list of a document under one chunking, if it was made before.
    pub fn chunks<T: DeserializeOwned>(&self, doc_hash: &str, chunking: &str) -> Result<Option<T>> {
        get(&self.chunks, RAG_CHUNKS, &pair(doc_hash, chunking))
    }

    pub fn put_chunks<T: Serialize>(
        &self,
        doc_hash: &str,
        chunking: &str,
        chunks: &T,
    ) -> Result<()> {
        put(&self.chunks, &pair(doc_hash, chunking), chunks)
    }

    /// The stored vector of a text by an embedder, if any (stored as little-endian f32s).
    pub fn embedding(&self, embedder: &str, text_hash: &str) -> Result<Option<Vec<f32>>> {
        let Some(bytes) = self.embeddings.get(pair(embedder, text_hash))? else {
            return Ok(None);
        };
        // A torn value cannot come from sled (inserts are atomic); if one ever did, it is
        // treated as missing so the text is embedded again and the value replaced.
        if bytes.is_empty() || bytes.len() % 4 != 0 {
            return Ok(None);
        }
        Ok(Some(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ))
    }

    /// Stores vectors of one batch at once (each entry is whole by itself).
    pub fn put_embeddings(&self, embedder: &str, items: &[(&str, &[f32])]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (hash, v) in items {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            batch.insert(pair(embedder, hash), bytes);
        }
        self.embeddings.apply_batch(batch)?;
        Ok(())
    }

    /// How many vectors an embedder has stored.
    pub fn embedding_count(&self, embedder: &str) -> usize {
        let mut prefix = embedder.as_bytes().to_vec();
        prefix.push(0);
        self.embeddings.scan_prefix(prefix).count()
    }

    pub fn put_corpus(&self, rec: &CorpusRecord) -> Result<()> {
        put(&self.corpora, rec.id.as_bytes(), rec)
    }

    pub fn corpus(&self, id: &str) -> Result<Option<CorpusRecord>> {
        get(&self.corpora, RAG_CORPORA, id.as_bytes())
    }

    pub fn put_retrieval(
        &self,
        run: &str,
        variant: &str,
        case: &str,
        rec: &RetrievalRecord,
    ) -> Result<()> {
        put(&self.retrievals, &retrieval_key(run, variant, case), rec)
    }

    pub fn retrieval(
        &self,
        run: &str,
        variant: &str,
        case: &str,
    ) -> Result<Option<RetrievalRecord>> {
        get(
            &self.retrievals,
            RAG_RETRIEVALS,
            &retrieval_key(run, variant, case),
        )
    }

    /// Every retrieval of a run as (variant, case, record), in key order.
    pub fn retrievals(&self, run: &str) -> Result<Vec<(String, String, RetrievalRecord)>> {
        let mut prefix = run.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.retrievals.scan_prefix(&prefix) {
            let (k, v) = item?;
            let rest = &k[prefix.len()..];
            let mut parts = rest.splitn(2, |b| *b == 0);
            let variant = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let case = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            out.push((variant, case, decode(RAG_RETRIEVALS, &v)?));
        }
        Ok(out)
    }

    /// Every document record of a path, any content.
    pub fn document_versions(&self, path: &str) -> Result<Vec<RagDocumentRecord>> {
        let mut prefix = path.as_bytes().to_vec();
        prefix.push(0);
        self.documents
            .scan_prefix(prefix)
            .values()
            .map(|v| decode(RAG_DOCUMENTS, &v?))
            .collect()
    }
}

fn retrieval_key(run: &str, variant: &str, case: &str) -> Vec<u8> {
    let mut key = pair(run, variant);
    key.push(0);
    key.extend_from_slice(case.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_by_content_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let ix = store.rag_index().expect("trees");
        let doc = RagDocumentRecord {
            path: "policy/a.md".into(),
            hash: "h1".into(),
            bytes: 10,
            indexed_ms: 1,
        };
        ix.put_document(&doc).expect("put");
        assert_eq!(
            ix.document("policy/a.md", "h1").expect("get"),
            Some(doc.clone())
        );
        assert_eq!(ix.document("policy/a.md", "h2").expect("get"), None);
        assert_eq!(ix.document_versions("policy/a.md").expect("scan"), [doc]);
        assert!(ix.document_versions("policy/a").expect("scan").is_empty());

        ix.put_chunks("h1", "k", &vec!["one".to_owned()])
            .expect("put");
        assert_eq!(
            ix.chunks::<Vec<String>>("h1", "k").expect("get"),
            Some(vec!["one".into()])
        );
        assert_eq!(ix.chunks::<Vec<String>>("h1", "k2").expect("get"), None);

        ix.put_embeddings("e5", &[("t1", &[1.0, -2.5][..]), ("t2", &[0.0, 1.0][..])])
            .expect("put");
        assert_eq!(
            ix.embedding("e5", "t1").expect("get"),
            Some(vec![1.0, -2.5])
        );
        assert_eq!(ix.embedding("other", "t1").expect("get"), None);
        assert_eq!(ix.embedding_count("e5"), 2);
        assert_eq!(ix.embedding_count("e"), 0);

        let rec = RetrievalRecord {
            config: "policy".into(),
            corpus: "c1".into(),
            query: "q".into(),
            rewritten: None,
            retrieved: vec![ScoredPassage {
                id: "a.md#1".into(),
                source: "a.md".into(),
                score: 1.5,
            }],
            reranked: Vec::new(),
            kept: Vec::new(),
            error: None,
            relevant: vec!["a.md".into()],
            citation_pattern: None,
        };
        ix.put_retrieval("r1", "v", "c", &rec).expect("put");
        ix.put_retrieval("r10", "v", "c", &rec).expect("put");
        assert_eq!(
            ix.retrieval("r1", "v", "c").expect("get"),
            Some(rec.clone())
        );
        let all = ix.retrievals("r1").expect("scan");
        assert_eq!(all, [("v".to_owned(), "c".to_owned(), rec)]);
    }
}
