//! Exact cosine search over embeddings: one contiguous matrix of unit vectors, scanned.
//!
//! Exact search is linear in the number of chunks; at 384 dimensions 100k chunks take a
//! few milliseconds per query (README, performance). Past that an approximate index
//! (HNSW) would be the next step; see the README for why it is not here yet.

use super::rank::{Hit, top_k};

/// Unit-length vectors of one dimension, row `i` for chunk `i`.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    dim: usize,
    data: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    #[error("an embedding has {got} dimensions where the others have {want}")]
    Dimension { want: usize, got: usize },
    #[error("an embedding is empty, all zeros or not finite")]
    Degenerate,
}

/// `v` scaled to length 1, or `None` when that is impossible (zero, NaN, infinite).
pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm.is_finite() && norm > 0.0 && !v.is_empty()).then(|| v.iter().map(|x| x / norm).collect())
}

/// The dot product, in eight lanes the compiler vectorises.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

impl Vectors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Appends one vector (normalised here, so a score is a cosine).
    pub fn push(&mut self, v: &[f32]) -> Result<(), VectorError> {
        if self.dim != 0 && v.len() != self.dim {
            return Err(VectorError::Dimension {
                want: self.dim,
                got: v.len(),
            });
        }
        let unit = normalized(v).ok_or(VectorError::Degenerate)?;
        self.dim = v.len();
        self.data.extend_from_slice(&unit);
        Ok(())
    }

    /// Row `i`, a unit vector.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The cosine similarity of rows `a` and `b`.
    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        dot(self.row(a), self.row(b))
    }

    /// The `k` rows most similar to `query` by cosine, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, VectorError> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        if query.len() != self.dim {
            return Err(VectorError::Dimension {
                want: self.dim,
                got: query.len(),
            });
        }
        let q = normalized(query).ok_or(VectorError::Degenerate)?;
        Ok(top_k(
            self.data
                .chunks_exact(self.dim)
                .enumerate()
                .map(|(chunk, row)| Hit {
                    chunk,
                    score: dot(row, &q),
                }),
            k,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked example in two dimensions: query (1, 1) against (1, 0), (0, 2), (3, 3),
    /// (-1, 0): cosines 1/sqrt2, 1/sqrt2, 1, -1/sqrt2.
    #[test]
    fn cosine_ranking_matches_the_hand_computation() {
        let mut v = Vectors::new();
        for row in [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]] {
            v.push(&row).expect("valid");
        }
        let hits = v.search(&[1.0, 1.0], 4).expect("same dim");
        let r = std::f32::consts::FRAC_1_SQRT_2;
        let expect = [(2, 1.0), (0, r), (1, r), (3, -r)];
        for (h, (chunk, score)) in hits.iter().zip(expect) {
            assert_eq!(h.chunk, chunk);
            assert!((h.score - score).abs() < 1e-6, "{h:?}");
        }
        assert_eq!(v.search(&[1.0, 1.0], 1).expect("ok").len(), 1);
        assert!((v.cosine(0, 1)).abs() < 1e-6);
    }

    #[test]
    fn dot_handles_lengths_not_a_multiple_of_eight() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b = vec![1.0; 19];
        assert!((dot(&a, &b) - 171.0).abs() < 1e-4);
    }

    #[test]
    fn bad_vectors_are_refused() {
        let mut v = Vectors::new();
        assert_eq!(v.push(&[0.0, 0.0]), Err(VectorError::Degenerate));
        assert_eq!(v.push(&[f32::NAN, 1.0]), Err(VectorError::Degenerate));
        v.push(&[1.0, 0.0]).expect("valid");
        assert_eq!(
            v.push(&[1.0, 0.0, 0.0]),
            Err(VectorError::Dimension { want: 2, got: 3 })
        );
        assert!(v.search(&[1.0], 3).is_err());
        assert_eq!(v.len(), 1);
    }
}
