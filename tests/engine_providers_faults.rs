//! The provider client against an in-process HTTP server that misbehaves on purpose:
//! rate limits, server errors, silence, cut streams, garbage, resets, cancellation,
//! concurrency and rate limits, and the Ollama and Anthropic protocols.
//!
//! The server is a raw `TcpListener` speaking just enough HTTP/1.1, so each test can
//! script the exact bytes (and the exact moment a connection breaks).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loupe::providers::{
    ChatRequest, Client, Completion, Failure, Message, ProviderError, Role, StreamEvent,
    TimeoutPhase,
};
use loupe::session::{ModelSpec, Params, ProviderKind, Timeouts};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------
// The scripted server

/// What the server does on one connection, in order; the connection closes after.
#[derive(Clone)]
enum Step {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Abort with a TCP reset instead of a clean close.
    Reset,
}

struct Hit {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
    at: Instant,
}

type Script = dyn Fn(u32) -> Vec<Step> + Send + Sync;

struct Server {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    max_in_flight: Arc<AtomicU32>,
}

impl Server {
    /// Serves `script(n)` to the n-th request (1-based).
    async fn start(script: impl Fn(u32) -> Vec<Step> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicU32::new(0));
        let max_in_flight = Arc::new(AtomicU32::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::new(AtomicU32::new(0));
        {
            let hits = hits.clone();
            let max_in_flight = max_in_flight.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    let (hits, script, counter) = (hits.clone(), script.clone(), counter.clone());
                    let (in_flight, max_in_flight) = (in_flight.clone(), max_in_flight.clone());
                    tokio::spawn(async move {
                        serve(sock, &hits, &*script, &counter, &in_flight, &max_in_flight).await;
                    });
                }
            });
        }
        Self {
            addr,
            hits,
            max_in_flight,
        }
    }

    fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn hits(&self) -> std::sync::MutexGuard<'_, Vec<Hit>> {
        self.hits.lock().expect("lock")
    }
}

async fn serve(
    mut sock: TcpStream,
    hits: &Mutex<Vec<Hit>>,
    script: &Script,
    counter: &AtomicU32,
    in_flight: &AtomicU32,
    max_in_flight: &AtomicU32,
) {
    let Some((path, headers, body)) = read_request(&mut sock).await else {
        return;
    };
    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max_in_flight.fetch_max(now, Ordering::SeqCst);
    hits.lock().expect("lock").push(Hit {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    for step in script(n) {
        match step {
            Step::Write(bytes) => {
                if sock.write_all(&bytes).await.is_err() {
                    break;
                }
                let _ = sock.flush().await;
            }
            Step::Sleep(d) => tokio::time::sleep(d).await,
            Step::Reset => {
                let _ = sock.set_zero_linger();
                break;
            }
        }
    }
    in_flight.fetch_sub(1, Ordering::SeqCst);
    drop(sock);
}

async fn read_request(sock: &mut TcpStream) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some((path, headers, body))
}

// ---------------------------------------------------------------------------------------
// Response builders

fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> Step {
    let mut s = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    Step::Write(s.into_bytes())
}

/// A 429 whose Retry-After (an hour) is beyond what the client waits for.
fn come_back_in_an_hour() -> Step {
    reply(
        "429 Too Many Requests",
        &[("Retry-After", "3600")],
        "come back later",
    )
}

fn json_reply(body: &Value) -> Step {
    reply(
        "200 OK",
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
}

fn stream_head(content_type: &str) -> Step {
    Step::Write(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    )
}

/// One HTTP chunk holding `data`.
fn chunk(data: &str) -> Step {
    Step::Write(format!("{:x}\r\n{data}\r\n", data.len()).into_bytes())
}

fn end_chunks() -> Step {
    Step::Write(b"0\r\n\r\n".to_vec())
}

fn sse_delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

fn sse_finish_and_usage() -> String {
    format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}})
    )
}

/// A whole, well-formed `OpenAI` stream saying `parts` concatenated.
fn openai_stream(parts: &[&str]) -> Vec<Step> {
    let mut steps = vec![stream_head("text/event-stream")];
    steps.extend(parts.iter().map(|p| chunk(&sse_delta(p))));
    steps.push(chunk(&sse_finish_and_usage()));
    steps.push(end_chunks());
    steps
}

// ---------------------------------------------------------------------------------------
// Client helpers

fn spec(provider: ProviderKind, base: String) -> ModelSpec {
    ModelSpec {
        provider,
        base_url: Some(base),
        model: "test-model".into(),
        params: Params::default(),
        api_key_env: None,
        price: None,
        concurrency: None,
        rpm: None,
        timeouts: Some(Timeouts {
            connect_ms: Some(2_000),
            total_ms: Some(10_000),
            idle_ms: Some(2_000),
        }),
        retries: Some(2),
        stream: None,
    }
}

fn client(spec: &ModelSpec) -> Client {
    Client::new(spec)
        .expect("client")
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

/// A token cancelled `after` from now, as a user stopping a run.
fn cancelled_in(after: Duration) -> CancellationToken {
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        trigger.cancel();
    });
    cancel
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        messages: vec![
            Message::new(Role::System, "Be brief."),
            Message::new(Role::User, "Say hello."),
        ],
        params: Params {
            temperature: Some(0.0),
            max_tokens: Some(16),
            seed: Some(7),
            ..Params::default()
        },
        response_format: None,
        top_logprobs: None,
    }
}

async fn run(client: &Client) -> (Result<Completion, Failure>, Vec<StreamEvent>) {
    let mut events = Vec::new();
    let cancel = CancellationToken::new();
    let result = client
        .complete(&request(), &cancel, &mut |e: &StreamEvent| {
            events.push(e.clone());
        })
        .await;
    (result, events)
}

fn deltas(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn streams_openai_text_exactly_with_usage_and_timings() {
    let server = Server::start(|_| openai_stream(&[" Hel", "lo", " \n world ", "!"])).await;
    let (result, events) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("success");
    assert_eq!(c.text, " Hello \n world !");
    assert_eq!(deltas(&events), c.text);
    assert_eq!(c.attempts, 1);
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (
            c.usage.input_tokens,
            c.usage.output_tokens,
            c.usage.estimated
        ),
        (11, 3, false)
    );
    let ttft = c.ttft_ms.expect("ttft");
    assert!(ttft <= c.latency_ms);

    let hits = server.hits();
    assert_eq!(hits[0].path, "/v1/chat/completions");
    let body = &hits[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["seed"], 7);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(hits[0].headers.iter().all(|(k, _)| k != "authorization"));
}

#[tokio::test]
async fn plain_openai_without_usage_is_estimated() {
    let server = Server::start(|_| {
        vec![json_reply(&json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                         "finish_reason": "stop"}]
        }))]
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.stream = Some(false);
    let (result, events) = run(&client(&s)).await;
    let c = result.expect("success");
    assert_eq!(c.text, "Hello there");
    assert_eq!(deltas(&events), "Hello there");
    assert!(c.usage.estimated);
    assert_eq!(c.usage.output_tokens, 3); // 11 chars / 4, rounded up
    assert!(c.usage.input_tokens >= 1);
    assert_eq!(server.hits()[0].body["stream"], false);
    assert!(server.hits()[0].body.get("stream_options").is_none());
}

#[tokio::test]
async fn rate_limited_429_waits_for_retry_after_then_succeeds() {
    let server = Server::start(|n| match n {
        1 => vec![reply(
            "429 Too Many Requests",
            &[("Retry-After", "1"), ("Content-Type", "application/json")],
            r#"{"error":{"type":"rate_limit_error","message":"slow down"}}"#,
        )],
        _ => openai_stream(&["ok"]),
    })
    .await;
    let (result, events) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("success after the wait");
    assert_eq!(c.attempts, 2);
    assert_eq!(c.text, "ok");
    let hits = server.hits();
    let waited = hits[1].at.duration_since(hits[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, StreamEvent::Restart { attempt: 2, reason } if reason.contains("429"))
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let server = Server::start(|n| match n {
        1 => {
            let when = std::time::SystemTime::now() + Duration::from_secs(2);
            let date = httpdate::fmt_http_date(when);
            vec![reply(
                "503 Service Unavailable",
                &[("Retry-After", &date)],
                "busy",
            )]
        }
        _ => openai_stream(&["ok"]),
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    assert_eq!(result.expect("success").attempts, 2);
    let hits = server.hits();
    // An HTTP date has one-second resolution: at least one second is always left.
    assert!(hits[1].at.duration_since(hits[0].at) >= Duration::from_millis(900));
}

#[tokio::test]
async fn retry_after_beyond_the_limit_is_reported_not_waited_for() {
    let server = Server::start(|_| vec![come_back_in_an_hour()]).await;
    let t0 = Instant::now();
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let f = result.expect_err("no hour-long wait");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(f.attempts, 1);
    assert!(matches!(f.error, ProviderError::Http { status: 429, .. }));
}

#[tokio::test]
async fn server_error_500_is_retried() {
    let server = Server::start(|n| match n {
        1 => vec![reply("500 Internal Server Error", &[], "oops")],
        _ => openai_stream(&["fine"]),
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("success");
    assert_eq!((c.attempts, c.text.as_str()), (2, "fine"));
}

#[tokio::test]
async fn persistent_503_fails_after_all_retries_with_the_reason() {
    let server = Server::start(|_| {
        vec![reply(
            "503 Service Unavailable",
            &[("Content-Type", "application/json")],
            r#"{"error":{"message":"Loading model","type":"unavailable_error","code":503}}"#,
        )]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let f = result.expect_err("always 503");
    assert_eq!(f.attempts, 3);
    assert_eq!(server.hits().len(), 3);
    let text = f.to_string();
    assert!(
        text.contains("HTTP 503")
            && text.contains("Loading model")
            && text.contains("after 3 attempts"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_request_400_is_not_retried() {
    let server = Server::start(|_| {
        vec![reply(
            "400 Bad Request",
            &[("Content-Type", "application/json")],
            r#"{"error":{"type":"invalid_request_error","message":"max_tokens is too large"}}"#,
        )]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let f = result.expect_err("400");
    assert_eq!(f.attempts, 1);
    assert_eq!(server.hits().len(), 1);
    assert_eq!(
        f.to_string(),
        "HTTP 400 Bad Request: invalid_request_error: max_tokens is too large"
    );
}

#[tokio::test]
async fn slow_first_byte_times_out_after_retries() {
    let server = Server::start(|_| vec![Step::Sleep(Duration::from_secs(5))]).await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.timeouts = Some(Timeouts {
        idle_ms: Some(200),
        ..Timeouts::default()
    });
    s.retries = Some(1);
    let t0 = Instant::now();
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("silence");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(f.attempts, 2);
    assert_eq!(
        f.error,
        ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte,
            after_ms: 200
        }
    );
    assert_eq!(
        f.to_string(),
        "timed out waiting for the first byte after 200 ms (after 2 attempts)"
    );
}

#[tokio::test]
async fn silence_mid_stream_is_an_idle_timeout() {
    let server = Server::start(|_| {
        vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("partial")),
            Step::Sleep(Duration::from_secs(5)),
        ]
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.timeouts = Some(Timeouts {
        idle_ms: Some(200),
        ..Timeouts::default()
    });
    s.retries = Some(0);
    let (result, events) = run(&client(&s)).await;
    let f = result.expect_err("stalled");
    assert!(matches!(
        f.error,
        ProviderError::Timeout {
            phase: TimeoutPhase::Idle,
            ..
        }
    ));
    assert_eq!(deltas(&events), "partial");
}

#[tokio::test]
async fn total_timeout_bounds_a_trickling_stream() {
    let server = Server::start(|_| {
        let mut steps = vec![stream_head("text/event-stream")];
        for _ in 0..50 {
            steps.push(chunk(&sse_delta("x")));
            steps.push(Step::Sleep(Duration::from_millis(50)));
        }
        steps
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.timeouts = Some(Timeouts {
        idle_ms: Some(1_000),
        total_ms: Some(400),
        connect_ms: None,
    });
    let t0 = Instant::now();
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("too slow overall");
    assert!(matches!(
        f.error,
        ProviderError::Timeout {
            phase: TimeoutPhase::Total,
            ..
        }
    ));
    assert_eq!(f.attempts, 1, "a total timeout is not retried");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn stream_cut_mid_way_is_retried_and_the_text_restarts() {
    let server = Server::start(|n| match n {
        // Chunked body broken off inside a chunk: a transport-level cut.
        1 => vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("Hel")),
            Step::Write(b"40\r\ndata: {\"choi".to_vec()),
        ],
        // A clean end of body, but before `[DONE]` and any finish reason.
        2 => vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("Hel")),
            end_chunks(),
        ],
        _ => openai_stream(&["Hel", "lo"]),
    })
    .await;
    let (result, events) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("third time lucky");
    assert_eq!(c.attempts, 3);
    assert_eq!(c.text, "Hello");
    // What a consumer shows: the text after the last restart.
    let last_restart = events
        .iter()
        .rposition(|e| matches!(e, StreamEvent::Restart { .. }))
        .expect("restarts");
    assert_eq!(deltas(&events[last_restart..]), "Hello");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Restart { .. }))
            .count(),
        2
    );
}

#[tokio::test]
async fn stream_cut_every_time_fails_with_the_reason() {
    let server = Server::start(|_| {
        vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("Hel")),
            end_chunks(),
        ]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let f = result.expect_err("never completes");
    assert_eq!(f.attempts, 3);
    assert!(matches!(f.error, ProviderError::StreamCut { .. }));
    assert!(f.to_string().contains("cut before it completed"), "{f}");
}

#[tokio::test]
async fn malformed_sse_json_is_a_decode_error() {
    let server = Server::start(|_| {
        vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("fine so far")),
            chunk("data: {\"choices\": [{\"delta\": {\"content\": \"oops\"\n\n"),
            chunk(&sse_finish_and_usage()),
            end_chunks(),
        ]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let f = result.expect_err("malformed");
    assert_eq!(f.attempts, 1, "malformed answers are not retried");
    assert!(
        matches!(f.error, ProviderError::Decode { .. }),
        "{:?}",
        f.error
    );
    assert!(f.to_string().starts_with("malformed response"), "{f}");
}

#[tokio::test]
async fn garbage_instead_of_http_does_not_panic() {
    let server = Server::start(|n| match n {
        1 => vec![Step::Write(
            b"\x00\xff\xfe not http at all\r\n\r\n".to_vec(),
        )],
        _ => vec![json_reply(&json!({"choices": "not a list"}))],
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.stream = Some(false);
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("garbage");
    assert!(
        matches!(f.error, ProviderError::Decode { .. }),
        "{:?}",
        f.error
    );
    assert_eq!(f.attempts, 2);
}

#[tokio::test]
async fn connection_reset_is_retried() {
    let server = Server::start(|n| match n {
        1 => vec![Step::Reset],
        2 => vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("a")),
            Step::Reset,
        ],
        _ => openai_stream(&["back"]),
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("success after resets");
    assert_eq!((c.attempts, c.text.as_str()), (3, "back"));
}

#[tokio::test]
async fn reset_every_time_fails_with_the_reason() {
    let server = Server::start(|_| vec![Step::Reset]).await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.retries = Some(1);
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("reset");
    assert_eq!(f.attempts, 2);
    assert!(
        matches!(f.error, ProviderError::Transport { .. }),
        "{:?}",
        f.error
    );
    assert!(f.to_string().starts_with("the connection failed: "), "{f}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut s = spec(ProviderKind::Openai, format!("http://127.0.0.1:{port}/v1"));
    s.retries = Some(1);
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("refused");
    assert_eq!(f.attempts, 2);
    assert!(
        matches!(f.error, ProviderError::Connect { .. }),
        "{:?}",
        f.error
    );
    assert!(
        f.to_string()
            .starts_with("cannot connect to http://127.0.0.1:"),
        "{f}"
    );
}

#[tokio::test]
async fn cancellation_mid_stream_returns_promptly() {
    let server = Server::start(|_| {
        vec![
            stream_head("text/event-stream"),
            chunk(&sse_delta("first")),
            Step::Sleep(Duration::from_secs(10)),
        ]
    })
    .await;
    let c = client(&spec(ProviderKind::Openai, server.base()));
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut got = String::new();
    let t0 = Instant::now();
    let mut cancelled_at = None;
    let result = c
        .complete(&request(), &cancel, &mut |e: &StreamEvent| {
            if let StreamEvent::Delta(t) = e {
                got.push_str(t);
                cancelled_at = Some(Instant::now());
                trigger.cancel();
            }
        })
        .await;
    let f = result.expect_err("cancelled");
    assert_eq!(f.error, ProviderError::Cancelled);
    assert_eq!(f.attempts, 1);
    assert_eq!(got, "first");
    let after = cancelled_at.expect("a delta came").elapsed();
    assert!(after < Duration::from_millis(500), "took {after:?} to stop");
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn cancellation_during_backoff_returns_promptly() {
    let server = Server::start(|_| {
        vec![reply(
            "429 Too Many Requests",
            &[("Retry-After", "30")],
            "later",
        )]
    })
    .await;
    let c = client(&spec(ProviderKind::Openai, server.base()));
    let cancel = cancelled_in(Duration::from_millis(300));
    let t0 = Instant::now();
    let f = c
        .complete(&request(), &cancel, &mut |_: &StreamEvent| {})
        .await
        .expect_err("cancelled");
    assert_eq!(f.error, ProviderError::Cancelled);
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn concurrency_limit_is_shared_by_clones() {
    let server = Server::start(|_| {
        let mut steps = vec![Step::Sleep(Duration::from_millis(150))];
        steps.extend(openai_stream(&["ok"]));
        steps
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.concurrency = Some(2);
    let c = client(&s);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let cancel = CancellationToken::new();
            c.complete(&request(), &cancel, &mut |_: &StreamEvent| {})
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("success").text, "ok");
    }
    assert_eq!(server.hits().len(), 6);
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn requests_per_minute_limit_spaces_requests() {
    let server = Server::start(|_| openai_stream(&["ok"])).await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.rpm = Some(2);
    let c = client(&s).with_rate_window(Duration::from_millis(400));
    let t0 = Instant::now();
    for _ in 0..3 {
        let (r, _) = run(&c).await;
        r.expect("success");
    }
    assert!(t0.elapsed() >= Duration::from_millis(400));
    let hits = server.hits();
    assert!(hits[2].at.duration_since(hits[0].at) >= Duration::from_millis(390));
}

#[tokio::test]
async fn server_ignoring_stream_true_still_works() {
    let server = Server::start(|_| {
        vec![json_reply(&json!({
            "choices": [{"index": 0, "message": {"content": "whole"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 1}
        }))]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Openai, server.base()))).await;
    let c = result.expect("success");
    assert_eq!(c.text, "whole");
    assert!(!c.usage.estimated);
}

#[tokio::test]
async fn json_schema_becomes_response_format() {
    let server = Server::start(|_| openai_stream(&["{}"])).await;
    let c = client(&spec(ProviderKind::Openai, server.base()));
    let mut req = request();
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    req.response_format = Some(schema.clone());
    let cancel = CancellationToken::new();
    c.complete(&req, &cancel, &mut |_: &StreamEvent| {})
        .await
        .expect("success");
    let body = &server.hits()[0].body;
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}})
    );
}

#[tokio::test]
async fn ollama_ndjson_streaming_and_plain() {
    let lines = |n: u32| {
        let done = json!({"model": "m", "message": {"role": "assistant", "content": ""},
                          "done": true, "done_reason": "stop",
                          "prompt_eval_count": 21, "eval_count": 4});
        if n == 1 {
            let mut steps = vec![stream_head("application/x-ndjson")];
            for t in ["Hi", " there", "\n"] {
                let line = json!({"model": "m", "message": {"role": "assistant", "content": t}, "done": false});
                steps.push(chunk(&format!("{line}\n")));
            }
            steps.push(chunk(&format!("{done}\n")));
            steps.push(end_chunks());
            steps
        } else {
            let mut whole = done;
            whole["message"]["content"] = json!("Hi there\n");
            vec![json_reply(&whole)]
        }
    };
    let server = Server::start(lines).await;
    let base = format!("http://{}", server.addr);

    let (result, events) = run(&client(&spec(ProviderKind::Ollama, base.clone()))).await;
    let c = result.expect("streamed");
    assert_eq!(c.text, "Hi there\n");
    assert_eq!(deltas(&events), "Hi there\n");
    assert_eq!(
        (
            c.usage.input_tokens,
            c.usage.output_tokens,
            c.usage.estimated
        ),
        (21, 4, false)
    );
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));

    let mut s = spec(ProviderKind::Ollama, base);
    s.stream = Some(false);
    let (result, _) = run(&client(&s)).await;
    let c = result.expect("plain");
    assert_eq!(c.text, "Hi there\n");
    assert_eq!(c.usage.output_tokens, 4);

    let hits = server.hits();
    assert_eq!(hits[0].path, "/api/chat");
    assert_eq!(hits[0].body["stream"], true);
    assert_eq!(hits[1].body["stream"], false);
    assert_eq!(hits[0].body["options"]["num_predict"], 16);
    assert_eq!(hits[0].body["options"]["seed"], 7);
    assert_eq!(hits[0].body["messages"][1]["content"], "Say hello.");
}

#[tokio::test]
async fn ollama_error_line_and_cut() {
    let server = Server::start(|n| match n {
        1 => vec![reply(
            "404 Not Found",
            &[("Content-Type", "application/json")],
            r#"{"error":"model \"x\" not found, try pulling it first"}"#,
        )],
        _ => vec![
            stream_head("application/x-ndjson"),
            chunk(&format!(
                "{}\n",
                json!({"message": {"content": "par"}, "done": false})
            )),
            chunk("{\"message\": {\"content\": \"ti"),
            end_chunks(),
        ],
    })
    .await;
    let base = format!("http://{}", server.addr);
    let (result, _) = run(&client(&spec(ProviderKind::Ollama, base.clone()))).await;
    let f = result.expect_err("404");
    assert_eq!(f.attempts, 1);
    assert!(
        f.to_string().contains("not found, try pulling it first"),
        "{f}"
    );
    let mut s = spec(ProviderKind::Ollama, base);
    s.retries = Some(0);
    let (result, _) = run(&client(&s)).await;
    assert!(matches!(
        result.expect_err("cut").error,
        ProviderError::StreamCut { .. }
    ));
}

fn anthropic_sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn anthropic_stream(text: &[&str]) -> Vec<Step> {
    let mut steps = vec![
        stream_head("text/event-stream"),
        chunk(&anthropic_sse(
            "message_start",
            &json!({"type": "message_start", "message": {"id": "m1", "type": "message", "role": "assistant",
                    "content": [], "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        )),
        chunk(&anthropic_sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        )),
        chunk(&anthropic_sse("ping", &json!({"type": "ping"}))),
    ];
    for t in text {
        steps.push(chunk(&anthropic_sse(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
        )));
    }
    steps.push(chunk(&anthropic_sse(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    )));
    steps.push(chunk(&anthropic_sse(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 5}}),
    )));
    steps.push(chunk(&anthropic_sse(
        "message_stop",
        &json!({"type": "message_stop"}),
    )));
    steps.push(end_chunks());
    steps
}

#[tokio::test]
async fn anthropic_streaming_headers_and_usage() {
    let server = Server::start(|_| anthropic_stream(&["Hello", ", ", "world"])).await;
    let mut s = spec(ProviderKind::Anthropic, server.base());
    // Tests may not set variables (no unsafe here), so the key is one that is always set.
    s.api_key_env = Some("PATH".into());
    let (result, events) = run(&client(&s)).await;
    let c = result.expect("success");
    assert_eq!(c.text, "Hello, world");
    assert_eq!(deltas(&events), "Hello, world");
    assert_eq!(
        (
            c.usage.input_tokens,
            c.usage.output_tokens,
            c.usage.estimated
        ),
        (12, 5, false)
    );
    assert_eq!(c.finish_reason.as_deref(), Some("end_turn"));

    let hits = server.hits();
    assert_eq!(hits[0].path, "/v1/messages");
    let header = |name: &str| {
        hits[0]
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("anthropic-version").as_deref(), Some("2023-06-01"));
    assert_eq!(header("x-api-key"), std::env::var("PATH").ok());
    let body = &hits[0].body;
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["stream"], true);
}

#[tokio::test]
async fn anthropic_error_event_overloaded_is_retried_invalid_is_not() {
    let overloaded = |n: u32| match n {
        1 => vec![
            stream_head("text/event-stream"),
            chunk(&anthropic_sse(
                "error",
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )),
            end_chunks(),
        ],
        _ => anthropic_stream(&["ok"]),
    };
    let server = Server::start(overloaded).await;
    let (result, _) = run(&client(&spec(ProviderKind::Anthropic, server.base()))).await;
    let c = result.expect("retried");
    assert_eq!((c.attempts, c.text.as_str()), (2, "ok"));

    let server = Server::start(|_| {
        vec![
            stream_head("text/event-stream"),
            chunk(&anthropic_sse(
                "error",
                &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}),
            )),
            end_chunks(),
        ]
    })
    .await;
    let (result, _) = run(&client(&spec(ProviderKind::Anthropic, server.base()))).await;
    let f = result.expect_err("invalid");
    assert_eq!(f.attempts, 1);
    assert_eq!(
        f.to_string(),
        "the API reported an error (invalid_request_error): prompt is too long"
    );
}

#[tokio::test]
async fn anthropic_plain_response() {
    let server = Server::start(|_| {
        vec![json_reply(&json!({
            "id": "m", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}],
            "stop_reason": "max_tokens",
            "usage": {"input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 2}
        }))]
    })
    .await;
    let mut s = spec(ProviderKind::Anthropic, server.base());
    s.stream = Some(false);
    let (result, _) = run(&client(&s)).await;
    let c = result.expect("success");
    assert_eq!(c.text, "Hi there");
    assert_eq!((c.usage.input_tokens, c.usage.output_tokens), (10, 2));
    assert_eq!(c.finish_reason.as_deref(), Some("max_tokens"));
    assert_eq!(server.hits()[0].body["stream"], false);
}

#[test]
fn a_named_but_unset_key_is_an_error_and_keys_never_show() {
    let mut s = spec(ProviderKind::Openai, "http://127.0.0.1:9/v1".into());
    s.api_key_env = Some("LOUPE_TEST_VARIABLE_THAT_IS_NEVER_SET".into());
    let e = Client::new(&s).expect_err("missing key");
    assert_eq!(
        e,
        ProviderError::MissingKey {
            env: "LOUPE_TEST_VARIABLE_THAT_IS_NEVER_SET".into()
        }
    );
    assert!(
        e.to_string()
            .contains("LOUPE_TEST_VARIABLE_THAT_IS_NEVER_SET")
    );

    s.api_key_env = Some("PATH".into());
    let c = Client::new(&s).expect("client");
    let key = std::env::var("PATH").expect("PATH is set");
    let debug = format!("{c:?}");
    assert!(!debug.contains(&key), "{debug}");
    assert!(debug.contains("redacted"));
}

#[tokio::test]
async fn an_echoed_key_is_redacted_from_errors() {
    let key = std::env::var("PATH").expect("PATH is set");
    let body =
        json!({"error": {"type": "authentication_error", "message": format!("invalid key {key}")}})
            .to_string();
    let server = Server::start(move |_| {
        vec![reply(
            "401 Unauthorized",
            &[("Content-Type", "application/json")],
            &body,
        )]
    })
    .await;
    let mut s = spec(ProviderKind::Openai, server.base());
    s.api_key_env = Some("PATH".into());
    let (result, _) = run(&client(&s)).await;
    let f = result.expect_err("401");
    assert_eq!(f.attempts, 1);
    assert!(!f.to_string().contains(&key));
    assert!(f.to_string().contains("[redacted]"));
}

#[test]
fn bad_base_url_is_a_config_error() {
    let s = spec(ProviderKind::Openai, "not a url".into());
    assert!(matches!(Client::new(&s), Err(ProviderError::Config(_))));
}

// ---------------------------------------------------------------------------------------
// Embeddings: the same retries as chat

fn embed_request() -> loupe::providers::EmbedRequest {
    loupe::providers::EmbedRequest {
        model: "test-model".into(),
        input: vec!["a passage".into()],
    }
}

/// An OpenAI-compatible embeddings answer for one input.
fn embedding_reply() -> Step {
    json_reply(&json!({
        "object": "list",
        "data": [{"index": 0, "embedding": [0.6, 0.8]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}
    }))
}

/// An embeddings request is retried as a chat request is: a 503 then an answer succeeds
/// on the second attempt, a 400 is not retried, an endless 503 ends after the retries
/// with its reason, and a Retry-After beyond the limit is reported, not waited for.
#[tokio::test]
async fn embeddings_are_retried_as_chat_is() {
    let cancel = CancellationToken::new();
    let server = Server::start(|n| match n {
        1 => vec![reply("503 Service Unavailable", &[], "loading")],
        _ => vec![embedding_reply()],
    })
    .await;
    let embedder = client(&spec(ProviderKind::Openai, server.base()));
    let e = embedder
        .embed(&embed_request(), &cancel)
        .await
        .expect("success on the retry");
    assert_eq!(e.attempts, 2);
    assert_eq!(e.vectors, vec![vec![0.6f32, 0.8]]);
    assert_eq!(server.hits().len(), 2);

    let server = Server::start(|_| vec![reply("400 Bad Request", &[], "no such model")]).await;
    let embedder = client(&spec(ProviderKind::Openai, server.base()));
    let f = embedder
        .embed(&embed_request(), &cancel)
        .await
        .expect_err("400");
    assert_eq!(f.attempts, 1);
    assert!(matches!(f.error, ProviderError::Http { status: 400, .. }));

    let server = Server::start(|_| vec![reply("503 Service Unavailable", &[], "loading")]).await;
    let embedder = client(&spec(ProviderKind::Openai, server.base()));
    let f = embedder
        .embed(&embed_request(), &cancel)
        .await
        .expect_err("503");
    assert_eq!((f.attempts, server.hits().len()), (3, 3), "retries: 2");
    assert!(f.to_string().contains("HTTP 503"), "{f}");

    let server = Server::start(|_| vec![come_back_in_an_hour()]).await;
    let embedder = client(&spec(ProviderKind::Openai, server.base()));
    let t0 = Instant::now();
    let f = embedder
        .embed(&embed_request(), &cancel)
        .await
        .expect_err("429");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(f.attempts, 1);
}

/// Cancelling while an embeddings request backs off ends it at once as cancelled.
#[tokio::test]
async fn cancelling_an_embeddings_retry_ends_it_at_once() {
    let server = Server::start(|_| vec![reply("503 Service Unavailable", &[], "loading")]).await;
    let spec = spec(ProviderKind::Openai, server.base());
    // A long backoff: the cancel lands while it waits.
    let client = Client::new(&spec)
        .expect("client")
        .with_backoff(Duration::from_secs(30), Duration::from_secs(30));
    let cancel = cancelled_in(Duration::from_millis(300));
    let t0 = Instant::now();
    let f = client
        .embed(&embed_request(), &cancel)
        .await
        .expect_err("cancelled");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(matches!(f.error, ProviderError::Cancelled), "{f}");
    assert_eq!(f.attempts, 1);
}
