//! A model's limits: requests in flight at once (a semaphore) and requests started per
//! minute (a sliding window of the last start times).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::ProviderError;

/// How many requests to one model may be in flight at once and may start per window.
///
/// Cheap to clone: clones share the counts. Every client built with the same `Limits`
/// (the chat client, an embeddings client, every run, App and judge of the process that
/// gets its client from the [`ModelPool`](super::ModelPool)) is bounded together.
#[derive(Debug, Clone)]
pub struct Limits {
    permits: Arc<Semaphore>,
    concurrency: u32,
    rate: Option<Arc<RateLimit>>,
}

/// One request's place in a model's concurrency; the place is free again when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Limits {
    /// `concurrency` requests in flight (at least one) and, when `rpm` is set, that many
    /// starts per minute.
    pub fn new(concurrency: u32, rpm: Option<u32>) -> Self {
        Self::with_window(concurrency, rpm, Duration::from_mins(1))
    }

    /// [`Limits::new`] with another window than a minute for the `rpm` count (tests).
    pub fn with_window(concurrency: u32, rpm: Option<u32>, window: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency as usize)),
            concurrency,
            rate: rpm
                .filter(|&n| n > 0)
                .map(|n| Arc::new(RateLimit::new(n, window))),
        }
    }

    pub fn concurrency(&self) -> u32 {
        self.concurrency
    }

    /// Waits for a free place (first come, first served across everything sharing these
    /// limits). Cancel by dropping the future.
    pub async fn slot(&self) -> Result<Slot, ProviderError> {
        // The semaphore is never closed; an error could only mean it was, so the request
        // is not made.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ProviderError::Cancelled)?;
        Ok(Slot { _permit: permit })
    }

    /// Waits until the requests-per-minute window lets one more request start, and counts
    /// it. Returns at once without an `rpm` limit.
    pub async fn pace(&self) {
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
    }

    /// Whether `other` is the very same limits (a clone), not merely equal numbers.
    pub fn same_as(&self, other: &Limits) -> bool {
        Arc::ptr_eq(&self.permits, &other.permits)
    }
}

#[derive(Debug)]
pub struct RateLimit {
    per_window: usize,
    window: Duration,
    starts: Mutex<VecDeque<Instant>>,
}

impl RateLimit {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window: per_window.max(1) as usize,
            window,
            starts: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, and counts it. Cancel by dropping.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                // A poisoned lock only means another task panicked mid-push; the queue of
                // instants is still valid.
                let mut starts = self
                    .starts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                while starts
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    starts.pop_front();
                }
                match starts.front() {
                    Some(oldest) if starts.len() >= self.per_window => {
                        self.window.saturating_sub(now.duration_since(*oldest))
                    }
                    _ => {
                        starts.push_back(now);
                        return;
                    }
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn third_request_waits_for_the_window() {
        let rl = RateLimit::new(2, Duration::from_millis(300));
        let t0 = Instant::now();
        rl.acquire().await;
        rl.acquire().await;
        assert!(t0.elapsed() < Duration::from_millis(200));
        rl.acquire().await;
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }
}
