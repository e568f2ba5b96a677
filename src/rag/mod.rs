//! Retrieval-augmented generation: corpus files into passages, passages into an index,
//! queries into ranked, reranked and kept passages, and the metrics that say how well a
//! config retrieved and how faithfully outputs cited.
//!
//! Pure and synchronous except [`build`] (store and embedding calls). The pieces:
//! [`corpus`] reads files (Markdown, HTML, text), [`chunk`] splits them by cl100k tokens,
//! [`bm25`], [`dense`] and [`rank`] retrieve, fuse (RRF) and diversify (MMR), and
//! [`metrics`] scores rankings against the documents cases list as `relevant:`.

pub mod bm25;
pub mod build;
pub mod chunk;
pub mod corpus;
pub mod dense;
pub mod html;
pub mod index;
pub mod metrics;
pub mod rank;

pub use chunk::{Chunk, ChunkSettings};
pub use corpus::{DocKind, Document};
pub use index::{Index, Passage};
pub use rank::Hit;
