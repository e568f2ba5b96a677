//! Requests-per-minute: a sliding window of the last request start times.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

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
