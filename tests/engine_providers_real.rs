//! The provider client against the real local model: llama.cpp's server with
//! SmolLM2-135M-Instruct, as `scripts/model.sh` installs and starts it.
//!
//! The server is found through `LOUPE_TEST_BASE_URL` (e.g. `http://127.0.0.1:8080`, as
//! `scripts/test.sh` exports it). When that is unset these tests install and start one
//! themselves on a free port; it exits on its own when this test process ends. Set
//! `LOUPE_SKIP_MODEL=1` to skip them (loudly) on a machine that cannot run the model.

mod common;

use common::model_server;

use loupe::providers::{ChatRequest, Client, Completion, Message, Role, StreamEvent};
use loupe::session::{ModelSpec, Params, ProviderKind, Timeouts};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn spec(provider: ProviderKind, stream: bool) -> Option<ModelSpec> {
    let Some(base) = model_server::server() else {
        model_server::skip_note("the real-model provider tests");
        return None;
    };
    Some(ModelSpec {
        provider,
        base_url: Some(format!("{base}/v1")),
        model: model_server::MODEL.into(),
        params: Params::default(),
        api_key_env: None,
        price: None,
        concurrency: None,
        rpm: None,
        // Generous: the machine may be busy compiling while these run.
        timeouts: Some(Timeouts {
            connect_ms: Some(5_000),
            total_ms: Some(180_000),
            idle_ms: Some(120_000),
        }),
        retries: None,
        stream: Some(stream),
    })
}

fn request(max_tokens: u32) -> ChatRequest {
    ChatRequest {
        model: model_server::MODEL.into(),
        messages: vec![
            Message::new(Role::System, "You are a helpful assistant. Answer briefly."),
            Message::new(Role::User, "Name three colours of the rainbow."),
        ],
        params: Params {
            temperature: Some(0.0),
            max_tokens: Some(max_tokens),
            seed: Some(7),
            ..Params::default()
        },
        response_format: None,
        top_logprobs: None,
    }
}

async fn complete(spec: &ModelSpec, req: &ChatRequest) -> (Completion, Vec<StreamEvent>) {
    let client = Client::new(spec).expect("client");
    let cancel = CancellationToken::new();
    let mut events = Vec::new();
    let c = client
        .complete(req, &cancel, &mut |e: &StreamEvent| {
            events.push(e.clone());
        })
        .await
        .unwrap_or_else(|f| panic!("completion against {} failed: {f}", client.url()));
    (c, events)
}

fn check(c: &Completion, events: &[StreamEvent]) {
    assert!(!c.text.trim().is_empty(), "empty answer: {c:?}");
    assert!(!c.usage.estimated, "usage not reported: {c:?}");
    assert!(
        c.usage.input_tokens > 0 && c.usage.output_tokens > 0,
        "{c:?}"
    );
    assert_eq!(c.attempts, 1);
    let ttft = c.ttft_ms.expect("time to first token");
    assert!(ttft <= c.latency_ms, "{c:?}");
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        streamed, c.text,
        "the deltas add up to the text, byte for byte"
    );
    assert!(c.finish_reason.is_some(), "{c:?}");
}

#[tokio::test]
async fn openai_plain() {
    let Some(spec) = spec(ProviderKind::Openai, false) else {
        return;
    };
    let (c, events) = complete(&spec, &request(16)).await;
    check(&c, &events);
    assert!(c.usage.output_tokens <= 16);
}

#[tokio::test]
async fn openai_streaming() {
    let Some(spec) = spec(ProviderKind::Openai, true) else {
        return;
    };
    let (c, events) = complete(&spec, &request(16)).await;
    check(&c, &events);
    let n = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Delta(_)))
        .count();
    assert!(n > 1, "streamed in one piece: {events:?}");
}

#[tokio::test]
async fn anthropic_plain() {
    let Some(spec) = spec(ProviderKind::Anthropic, false) else {
        return;
    };
    let (c, events) = complete(&spec, &request(16)).await;
    check(&c, &events);
}

#[tokio::test]
async fn anthropic_streaming() {
    let Some(spec) = spec(ProviderKind::Anthropic, true) else {
        return;
    };
    let (c, events) = complete(&spec, &request(16)).await;
    check(&c, &events);
    assert!(
        c.usage.input_tokens > 5,
        "prompt tokens counted, cached ones too: {c:?}"
    );
}

#[tokio::test]
async fn openai_json_schema_gives_valid_json() {
    let Some(spec) = spec(ProviderKind::Openai, true) else {
        return;
    };
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "risk": {"enum": ["low", "medium", "high"]}
        },
        "required": ["title", "risk"],
        "additionalProperties": false
    });
    let mut req = request(120);
    req.messages = vec![
        Message::new(
            Role::System,
            "Return JSON with a short title and a risk of low, medium or high.",
        ),
        Message::new(Role::User, "Evaluate: rename a log field."),
    ];
    req.response_format = Some(schema);
    let (c, events) = complete(&spec, &req).await;
    check(&c, &events);
    let v: Value =
        serde_json::from_str(&c.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", c.text));
    assert!(v["title"].is_string(), "{v}");
    assert!(
        ["low", "medium", "high"].contains(&v["risk"].as_str().unwrap_or("")),
        "{v}"
    );
}
