//! Building a config's index from its corpus, reusing everything the store already has.
//!
//! Documents are keyed by (path, content hash), chunk lists by (document hash, chunking)
//! and vectors by (embedder, text hash): a second build, a second variant with the same
//! config, or a new chunk size over unchanged text embeds nothing it already has, and an
//! edited file re-embeds only its own chunks. Vectors are stored batch by batch as they
//! arrive, so a build cut short keeps the batches that completed and nothing partial.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::chunk::{self, Chunk, ChunkError, ChunkSettings};
use super::corpus::{self, CorpusError, Document};
use super::dense::{VectorError, Vectors};
use super::index::{Index, Passage};
use crate::providers::{Client, EmbedRequest, Failure, ProviderError};
use crate::store::{CorpusFile, CorpusRecord, RagDocumentRecord, RagIndex, StoreError};

/// Texts per embedding request: large enough to amortise a request, small enough that a
/// retry repeats little work and one request stays well under a server's body limits.
pub const EMBED_BATCH: usize = 32;

/// A model serving embeddings, with the id its vectors are stored under.
#[derive(Debug, Clone)]
pub struct Embedder {
    pub client: Client,
    /// The model name sent in requests.
    pub model: String,
    /// blake3 of (embeddings URL, model name): vectors from another server or model are
    /// never mixed in.
    pub id: String,
}

impl Embedder {
    pub fn new(client: Client, model: &str) -> Result<Self, ProviderError> {
        let url = client.embed_url()?;
        let id = blake3::hash(format!("{url}\0{model}").as_bytes())
            .to_hex()
            .to_string();
        Ok(Self {
            client,
            model: model.to_owned(),
            id,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "embedding with {model} failed: {failure} (the config's `embedder` must name a model \
         that serves embeddings)"
    )]
    Embed { model: String, failure: FailureText },
    #[error("embeddings from {model}: {error}")]
    Vectors { model: String, error: VectorError },
    #[error("the corpus has no text to retrieve from (every file is empty)")]
    Empty,
    #[error("an index task stopped: {0}")]
    Task(String),
}

/// A provider failure with its attempt count, as one line.
#[derive(Debug)]
pub struct FailureText(pub Failure);

impl std::fmt::Display for FailureText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.error)?;
        if self.0.attempts > 1 {
            write!(f, " (after {} attempts)", self.0.attempts)?;
        }
        Ok(())
    }
}

/// What a build did, for progress lines and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    pub documents: usize,
    /// Documents whose chunk list was made now (not found in the store).
    pub chunked: usize,
    pub passages: usize,
    /// Distinct texts sent to the embedder now.
    pub embedded: usize,
    /// Embedding requests sent now.
    pub requests: usize,
}

/// Where a build is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Documents read and chunked so far, of all.
    Chunking { done: usize, total: usize },
    /// Texts embedded so far, of those missing.
    Embedding { done: usize, total: usize },
}

/// The corpus read and chunked: the synchronous half of a build (file and store reads),
/// to be run on a blocking thread.
#[derive(Debug)]
pub struct Chunked {
    pub passages: Vec<Passage>,
    pub corpus: CorpusRecord,
    pub stats: BuildStats,
}

/// Reads the corpus, and chunks each document unless the store has its chunks already.
pub fn chunk_corpus(
    dir: &Path,
    globs: &[String],
    settings: ChunkSettings,
    index: &RagIndex,
    progress: &mut dyn FnMut(Progress),
) -> Result<Chunked, BuildError> {
    let paths = corpus::resolve(dir, globs)?;
    let key = settings.key();
    let mut stats = BuildStats {
        documents: paths.len(),
        ..BuildStats::default()
    };
    let mut passages = Vec::new();
    let mut files = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let doc = corpus::read(dir, path)?;
        let chunks = if let Some(c) = index.chunks::<Vec<Chunk>>(&doc.hash, &key)? {
            c
        } else {
            let c = chunk::split(doc.kind, &doc.text, settings)?;
            index.put_chunks(&doc.hash, &key, &c)?;
            stats.chunked += 1;
            c
        };
        if index.document(&doc.path, &doc.hash)?.is_none() {
            index.put_document(&RagDocumentRecord {
                path: doc.path.clone(),
                hash: doc.hash.clone(),
                bytes: doc.text.len() as u64,
                indexed_ms: crate::store::now_ms(),
            })?;
        }
        passages.extend(chunks.into_iter().map(|c| passage(&doc, c)));
        files.push(CorpusFile {
            path: doc.path,
            hash: doc.hash,
        });
        progress(Progress::Chunking {
            done: i + 1,
            total: paths.len(),
        });
    }
    if passages.is_empty() {
        return Err(BuildError::Empty);
    }
    stats.passages = passages.len();
    let corpus = corpus_record(&key, files);
    index.put_corpus(&corpus)?;
    Ok(Chunked {
        passages,
        corpus,
        stats,
    })
}

fn passage(doc: &Document, c: Chunk) -> Passage {
    Passage {
        id: format!("{}#{}", doc.path, c.ordinal),
        source: doc.path.clone(),
        doc_hash: doc.hash.clone(),
        ordinal: c.ordinal,
        headings: c.headings,
        text_hash: text_hash(&c.text),
        text: c.text,
        tokens: c.tokens,
    }
}

/// blake3 of a text: the key its vector is stored under.
pub fn text_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

fn corpus_record(chunking: &str, mut documents: Vec<CorpusFile>) -> CorpusRecord {
    documents.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = blake3::Hasher::new();
    h.update(chunking.as_bytes());
    for d in &documents {
        h.update(b"\0");
        h.update(d.path.as_bytes());
        h.update(b"\0");
        h.update(d.hash.as_bytes());
    }
    CorpusRecord {
        id: h.finalize().to_hex().to_string(),
        chunking: chunking.to_owned(),
        documents,
    }
}

/// Vectors for `texts` (by text hash), from the store where it has them and from the
/// embedder for the rest, which are stored as each batch arrives. Returns them in input
/// order, with the number of texts and requests sent.
pub async fn embed_texts(
    embedder: &Embedder,
    texts: &[(&str, &str)],
    index: &RagIndex,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Vec<Vec<f32>>, usize, usize), BuildError> {
    // One blocking task for all the store reads (sled stays off the async workers).
    let stored = {
        let index = index.clone();
        let id = embedder.id.clone();
        let hashes: Vec<String> = texts.iter().map(|(h, _)| (*h).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .map(|h| index.embedding(&id, h))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| BuildError::Task(e.to_string()))??
    };
    let mut have: HashMap<String, Vec<f32>> = HashMap::new();
    let mut missing: Vec<(&str, &str)> = Vec::new();
    let mut queued = HashSet::new();
    for (&(hash, text), stored) in texts.iter().zip(stored) {
        match stored {
            Some(v) => {
                have.insert(hash.to_owned(), v);
            }
            None if !queued.contains(hash) => {
                queued.insert(hash);
                missing.push((hash, text));
            }
            None => {}
        }
    }
    let total = missing.len();
    let mut requests = 0;
    if total > 0 {
        progress(Progress::Embedding { done: 0, total });
        let concurrency = embedder.client.limits().concurrency() as usize;
        // The futures are made up front and own their inputs: a lazily mapped stream of
        // borrowing closures is not provably Send inside a spawned task.
        let batches: Vec<Vec<(String, String)>> = missing
            .chunks(EMBED_BATCH)
            .map(|b| {
                b.iter()
                    .map(|(h, t)| ((*h).to_owned(), (*t).to_owned()))
                    .collect()
            })
            .collect();
        let futures: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let client = embedder.client.clone();
                let req = EmbedRequest {
                    model: embedder.model.clone(),
                    input: batch.iter().map(|(_, t)| t.clone()).collect(),
                };
                let cancel = cancel.clone();
                async move {
                    let r = client.embed(&req, &cancel).await;
                    (batch, r)
                }
            })
            .collect();
        let mut results = futures::stream::iter(futures).buffer_unordered(concurrency);
        let mut done = 0;
        while let Some((batch, result)) = results.next().await {
            requests += 1;
            let got = result.map_err(|failure| BuildError::Embed {
                model: embedder.model.clone(),
                failure: FailureText(failure),
            })?;
            let owned: Vec<(String, Vec<f32>)> = batch
                .iter()
                .zip(&got.vectors)
                .map(|((h, _), v)| (h.clone(), v.clone()))
                .collect();
            let (ix, id) = (index.clone(), embedder.id.clone());
            tokio::task::spawn_blocking(move || {
                let items: Vec<(&str, &[f32])> = owned
                    .iter()
                    .map(|(h, v)| (h.as_str(), v.as_slice()))
                    .collect();
                ix.put_embeddings(&id, &items)
            })
            .await
            .map_err(|e| BuildError::Task(e.to_string()))??;
            for ((h, _), v) in batch.iter().zip(got.vectors) {
                have.insert(h.clone(), v);
            }
            done += batch.len();
            progress(Progress::Embedding { done, total });
        }
    }
    let vectors = texts
        .iter()
        .map(|(h, _)| have.get(*h).cloned().unwrap_or_default())
        .collect();
    Ok((vectors, total, requests))
}

/// The passages' vectors as a matrix (one dimension for all, each normalised).
pub fn matrix(model: &str, vectors: &[Vec<f32>]) -> Result<Vectors, BuildError> {
    let mut m = Vectors::new();
    for v in vectors {
        m.push(v).map_err(|error| BuildError::Vectors {
            model: model.to_owned(),
            error,
        })?;
    }
    Ok(m)
}

/// A whole build: chunk (on a blocking thread), embed what is missing when the config
/// has an embedder, and assemble the in-memory index.
pub async fn build(
    dir: &Path,
    globs: &[String],
    settings: ChunkSettings,
    embedder: Option<&Embedder>,
    index: &RagIndex,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Index, CorpusRecord, BuildStats), BuildError> {
    let chunked = {
        let (dir, globs, index) = (dir.to_owned(), globs.to_vec(), index.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = tokio::task::spawn_blocking(move || {
            chunk_corpus(&dir, &globs, settings, &index, &mut |p| {
                let _ = tx.send(p);
            })
        });
        while let Some(p) = rx.recv().await {
            progress(p);
        }
        job.await.map_err(|e| BuildError::Task(e.to_string()))??
    };
    let Chunked {
        passages,
        corpus,
        mut stats,
    } = chunked;
    let Some(embedder) = embedder else {
        return Ok((Index::new(passages), corpus, stats));
    };
    let texts: Vec<(&str, &str)> = passages
        .iter()
        .map(|p| (p.text_hash.as_str(), p.text.as_str()))
        .collect();
    let (vectors, embedded, requests) =
        embed_texts(embedder, &texts, index, cancel, progress).await?;
    stats.embedded = embedded;
    stats.requests = requests;
    let m = matrix(&embedder.model, &vectors)?;
    let ix = Index::new(passages)
        .with_vectors(m)
        .map_err(|error| BuildError::Vectors {
            model: embedder.model.clone(),
            error,
        })?;
    Ok((ix, corpus, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_ids_depend_on_content_and_chunking_not_order() {
        let a = CorpusFile {
            path: "a.md".into(),
            hash: "1".into(),
        };
        let b = CorpusFile {
            path: "b.md".into(),
            hash: "2".into(),
        };
        let one = corpus_record("k", vec![a.clone(), b.clone()]);
        let two = corpus_record("k", vec![b.clone(), a.clone()]);
        assert_eq!(one, two);
        assert_ne!(one.id, corpus_record("k2", vec![a.clone(), b.clone()]).id);
        let edited = CorpusFile {
            hash: "3".into(),
            ..b
        };
        assert_ne!(one.id, corpus_record("k", vec![a, edited]).id);
    }

    #[test]
    fn chunking_is_stored_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).expect("mkdir");
        std::fs::write(docs.join("a.md"), "# A\n\nFreeze windows apply.\n").expect("write");
        std::fs::write(docs.join("b.html"), "<h1>B</h1><p>Rollback plans.</p>").expect("write");
        let store = crate::store::Store::open(&dir.path().join("store")).expect("store");
        let ix = store.rag_index().expect("trees");
        let settings = ChunkSettings {
            tokens: 50,
            overlap: 0,
        };
        let globs = vec!["docs/*".to_owned()];
        let mut seen = Vec::new();
        let first =
            chunk_corpus(dir.path(), &globs, settings, &ix, &mut |p| seen.push(p)).expect("builds");
        assert_eq!(first.stats.chunked, 2);
        assert_eq!(seen.last(), Some(&Progress::Chunking { done: 2, total: 2 }));
        let ids: Vec<_> = first.passages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["docs/a.md#1", "docs/b.html#1"]);
        assert_eq!(first.passages[1].headings, ["B"]);
        let again = chunk_corpus(dir.path(), &globs, settings, &ix, &mut |_| {}).expect("builds");
        assert_eq!(again.stats.chunked, 0);
        assert_eq!(again.passages, first.passages);
        assert_eq!(again.corpus, first.corpus);
        std::fs::write(docs.join("a.md"), "# A\n\nFreeze windows changed.\n").expect("write");
        let edited = chunk_corpus(dir.path(), &globs, settings, &ix, &mut |_| {}).expect("builds");
        assert_eq!(
            edited.stats.chunked, 1,
            "only the edited file is chunked again"
        );
        assert_ne!(edited.corpus.id, first.corpus.id);
        assert_eq!(ix.document_versions("docs/a.md").expect("scan").len(), 2);
    }
}
