//! What can go wrong talking to a model, worded for the person reading the output table.

use std::fmt;
use std::time::Duration;

/// Longest excerpt of a server's text kept in an error (error bodies, malformed chunks).
pub const EXCERPT_CHARS: usize = 300;

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Opening the TCP (and TLS) connection.
    Connect,
    /// From sending the request to the response headers.
    FirstByte,
    /// Silence between two chunks of the response body.
    Idle,
    /// The whole attempt, first byte to last.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::FirstByte => "waiting for the first byte",
            Self::Idle => "waiting for the next chunk",
            Self::Total => "for the whole response",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("the API key variable {env} is not set (the session names it in api_key_env)")]
    MissingKey { env: String },
    #[error("bad model configuration: {0}")]
    Config(String),
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("timed out {phase} after {}", fmt_ms(*after_ms))]
    Timeout { phase: TimeoutPhase, after_ms: u64 },
    #[error("HTTP {status}{}", http_detail(*status, body))]
    Http {
        status: u16,
        /// A bounded, control-free excerpt of the response body (its error message when
        /// the body is JSON that has one).
        body: String,
        /// What the server's Retry-After asked for, when it said.
        retry_after_ms: Option<u64>,
    },
    #[error("the connection failed: {reason}")]
    Transport { reason: String },
    #[error("the response stream was cut before it completed: {reason}")]
    StreamCut { reason: String },
    #[error("malformed response: {reason} (in: {excerpt})")]
    Decode { reason: String, excerpt: String },
    #[error("the API reported an error{}: {message}", kind_suffix(kind))]
    Api { kind: String, message: String },
    #[error("the response exceeded {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cancelled")]
    Cancelled,
    /// The endpoint stopped answering mid-run and did not come back within the wait.
    #[error("{url} was unreachable; gave up after waiting {}", fmt_ms(*waited_ms))]
    Unreachable { url: String, waited_ms: u64 },
}

fn fmt_ms(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{ms} ms")
    }
}

fn http_detail(status: u16, body: &str) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    if body.is_empty() {
        reason
    } else {
        format!("{reason}: {body}")
    }
}

fn kind_suffix(kind: &str) -> String {
    if kind.is_empty() {
        String::new()
    } else {
        format!(" ({kind})")
    }
}

impl ProviderError {
    /// Whether another attempt may succeed: overload, server faults, broken connections and
    /// slow servers; never a request the server rejected, nor a malformed answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Transport { .. } | Self::StreamCut { .. } => true,
            Self::Timeout { phase, .. } => *phase != TimeoutPhase::Total,
            // 408 request timeout, 429 rate limited, 5xx server trouble, 529 Anthropic's
            // "overloaded".
            Self::Http { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 529),
            Self::Api { kind, .. } => matches!(
                kind.as_str(),
                "overloaded_error" | "api_error" | "rate_limit_error" | "server_error"
            ),
            Self::MissingKey { .. }
            | Self::Config(_)
            | Self::Decode { .. }
            | Self::TooLarge { .. }
            | Self::Cancelled
            | Self::Unreachable { .. } => false,
        }
    }

    /// The endpoint could not be reached at all: refused, reset before any byte, a name
    /// that does not resolve, a connect timeout. These count toward the endpoint's
    /// unreachable streak (see `Reachability`).
    pub fn is_connection_failure(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::Transport { .. }
                | Self::Timeout {
                    phase: TimeoutPhase::Connect,
                    ..
                }
        )
    }

    /// The server was reached and said something (an HTTP status, a body, or a stall
    /// after connecting): the endpoint answers.
    pub fn server_answered(&self) -> bool {
        match self {
            Self::Http { .. }
            | Self::Api { .. }
            | Self::Decode { .. }
            | Self::TooLarge { .. }
            | Self::StreamCut { .. } => true,
            Self::Timeout { phase, .. } => *phase != TimeoutPhase::Connect,
            _ => false,
        }
    }

    /// The request did not end: the run stopped (`Cancelled`) or gave up waiting for its
    /// endpoint (`Unreachable`). A runner records neither as the cell's outcome, so a
    /// resumed run asks again.
    pub fn is_unfinished(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Unreachable { .. })
    }

    /// The wait the server asked for with Retry-After, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http {
                retry_after_ms: Some(ms),
                ..
            } => Some(Duration::from_millis(*ms)),
            _ => None,
        }
    }

    pub(crate) fn decode(reason: impl fmt::Display, input: &[u8]) -> Self {
        Self::Decode {
            reason: reason.to_string(),
            excerpt: excerpt(&String::from_utf8_lossy(input)),
        }
    }

    /// Replaces every occurrence of `secret` in the error's text (servers sometimes echo
    /// a rejected key back).
    pub(crate) fn redact(self, secret: &str) -> Self {
        if secret.len() < 4 {
            return self;
        }
        let r = |s: String| {
            if s.contains(secret) {
                s.replace(secret, "[redacted]")
            } else {
                s
            }
        };
        match self {
            Self::Connect { url, reason } => Self::Connect {
                url: r(url),
                reason: r(reason),
            },
            Self::Http {
                status,
                body,
                retry_after_ms,
            } => Self::Http {
                status,
                body: r(body),
                retry_after_ms,
            },
            Self::Transport { reason } => Self::Transport { reason: r(reason) },
            Self::StreamCut { reason } => Self::StreamCut { reason: r(reason) },
            Self::Decode { reason, excerpt } => Self::Decode {
                reason: r(reason),
                excerpt: r(excerpt),
            },
            Self::Api { kind, message } => Self::Api {
                kind: r(kind),
                message: r(message),
            },
            Self::Config(s) => Self::Config(r(s)),
            Self::Unreachable { url, waited_ms } => Self::Unreachable {
                url: r(url),
                waited_ms,
            },
            other => other,
        }
    }
}

/// At most [`EXCERPT_CHARS`] characters of untrusted text, on one line, without controls.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut last_space = true;
    for c in text.trim().chars() {
        if chars == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        // Whitespace runs (newlines included) fold into one space; other controls and
        // bidi overrides go, so the excerpt is safe on a terminal and in a table cell.
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                chars += 1;
            }
            last_space = true;
            continue;
        }
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            continue;
        }
        out.push(c);
        chars += 1;
        last_space = false;
    }
    out.trim_end().to_owned()
}

/// A failed completion: why, and after how many HTTP attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: ProviderError,
    pub attempts: u32,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attempts {
            0 | 1 => write!(f, "{}", self.error),
            n => write!(f, "{} (after {n} attempts)", self.error),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_bounded_and_clean() {
        let long = "x".repeat(1000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("a\n\n b\u{1b}[2J\tc"), "a b[2J c");
    }

    #[test]
    fn messages_read_well() {
        let e = ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte,
            after_ms: 60_000,
        };
        assert_eq!(
            e.to_string(),
            "timed out waiting for the first byte after 60 s"
        );
        let e = ProviderError::Http {
            status: 429,
            body: "slow down".into(),
            retry_after_ms: None,
        };
        assert_eq!(e.to_string(), "HTTP 429 Too Many Requests: slow down");
        let f = Failure {
            error: e,
            attempts: 4,
        };
        assert_eq!(
            f.to_string(),
            "HTTP 429 Too Many Requests: slow down (after 4 attempts)"
        );
    }

    #[test]
    fn redacts_echoed_keys() {
        let e = ProviderError::Http {
            status: 401,
            body: "bad key sk-secret-123".into(),
            retry_after_ms: None,
        }
        .redact("sk-secret-123");
        assert!(!e.to_string().contains("sk-secret"));
    }
}
