//! The machinery every provider shares: HTTP, timeouts, retries with backoff, cancellation,
//! concurrency and rate limits, usage estimates and timings.

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use super::anthropic::Anthropic;
use super::error::{Failure, ProviderError, TimeoutPhase};
use super::limits::{Limits, Slot};
use super::ollama::Ollama;
use super::openai::OpenAi;
use super::protocol::{Provider, error_body_excerpt, trim_base};
use super::reachability::Reachability;
use super::types::{ChatRequest, Completion, StreamEvent, Usage};
use crate::spec::{ModelSpec, ProviderKind};

// Embeddings go through the same connection pool, limits and retry policy as chat, so
// their code is a child of this module (it reaches the client's private parts).
#[path = "embed.rs"]
pub(super) mod embed;

/// Opening a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Silence allowed before the response headers and between two chunks of the body.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// One whole attempt, request sent to last byte.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_mins(5);
/// Attempts after the first one, for retryable failures.
pub const DEFAULT_RETRIES: u32 = 3;
/// Backoff before retry n is uniform in `0..=min(cap, base * 2^(n-1))` ("full jitter").
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(20);
/// Requests in flight at once per model, when the session sets no `concurrency`.
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// A Retry-After longer than this is not waited for: the failure is reported instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_mins(2);
/// Most text kept from one answer.
pub const MAX_TEXT: usize = 16 * 1024 * 1024;
/// Most bytes of an error body read (only an excerpt is kept).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Exponential backoff with full jitter, honoured except where the server said Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: DEFAULT_BACKOFF_BASE,
            cap: DEFAULT_BACKOFF_CAP,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }
}

/// The limits one client applies, from the model spec and the defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    pub connect: Duration,
    pub idle: Duration,
    pub total: Duration,
    pub retries: u32,
    pub stream: bool,
    pub concurrency: u32,
    pub rpm: Option<u32>,
    pub backoff: Backoff,
}

impl Settings {
    pub fn from_spec(spec: &ModelSpec) -> Self {
        let t = spec.timeouts.unwrap_or_default();
        let ms = |v: Option<u64>, d: Duration| v.map_or(d, |ms| Duration::from_millis(ms.max(1)));
        Self {
            connect: ms(t.connect_ms, DEFAULT_CONNECT_TIMEOUT),
            idle: ms(t.idle_ms, DEFAULT_IDLE_TIMEOUT),
            total: ms(t.total_ms, DEFAULT_TOTAL_TIMEOUT),
            retries: spec.retries.unwrap_or(DEFAULT_RETRIES),
            stream: spec.stream != Some(false),
            concurrency: spec.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
            rpm: spec.rpm.filter(|&n| n > 0),
            backoff: Backoff::default(),
        }
    }
}

/// The API key: kept only in memory, shown nowhere.
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

struct Endpoint {
    provider: Box<dyn Provider>,
    kind: ProviderKind,
    url: String,
    headers: HeaderMap,
    key: Option<Secret>,
}

/// A model endpoint with its limits. Cheap to clone: clones share the HTTP connection
/// pool, the concurrency limit and the requests-per-minute window.
///
/// A client made with [`Client::new`] has limits of its own; the process's clients come
/// from the [`ModelPool`](super::ModelPool), which gives every user of one model the same
/// limits.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Arc<Endpoint>,
    settings: Settings,
    limits: Limits,
    /// Whether the endpoint answers, shared with every client of the same endpoint that
    /// the [`ModelPool`](super::ModelPool) made.
    reach: Reachability,
}

/// How long a probe of a down endpoint waits for an answer once connected.
const PROBE_ANSWER: Duration = Duration::from_secs(10);

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.endpoint.kind)
            .field("url", &self.endpoint.url)
            .field("key", &self.endpoint.key)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds from a session's model; reads the API key from the env var the spec names
    /// (error if named but unset). The key is never logged, stored, or put in errors/Debug.
    pub fn new(spec: &ModelSpec) -> Result<Self, ProviderError> {
        let settings = Settings::from_spec(spec);
        Self::with_limits(spec, Limits::new(settings.concurrency, settings.rpm))
    }

    /// [`Client::new`] bounded by `limits` (shared with whoever else holds a clone of
    /// them) instead of limits of its own.
    pub fn with_limits(spec: &ModelSpec, limits: Limits) -> Result<Self, ProviderError> {
        let provider: Box<dyn Provider> = match spec.provider {
            ProviderKind::Openai => Box::new(OpenAi),
            ProviderKind::Anthropic => Box::new(Anthropic),
            ProviderKind::Ollama => Box::new(Ollama),
        };
        let base = spec
            .base_url
            .as_deref()
            .unwrap_or(provider.default_base_url());
        let base = trim_base(base.trim());
        let url = provider.url(base);
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ProviderError::Config(format!(
                    "base_url {base:?} is not an http(s) URL"
                )));
            }
        }
        let key = match &spec.api_key_env {
            Some(env) => match std::env::var(env) {
                Ok(k) if !k.trim().is_empty() => Some(Secret(k.trim().to_owned())),
                _ => return Err(ProviderError::MissingKey { env: env.clone() }),
            },
            None => None,
        };
        let headers = provider.headers(key.as_ref().map(|k| k.0.as_str()))?;
        let settings = Settings::from_spec(spec);
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect)
            .user_agent(concat!("loupe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("cannot set up HTTP: {}", describe(e))))?;
        Ok(Self {
            http,
            endpoint: Arc::new(Endpoint {
                provider,
                kind: spec.provider,
                url,
                headers,
                key,
            }),
            limits,
            settings,
            reach: Reachability::default(),
        })
    }

    /// Shares `reach` (one endpoint's reachability) instead of a state of its own. Call
    /// before cloning.
    #[must_use]
    pub fn with_reachability(mut self, reach: Reachability) -> Self {
        self.reach = reach;
        self
    }

    /// Whether this client's endpoint answers (see [`Reachability`]).
    pub fn reachability(&self) -> &Reachability {
        &self.reach
    }

    /// Replaces the retry backoff (tests use milliseconds). Call before cloning.
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.settings.backoff = Backoff { base, cap };
        self
    }

    /// Replaces the one-minute window of the `rpm` limit (tests). Call before cloning.
    #[must_use]
    pub fn with_rate_window(mut self, window: Duration) -> Self {
        self.limits = Limits::with_window(self.settings.concurrency, self.settings.rpm, window);
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The limits this client's requests count against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// One completion with retries/backoff/timeouts/limits; streams when spec.stream != Some(false).
    ///
    /// `on_event` sees every event as it arrives; before a retry it gets
    /// [`StreamEvent::Restart`], after which the text starts again. Latency and time to
    /// first token count from sending the request of the attempt that succeeded (time
    /// queued for a concurrency or rate slot is not the model's).
    pub async fn complete(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<Completion, Failure> {
        self.complete_in(None, req, cancel, on_event).await
    }

    /// [`Client::complete`] whose first attempt goes in `slot`, a place in this client's
    /// concurrency the caller already holds (a runner admits work only once it has one, so
    /// the limit is kept in one place). A retry waits for a place again, as it does in
    /// `complete`: the place is given up while backing off.
    ///
    /// While the endpoint is down (see [`Reachability`]) the request waits instead of
    /// trying; a connection failure to an endpoint that answered before is tried again
    /// without counting against `retries`, so an outage burns no request's retries.
    pub async fn complete_in(
        &self,
        mut slot: Option<Slot>,
        req: &ChatRequest,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<Completion, Failure> {
        // HTTP attempts made, and those that count against `retries`.
        let mut attempts = 0u32;
        let mut counted = 0u32;
        loop {
            if let Err(error) = self
                .reach
                .ready(&self.endpoint.url, || self.probe(), cancel)
                .await
            {
                return Err(Failure { error, attempts });
            }
            let outcome = tokio::select! {
                biased;
                () = cancel.cancelled() => Err(ProviderError::Cancelled),
                r = self.limited_attempt(slot.take(), req, on_event, &mut attempts) => r,
            };
            let error = match outcome {
                Ok(mut c) => {
                    self.reach.answered();
                    c.attempts = attempts;
                    return Ok(c);
                }
                Err(e) => self.redact(e),
            };
            if error.server_answered() {
                self.reach.answered();
            } else if error.is_connection_failure()
                && !cancel.is_cancelled()
                && self.reach.connection_failed(&error)
            {
                // The endpoint answered before: wait for it (in `ready` once it is down),
                // without counting the attempt.
                if !self.reach.is_down() {
                    let delay = self.settings.backoff.delay(attempts);
                    pause(delay, cancel, attempts).await?;
                }
                continue;
            }
            counted += 1;
            let reason = error.to_string();
            let delay = self.retry_wait(error, counted, attempts, cancel)?;
            on_event(&StreamEvent::Restart {
                attempt: attempts + 1,
                reason,
            });
            pause(delay, cancel, attempts).await?;
        }
    }

    /// After a failed attempt (`attempts` made so far), the wait before retry number
    /// `retry` (1 for the first): what the server asked for with Retry-After, else the
    /// backoff. Or the failure to end with: the error is not retryable, no retries are
    /// left, the work was cancelled, or the server asked for a wait longer than
    /// [`MAX_RETRY_AFTER`].
    fn retry_wait(
        &self,
        error: ProviderError,
        retry: u32,
        attempts: u32,
        cancel: &CancellationToken,
    ) -> Result<Duration, Failure> {
        if cancel.is_cancelled() {
            return Err(Failure {
                error: ProviderError::Cancelled,
                attempts,
            });
        }
        if !error.is_retryable() || retry > self.settings.retries {
            return Err(Failure { error, attempts });
        }
        match error.retry_after() {
            Some(d) if d > MAX_RETRY_AFTER => Err(Failure { error, attempts }),
            Some(d) => Ok(d),
            None => Ok(self.settings.backoff.delay(retry)),
        }
    }

    /// Waits for a concurrency slot (unless one is given) and the rate limit, then makes
    /// one attempt.
    async fn limited_attempt(
        &self,
        slot: Option<Slot>,
        req: &ChatRequest,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
        attempts: &mut u32,
    ) -> Result<Completion, ProviderError> {
        let _slot = match slot {
            Some(s) => s,
            None => self.limits.slot().await?,
        };
        self.limits.pace().await;
        *attempts += 1;
        match timeout(self.settings.total, self.attempt(req, on_event)).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout {
                phase: TimeoutPhase::Total,
                after_ms: self.settings.total.as_millis() as u64,
            }),
        }
    }

    async fn attempt(
        &self,
        req: &ChatRequest,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<Completion, ProviderError> {
        let ep = &*self.endpoint;
        let stream = self.settings.stream;
        let idle = self.settings.idle;
        let idle_ms = idle.as_millis() as u64;
        let body = ep.provider.body(req, stream);
        let started = Instant::now();
        let send = self
            .http
            .post(&ep.url)
            .headers(ep.headers.clone())
            .json(&body)
            .send();
        let mut resp = match timeout(idle, send).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    after_ms: idle_ms,
                });
            }
            Ok(Err(e)) => return Err(self.send_error(e)),
            Ok(Ok(r)) => r,
        };

        let status = resp.status();
        if !status.is_success() {
            let retry_after_ms = retry_after(resp.headers()).map(|d| d.as_millis() as u64);
            let mut body = read_error_body(&mut resp, idle).await;
            // Before the excerpt is cut: a key echoed back must not survive in part.
            if let Some(key) = &ep.key {
                let text = String::from_utf8_lossy(&body);
                if text.contains(key.0.as_str()) {
                    body = text.replace(key.0.as_str(), "[redacted]").into_bytes();
                }
            }
            return Err(ProviderError::Http {
                status: status.as_u16(),
                body: error_body_excerpt(&body),
                retry_after_ms,
            });
        }

        // A server that ignores `stream: true` answers with one JSON document.
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        let mut decoder = ep.provider.decoder(stream && !is_json);
        let mut acc = Accumulator::new(started);
        let mut events = Vec::new();
        // One idle timer for the whole stream, pushed forward at every chunk: a fresh
        // `timeout()` per chunk registers and removes a timer-wheel entry per token, which
        // was most of a streamed answer's CPU cost. Pushing a pending timer later is cheap.
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        loop {
            let next = tokio::select! {
                biased;
                next = resp.chunk() => next,
                () = &mut idle_timer => {
                    return Err(ProviderError::Timeout {
                        phase: TimeoutPhase::Idle,
                        after_ms: idle_ms,
                    });
                }
            };
            let chunk = match next {
                Err(e) => {
                    return Err(ProviderError::StreamCut {
                        reason: describe(e),
                    });
                }
                Ok(None) => break,
                Ok(Some(chunk)) => chunk,
            };
            idle_timer.as_mut().reset(Instant::now() + idle);
            decoder.feed(&chunk, &mut events)?;
            acc.take(&mut events, on_event)?;
            if decoder.is_done() {
                break;
            }
        }
        decoder.finish(&mut events)?;
        acc.take(&mut events, on_event)?;
        Ok(acc.complete(req))
    }

    /// Whether a down endpoint answers again: any HTTP response to a GET of the request
    /// URL will do (a 404 or 405 included); no model is asked anything.
    async fn probe(&self) -> Result<(), String> {
        let ep = &*self.endpoint;
        let send = self.http.get(&ep.url).headers(ep.headers.clone()).send();
        match timeout(self.settings.connect + PROBE_ANSWER, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.redact(self.send_error(e)).to_string()),
            Err(_) => Err("the probe got no answer".to_owned()),
        }
    }

    fn send_error(&self, e: reqwest::Error) -> ProviderError {
        if e.is_connect() {
            if e.is_timeout() || source_is_timeout(&e) {
                return ProviderError::Timeout {
                    phase: TimeoutPhase::Connect,
                    after_ms: self.settings.connect.as_millis() as u64,
                };
            }
            return ProviderError::Connect {
                url: self.endpoint.url.clone(),
                reason: describe(e),
            };
        }
        if e.is_timeout() {
            return ProviderError::Timeout {
                phase: TimeoutPhase::FirstByte,
                after_ms: self.settings.idle.as_millis() as u64,
            };
        }
        ProviderError::Transport {
            reason: describe(e),
        }
    }

    fn redact(&self, e: ProviderError) -> ProviderError {
        match &self.endpoint.key {
            Some(k) => e.redact(&k.0),
            None => e,
        }
    }
}

/// Sleeps `delay`, or ends at once with `Cancelled` (after `attempts`) when `cancel` fires.
async fn pause(delay: Duration, cancel: &CancellationToken, attempts: u32) -> Result<(), Failure> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Failure { error: ProviderError::Cancelled, attempts }),
        () = tokio::time::sleep(delay) => Ok(()),
    }
}

/// Collects one attempt's events into a completion, forwarding each to the caller.
struct Accumulator {
    started: Instant,
    text: String,
    ttft: Option<Duration>,
    usage: Option<(u64, u64)>,
    finish: Option<String>,
    top_logprobs: Vec<Vec<(String, f64)>>,
}

/// Answer positions whose token log-probabilities a completion keeps.
const MAX_LOGPROB_POSITIONS: usize = 16;

impl Accumulator {
    fn new(started: Instant) -> Self {
        Self {
            started,
            top_logprobs: Vec::new(),
            text: String::new(),
            ttft: None,
            usage: None,
            finish: None,
        }
    }

    fn take(
        &mut self,
        events: &mut Vec<StreamEvent>,
        on_event: &mut (dyn FnMut(&StreamEvent) + Send),
    ) -> Result<(), ProviderError> {
        for ev in events.drain(..) {
            match &ev {
                StreamEvent::Delta(t) => {
                    if self.text.len() + t.len() > MAX_TEXT {
                        return Err(ProviderError::TooLarge { limit: MAX_TEXT });
                    }
                    if self.ttft.is_none() && !t.is_empty() {
                        self.ttft = Some(self.started.elapsed());
                    }
                    self.text.push_str(t);
                }
                StreamEvent::Usage {
                    input_tokens,
                    output_tokens,
                } => self.usage = Some((*input_tokens, *output_tokens)),
                StreamEvent::Finish(reason) => {
                    if reason.is_some() || self.finish.is_none() {
                        self.finish.clone_from(reason);
                    }
                }
                StreamEvent::TopLogprobs(top) => {
                    // The first positions carry the answer a judge reads; the rest would only
                    // fill the cache.
                    if self.top_logprobs.len() < MAX_LOGPROB_POSITIONS {
                        self.top_logprobs.push(top.clone());
                    }
                }
                StreamEvent::Restart { .. } => {}
            }
            on_event(&ev);
        }
        Ok(())
    }

    fn complete(self, req: &ChatRequest) -> Completion {
        let usage = match self.usage {
            Some((input_tokens, output_tokens)) => Usage {
                input_tokens,
                output_tokens,
                estimated: false,
            },
            None => Usage {
                input_tokens: estimate_tokens(req.messages.iter().map(|m| m.content.as_str())),
                output_tokens: estimate_tokens(std::iter::once(self.text.as_str())),
                estimated: true,
            },
        };
        Completion {
            text: self.text,
            usage,
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft.map(|d| d.as_millis() as u64),
            finish_reason: self.finish,
            attempts: 1,
            top_logprobs: self.top_logprobs,
        }
    }
}

/// About four characters a token, at least one.
pub fn estimate_tokens<'a>(texts: impl Iterator<Item = &'a str>) -> u64 {
    let chars: usize = texts.map(|t| t.chars().count()).sum();
    (chars as u64).div_ceil(4).max(1)
}

/// Retry-After in seconds or as an HTTP date, or `retry-after-ms` (`OpenAI`).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_millis(ms as u64));
    }
    let v = get("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

async fn read_error_body(resp: &mut reqwest::Response, idle: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match timeout(idle, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    body
}

fn source_is_timeout(e: &reqwest::Error) -> bool {
    let mut cur = e.source();
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        cur = s.source();
    }
    false
}

/// The error's innermost causes on one line ("tcp connect error: Connection refused"),
/// without the URL (a base URL may carry a token) or the wrapping layers' generic words.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut chain: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        chain.push(s.to_string());
        cur = s.source();
    }
    let keep = chain.len().saturating_sub(2);
    super::error::excerpt(&chain[keep..].join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let soon = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&httpdate::fmt_http_date(soon)).expect("ascii"),
        );
        let d = retry_after(&h).expect("a date");
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
    }

    #[test]
    fn backoff_is_bounded() {
        let b = Backoff::default();
        for retry in 1..40 {
            assert!(b.delay(retry) <= DEFAULT_BACKOFF_CAP);
        }
        assert!(b.delay(1) <= DEFAULT_BACKOFF_BASE);
    }

    #[test]
    fn estimates() {
        assert_eq!(estimate_tokens(std::iter::once("")), 1);
        assert_eq!(estimate_tokens(["abcd", "e"].into_iter()), 2);
    }
}
