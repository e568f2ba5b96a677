//! A thread that does one job's store writes in order, so async tasks never wait on sled.
//!
//! A run streams hundreds of answers a second; each answer's output and cache record are
//! handed to the writer and the task goes on at once. The writer applies them in the order
//! given (a job may also report what it wrote, after writing it), stops writing after the
//! first failure, and flushes once at the end. Queued writes cost nothing while the thread
//! is busy: it drains the queue without sleeping in between.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio_util::sync::CancellationToken;

use super::{Store, StoreError};

type Job = Box<dyn FnOnce(&Store) -> Result<(), StoreError> + Send>;

/// Writes for one job (a run), on a thread of their own.
pub struct Writer {
    tx: mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
    failure: Arc<Mutex<Option<StoreError>>>,
}

impl Writer {
    /// Starts the writer over `store`. After a failed write it cancels `on_failure` (the
    /// job it writes for has no reason to go on) and skips what follows.
    pub fn start(store: Store, on_failure: CancellationToken) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let failure = Arc::new(Mutex::new(None));
        let failed = failure.clone();
        let thread = std::thread::Builder::new()
            .name("loupe-store-writer".into())
            .spawn(move || {
                let mut ok = true;
                for job in rx {
                    if ok && let Err(e) = job(&store) {
                        ok = false;
                        *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                        on_failure.cancel();
                    }
                }
                if ok && let Err(e) = store.flush() {
                    *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                }
            })
            .map_err(|e| StoreError::Sled(e.into()))?;
        Ok(Self {
            tx,
            thread: Some(thread),
            failure,
        })
    }

    /// Queues `job`; it runs after every job queued before it.
    pub fn send(&self, job: impl FnOnce(&Store) -> Result<(), StoreError> + Send + 'static) {
        // The thread only ends once every sender is gone, so the send cannot fail.
        let _ = self.tx.send(Box::new(job));
    }

    /// Waits until every job queued so far is done; the first failure, if there was one.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.send(move |_| {
            let _ = done.send(());
            Ok(())
        });
        let _ = wait.await;
        self.take_failure()
    }

    /// Waits until everything queued is written and flushed; the first failure, if any.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        let Some(thread) = self.thread.take() else {
            return self.take_failure();
        };
        let (tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, tx));
        // Joining blocks until the last flush is done: a blocking thread's work.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        self.take_failure()
    }

    fn take_failure(&self) -> Result<(), StoreError> {
        match self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Completion, Usage};
    use crate::store::CacheRecord;
    use crate::store::ProviderRecord;

    fn answer(text: &str) -> CacheRecord {
        CacheRecord {
            completion: Completion {
                text: text.into(),
                usage: Usage::default(),
                latency_ms: 1,
                ttft_ms: None,
                finish_reason: None,
                attempts: 1,
                top_logprobs: Vec::new(),
            },
            provider: ProviderRecord::Openai,
            created_ms: 0,
        }
    }

    #[tokio::test]
    async fn writes_in_order_then_flushes_and_reports_the_first_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let cancel = CancellationToken::new();
        let writer = Writer::start(store.clone(), cancel.clone()).expect("writer");
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..50 {
            let seen = seen.clone();
            writer.send(move |store| {
                store.put_cached(&format!("h{i}"), &answer(&format!("a{i}")))?;
                seen.lock().expect("lock").push(i);
                Ok(())
            });
        }
        writer.sync().await.expect("no failure");
        assert_eq!(*seen.lock().expect("lock"), (0..50).collect::<Vec<_>>());
        assert!(store.cached("h49").expect("read").is_some());

        writer.send(|_| Err(StoreError::NoRun("gone".into())));
        let never = seen.clone();
        writer.send(move |_| {
            never.lock().expect("lock").push(99);
            Ok(())
        });
        assert!(matches!(writer.finish().await, Err(StoreError::NoRun(_))));
        assert!(cancel.is_cancelled());
        assert!(!seen.lock().expect("lock").contains(&99));
    }
}
