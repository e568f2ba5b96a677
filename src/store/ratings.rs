//! Human ratings: the records and their tree. A rating is durable before it is acknowledged:
//! [`Store::put_rating`] returns only after sled has flushed it to disk.
//!
//! Key scheme of the `ratings` tree: `session \0 rater \0 time_be(8) \0 seq_be(4)`, so one
//! rater's ratings sort by time and a prefix scan lists them. The `raters` tree keeps one
//! [`RaterRecord`] per `session \0 rater` (the shuffle seed and the assigned queue).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::spec::Winner;

use super::{Result, Store, decode, put};

/// One comparison: the same case (and repeat) answered by two variants of one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComparisonKey {
    pub run_id: String,
    pub case_id: String,
    pub repeat: u32,
    /// The pair as the session's `rating.pairs` names it.
    pub a: String,
    pub b: String,
}

impl ComparisonKey {
    /// The variant of the pair that is not `variant`: the right side when `variant` is left.
    pub fn other(&self, variant: &str) -> &str {
        if variant == self.a { &self.b } else { &self.a }
    }

    /// A stable text id, used in exports and audits.
    pub fn id(&self) -> String {
        format!(
            "{}/{}#{}/{}~{}",
            self.run_id, self.case_id, self.repeat, self.a, self.b
        )
    }
}

/// One rater's judgement of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingRecord {
    pub session: String,
    pub rater: String,
    pub comparison: ComparisonKey,
    /// The variant shown on the left (the placement, kept for audit).
    pub left: String,
    pub winner: Winner,
    /// Rubric scores per variant name, then per dimension key.
    #[serde(default)]
    pub scores: BTreeMap<String, BTreeMap<String, u8>>,
    #[serde(default)]
    pub note: Option<String>,
    /// Failure-mode labels per variant name (see `rating::labels`), in the order given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Vec<String>>,
    /// A gold item: the session says which variant is better.
    #[serde(default)]
    pub gold: bool,
    /// How long the comparison was on screen before the verdict.
    pub elapsed_ms: u64,
    /// When the verdict was given (epoch milliseconds).
    pub at_ms: u64,
    /// Distinguishes ratings given in the same millisecond.
    pub seq: u32,
}

impl RatingRecord {
    pub fn key(&self) -> Vec<u8> {
        let mut key = rater_prefix(&self.session, &self.rater);
        key.extend_from_slice(&self.at_ms.to_be_bytes());
        key.push(0);
        key.extend_from_slice(&self.seq.to_be_bytes());
        key
    }

    /// The variant the rater preferred, if one.
    pub fn preferred(&self) -> Option<&str> {
        match self.winner {
            Winner::A => Some(&self.comparison.a),
            Winner::B => Some(&self.comparison.b),
            Winner::Tie | Winner::BothBad => None,
        }
    }
}

/// A rater's place in a session's rating queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaterRecord {
    pub session: String,
    pub rater: String,
    pub run_id: String,
    /// Seed of this rater's shuffle, stored so the order can be reproduced and audited.
    pub seed: u64,
    /// The comparisons assigned to this rater, in the order shown, with the placement.
    pub queue: Vec<Assignment>,
    pub created_ms: u64,
    /// When the rater last opened the queue: with their ratings, what keeps their unrated
    /// comparisons reserved for them (see `rating::queue::held`).
    #[serde(default)]
    pub active_ms: u64,
}

/// One comparison as a rater gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub comparison: ComparisonKey,
    pub left: String,
    #[serde(default)]
    pub gold: bool,
}

fn session_prefix(session: &str) -> Vec<u8> {
    let mut key = session.as_bytes().to_vec();
    key.push(0);
    key
}

fn rater_prefix(session: &str, rater: &str) -> Vec<u8> {
    let mut key = session_prefix(session);
    key.extend_from_slice(rater.as_bytes());
    key.push(0);
    key
}

impl Store {
    /// Writes a rating and waits until it is on disk. Only then may the screen say "saved".
    pub fn put_rating(&self, rating: &RatingRecord) -> Result<()> {
        let key = rating.key();
        put(&self.inner.ratings, &key, rating)?;
        if let Err(e) = self.inner.ratings.flush() {
            // Not acknowledged, so not kept: the rater's retry writes it under a new key, and
            // the one the screen called "not saved" must not reach disk later and count twice.
            let _ = self.inner.ratings.remove(&key);
            return Err(e.into());
        }
        self.inner.ratings_changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Removes a rating (undo) and waits until the removal is on disk.
    pub fn delete_rating(&self, rating: &RatingRecord) -> Result<()> {
        self.inner.ratings.remove(rating.key())?;
        self.inner.ratings.flush()?;
        self.inner.ratings_changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Changes whenever a rating is written or removed through this process's store (any
    /// App, any rater of a `loupe serve`).
    pub fn ratings_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.ratings_changed.subscribe()
    }

    /// Every rating of a session, rater by rater, each rater's in time order.
    pub fn ratings(&self, session: &str) -> impl Iterator<Item = Result<RatingRecord>> + use<> {
        self.inner
            .ratings
            .scan_prefix(session_prefix(session))
            .values()
            .map(|v| decode("ratings", &v?))
    }

    /// One rater's ratings of a session, in time order.
    pub fn ratings_by(
        &self,
        session: &str,
        rater: &str,
    ) -> impl Iterator<Item = Result<RatingRecord>> + use<> {
        self.inner
            .ratings
            .scan_prefix(rater_prefix(session, rater))
            .values()
            .map(|v| decode("ratings", &v?))
    }

    pub fn put_rater(&self, rater: &RaterRecord) -> Result<()> {
        put(
            &self.inner.raters,
            &rater_prefix(&rater.session, &rater.rater),
            rater,
        )?;
        self.inner.raters.flush()?;
        Ok(())
    }

    pub fn rater(&self, session: &str, rater: &str) -> Result<Option<RaterRecord>> {
        super::get(&self.inner.raters, "raters", &rater_prefix(session, rater))
    }

    /// Every rater known for a session.
    pub fn raters(&self, session: &str) -> impl Iterator<Item = Result<RaterRecord>> + use<> {
        self.inner
            .raters
            .scan_prefix(session_prefix(session))
            .values()
            .map(|v| decode("raters", &v?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(rater: &str, at_ms: u64) -> RatingRecord {
        RatingRecord {
            session: "s".into(),
            rater: rater.into(),
            comparison: ComparisonKey {
                run_id: "r".into(),
                case_id: "c1".into(),
                repeat: 0,
                a: "x".into(),
                b: "y".into(),
            },
            left: "y".into(),
            winner: Winner::B,
            scores: BTreeMap::new(),
            note: None,
            labels: BTreeMap::new(),
            gold: false,
            elapsed_ms: 1200,
            at_ms,
            seq: 0,
        }
    }

    #[test]
    fn ratings_round_trip_by_rater_in_time_order() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| super::super::StoreError::Open {
            path: std::path::PathBuf::new(),
            source: e.into(),
        })?;
        let store = Store::open(dir.path())?;
        store.put_rating(&rating("bo", 20))?;
        store.put_rating(&rating("ana", 30))?;
        store.put_rating(&rating("ana", 10))?;
        let all: Vec<_> = store.ratings("s").collect::<Result<_>>()?;
        let order: Vec<_> = all.iter().map(|r| (r.rater.as_str(), r.at_ms)).collect();
        assert_eq!(order, [("ana", 10), ("ana", 30), ("bo", 20)]);
        let ana: Vec<_> = store.ratings_by("s", "ana").collect::<Result<_>>()?;
        assert_eq!(ana.len(), 2);
        assert_eq!(ana[0].preferred(), Some("y"));
        store.delete_rating(&ana[0])?;
        assert_eq!(store.ratings_by("s", "ana").count(), 1);
        assert_eq!(store.ratings("other").count(), 0);
        Ok(())
    }
}
