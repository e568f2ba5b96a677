//! Whether a model's endpoint answers, shared by every request to it in the process: when
//! it stops answering mid-run, requests wait for it instead of failing one by one.
//!
//! A connection failure (refused, reset before any byte, DNS, connect timeout) to an
//! endpoint that has answered before in this process counts toward a streak; after
//! [`ReachPolicy::threshold`] in a row the endpoint is *down*: requests wait in
//! [`Reachability::ready`] (they make no attempt, so none burns a retry), and one of them
//! probes the endpoint after 1 s, 2 s, 4 s … capped at 30 s, until it answers. Any answer
//! (an HTTP response of any status) ends the outage and the waiting requests go on.
//!
//! An endpoint that never answered is not waited for: a wrong `base_url` or a server that
//! was never started is reported at once as the cells' errors, as before.
//!
//! A request gives up after waiting [`ReachPolicy::give_up`] (15 minutes by default) with
//! [`ProviderError::Unreachable`]; the runner then stops that model's cells without
//! recording them, so the run ends interrupted and can be resumed. Once no request waits
//! any more (given up or cancelled), nothing probes, so the outage is forgotten: the next
//! request tries the endpoint itself, and three failures make it down again.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::ProviderError;

/// Connection failures in a row (with no answer between) that make an endpoint down.
/// Three: one refused connection is often a restart blip or a stale pooled connection,
/// and a few more at the retry backoff (a second or so) is what a server that went away
/// looks like; more would only send more doomed requests before the pause shows.
pub const DEFAULT_UNREACHABLE_AFTER: u32 = 3;
/// First wait before probing a down endpoint; doubled after each failed probe.
pub const DEFAULT_PROBE_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two probes.
pub const DEFAULT_PROBE_CAP: Duration = Duration::from_secs(30);
/// How long one request waits for a down endpoint before giving up.
pub const DEFAULT_GIVE_UP: Duration = Duration::from_mins(15);

/// When an endpoint counts as down, how it is probed, and how long a request waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachPolicy {
    pub threshold: u32,
    pub probe_first: Duration,
    pub probe_cap: Duration,
    pub give_up: Duration,
}

impl Default for ReachPolicy {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_UNREACHABLE_AFTER,
            probe_first: DEFAULT_PROBE_FIRST,
            probe_cap: DEFAULT_PROBE_CAP,
            give_up: DEFAULT_GIVE_UP,
        }
    }
}

/// What observers (a run's progress) see of an endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReachStatus {
    /// Outages so far in this process.
    pub outages: u32,
    /// Outages that ended with the endpoint answering (the others were forgotten when no
    /// request waited any more).
    pub recoveries: u32,
    /// Time spent down in the outages that ended.
    pub down_ms: u64,
    /// The outage going on, if any.
    pub down: Option<Down>,
}

impl ReachStatus {
    /// Time spent down so far, the current outage included.
    pub fn total_down_ms(&self) -> u64 {
        self.down_ms + self.down.as_ref().map_or(0, |d| elapsed_ms(d.since))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Down {
    pub since: Instant,
    /// When the next probe goes.
    pub retry_at: Instant,
    /// The last connection failure, as the cells would have said it.
    pub error: String,
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct Streak {
    failures: u32,
    answered_once: bool,
    probing: bool,
    /// Requests waiting in `ready`.
    waiters: u32,
    delay: Duration,
}

#[derive(Debug)]
struct Inner {
    policy: ReachPolicy,
    streak: Mutex<Streak>,
    status: watch::Sender<ReachStatus>,
}

/// One endpoint's reachability; clones share it. See the module documentation.
#[derive(Debug, Clone)]
pub struct Reachability {
    inner: Arc<Inner>,
}

impl Default for Reachability {
    fn default() -> Self {
        Self::new(ReachPolicy::default())
    }
}

impl Reachability {
    pub fn new(policy: ReachPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                policy,
                streak: Mutex::new(Streak::default()),
                status: watch::Sender::new(ReachStatus::default()),
            }),
        }
    }

    pub fn policy(&self) -> &ReachPolicy {
        &self.inner.policy
    }

    /// Whether `other` is the very same endpoint state (a clone).
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn status(&self) -> ReachStatus {
        self.inner.status.borrow().clone()
    }

    /// Sees every change of the status.
    pub fn subscribe(&self) -> watch::Receiver<ReachStatus> {
        self.inner.status.subscribe()
    }

    fn streak(&self) -> std::sync::MutexGuard<'_, Streak> {
        // The streak's fields are valid whatever a panicking holder was doing.
        self.inner
            .streak
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The endpoint answered (a response of any status): the streak ends, and so does an
    /// outage.
    pub fn answered(&self) {
        let mut s = self.streak();
        s.answered_once = true;
        s.failures = 0;
        if self.inner.status.borrow().down.is_some() {
            s.delay = Duration::ZERO;
            self.inner.status.send_modify(|st| {
                if let Some(d) = st.down.take() {
                    st.down_ms += elapsed_ms(d.since);
                    st.recoveries += 1;
                }
            });
        }
    }

    /// A request could not reach the endpoint. Returns whether the request should wait and
    /// try again without counting the attempt (the endpoint answered before in this
    /// process), rather than fail as usual.
    pub fn connection_failed(&self, error: &ProviderError) -> bool {
        let mut s = self.streak();
        if !s.answered_once {
            return false;
        }
        s.failures = s.failures.saturating_add(1);
        let policy = self.inner.policy;
        if s.failures >= policy.threshold.max(1) && self.inner.status.borrow().down.is_none() {
            s.delay = policy.probe_first;
            let now = Instant::now();
            self.inner.status.send_modify(|st| {
                st.outages += 1;
                st.down = Some(Down {
                    since: now,
                    retry_at: now + policy.probe_first,
                    error: error.to_string(),
                });
            });
        }
        true
    }

    pub fn is_down(&self) -> bool {
        self.inner.status.borrow().down.is_some()
    }

    /// A probe found the endpoint still down: the next waits twice as long (capped).
    fn probe_failed(&self, error: String) {
        let mut s = self.streak();
        s.probing = false;
        let policy = self.inner.policy;
        s.delay = (s.delay * 2).clamp(policy.probe_first, policy.probe_cap);
        let retry_at = Instant::now() + s.delay;
        self.inner.status.send_modify(|st| {
            if let Some(d) = &mut st.down {
                d.retry_at = retry_at;
                d.error = error;
            }
        });
    }

    /// Returns at once while the endpoint is up; while it is down, waits until it answers,
    /// probing it with `probe` when a probe is due and no other request is probing.
    /// Fails with [`ProviderError::Unreachable`] after waiting the policy's `give_up`, or
    /// `Cancelled`.
    pub async fn ready<F, Fut>(
        &self,
        url: &str,
        probe: F,
        cancel: &CancellationToken,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        if !self.is_down() {
            return Ok(());
        }
        let started = Instant::now();
        let give_up_at = started + self.inner.policy.give_up;
        let mut changes = self.subscribe();
        self.streak().waiters += 1;
        let _waiting = WaiterGuard(self);
        loop {
            let (due, mine) = {
                let mut s = self.streak();
                let status = changes.borrow_and_update();
                let Some(down) = &status.down else {
                    return Ok(());
                };
                let mine = !s.probing && Instant::now() >= down.retry_at;
                s.probing |= mine;
                // While another request probes, only its outcome (a change) is awaited.
                let due = if s.probing && !mine {
                    give_up_at
                } else {
                    down.retry_at.min(give_up_at)
                };
                (due, mine)
            };
            if Instant::now() >= give_up_at {
                if mine {
                    self.probe_abandoned();
                }
                return Err(ProviderError::Unreachable {
                    url: url.to_owned(),
                    waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
            if mine {
                // Dropped before the probe ends (cancelled): another request probes.
                let guard = ProbeGuard(self);
                let outcome = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                    r = probe() => r,
                };
                std::mem::forget(guard);
                match outcome {
                    Ok(()) => {
                        self.streak().probing = false;
                        self.answered();
                    }
                    Err(e) => self.probe_failed(e),
                }
                continue;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                _ = changes.changed() => {}
                () = tokio::time::sleep_until(due) => {}
            }
        }
    }

    /// The probing request went away before its probe ended: another one takes over.
    fn probe_abandoned(&self) {
        self.streak().probing = false;
        // Wakes the other waiters, who see no probe going and a probe due.
        self.inner.status.send_modify(|_| {});
    }
}

/// Counts a request out of `ready`; the last one out forgets an outage nobody probes.
struct WaiterGuard<'a>(&'a Reachability);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let mut s = self.0.streak();
        s.waiters = s.waiters.saturating_sub(1);
        if s.waiters == 0 && self.0.is_down() {
            s.failures = 0;
            s.delay = Duration::ZERO;
            s.probing = false;
            self.0.inner.status.send_modify(|st| {
                if let Some(d) = st.down.take() {
                    st.down_ms += elapsed_ms(d.since);
                }
            });
        }
    }
}

struct ProbeGuard<'a>(&'a Reachability);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.0.probe_abandoned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn refused() -> ProviderError {
        ProviderError::Connect {
            url: "http://h/v1".into(),
            reason: "Connection refused".into(),
        }
    }

    fn quick() -> ReachPolicy {
        ReachPolicy {
            threshold: 3,
            probe_first: Duration::from_millis(20),
            probe_cap: Duration::from_millis(80),
            give_up: Duration::from_secs(5),
        }
    }

    #[test]
    fn never_answered_is_not_waited_for() {
        let r = Reachability::new(quick());
        for _ in 0..5 {
            assert!(!r.connection_failed(&refused()));
        }
        assert!(!r.is_down());
    }

    #[test]
    fn down_after_the_threshold_and_up_on_an_answer() {
        let r = Reachability::new(quick());
        r.answered();
        assert!(r.connection_failed(&refused()));
        assert!(r.connection_failed(&refused()));
        // An answer between failures breaks the streak.
        r.answered();
        assert!(r.connection_failed(&refused()));
        assert!(r.connection_failed(&refused()));
        assert!(!r.is_down());
        assert!(r.connection_failed(&refused()));
        assert!(r.is_down());
        let st = r.status();
        assert_eq!(st.outages, 1);
        assert!(st.down.expect("down").error.contains("Connection refused"));
        r.answered();
        assert!(!r.is_down());
        assert_eq!(r.status().outages, 1);
    }

    #[tokio::test]
    async fn waiters_probe_one_at_a_time_with_growing_waits_until_it_answers() {
        let r = Reachability::new(quick());
        r.answered();
        for _ in 0..3 {
            r.connection_failed(&refused());
        }
        let probes = AtomicU32::new(0);
        let probe = || async {
            // Down for the first three probes.
            if probes.fetch_add(1, Ordering::SeqCst) < 3 {
                Err("refused".to_owned())
            } else {
                Ok(())
            }
        };
        let cancel = CancellationToken::new();
        let t0 = Instant::now();
        let waits =
            futures::future::join_all((0..4).map(|_| r.ready("http://h/v1", probe, &cancel))).await;
        assert!(waits.iter().all(Result::is_ok), "{waits:?}");
        assert_eq!(probes.load(Ordering::SeqCst), 4);
        // 20 + 40 + 80 + 80 ms of waits between probes at least.
        assert!(
            t0.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
        assert!(!r.is_down());
        assert!(r.status().down_ms >= 200);
    }

    #[tokio::test]
    async fn a_request_gives_up_after_the_policy_s_wait() {
        let r = Reachability::new(ReachPolicy {
            give_up: Duration::from_millis(150),
            ..quick()
        });
        r.answered();
        for _ in 0..3 {
            r.connection_failed(&refused());
        }
        let cancel = CancellationToken::new();
        let e = r
            .ready(
                "http://h/v1",
                || async { Err("refused".to_owned()) },
                &cancel,
            )
            .await
            .expect_err("gives up");
        assert!(matches!(e, ProviderError::Unreachable { .. }), "{e:?}");
        assert!(e.to_string().contains("http://h/v1"), "{e}");
        // Nobody waits or probes any more: the outage is forgotten (not recovered), and
        // the next request tries the endpoint itself.
        assert!(!r.is_down());
        let st = r.status();
        assert_eq!((st.outages, st.recoveries), (1, 0));
        assert!(r.connection_failed(&refused()));
        assert!(!r.is_down());
    }
}
