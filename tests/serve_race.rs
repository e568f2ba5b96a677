//! Raters who open their queues at the same moment, as they do on one `loupe serve`: the
//! k-raters-per-comparison rule must hold under the race (each opening reads the others'
//! queues before storing its own).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use loupe::store::Store;

const CASES: usize = 300;

#[test]
fn raters_opening_at_once_never_share_past_k() {
    for k in [1u32, 2] {
        let dir = tempfile::tempdir().unwrap();
        let (session_path, store_dir) = common::rating::setup(dir.path(), CASES, k, &[]);
        let session = Arc::new(loupe::session::load(&session_path).unwrap());
        let store = Store::open(&store_dir).unwrap();
        let raters = 8;
        let start = Arc::new(Barrier::new(raters));
        let handles: Vec<_> = (0..raters)
            .map(|i| {
                let (store, session, start) = (store.clone(), session.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    loupe::rating::open_rater(&store, &session, &format!("rater{i}"), None)
                        .unwrap()
                        .record
                })
            })
            .collect();
        let mut per_comparison: HashMap<String, u32> = HashMap::new();
        for h in handles {
            for a in h.join().unwrap().queue {
                *per_comparison.entry(a.comparison.id()).or_default() += 1;
            }
        }
        // CASES cases x 2 pairs, every one with exactly k raters: none left out, none over.
        assert_eq!(per_comparison.len(), CASES * 2, "k = {k}");
        assert!(
            per_comparison.values().all(|n| *n == k),
            "k = {k}: {per_comparison:?}"
        );
    }
}
