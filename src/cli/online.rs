//! `loupe check SESSION --online`: asks each model's endpoint whether it answers and knows
//! the model (llama.cpp serves any name it is asked for, so a wrong id would otherwise run
//! silently), and asks each embedder to embed a word.
//!
//! The lists asked: OpenAI-compatible `GET {base}/models` (`data[].id`), Anthropic
//! `GET {base}/models` (same shape, with its key and version headers), Ollama
//! `GET {base}/api/tags` (`models[].name`, `:latest` optional).

use std::time::Duration;

use serde_json::Value;

use crate::session::{ModelSpec, ProviderKind, Session};

/// How long one question to an endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What one model's endpoint said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `model small` or `embedder small (rag docs)`.
    pub what: String,
    /// `None` when fine, else why not.
    pub problem: Option<String>,
}

/// Asks every model the session's variants, judges and rag configs use.
pub fn check_online(session: &Session) -> anyhow::Result<Vec<Finding>> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(3))
        .build()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut out = Vec::new();
        for (name, spec) in &session.file.models {
            let problem = model_problem(&client, spec).await.err();
            out.push(Finding {
                what: format!("model {name} ({} at {})", spec.model, base(spec)),
                problem,
            });
        }
        for (rag, spec) in &session.file.rag {
            let Some(embedder) = &spec.embedder else {
                continue;
            };
            let Some(model) = session.file.models.get(embedder) else {
                continue;
            };
            let problem = embed_problem(&client, model).await.err();
            out.push(Finding {
                what: format!("embedder {embedder} of rag {rag}"),
                problem,
            });
        }
        Ok(out)
    })
}

fn base(spec: &ModelSpec) -> String {
    spec.base_url
        .as_deref()
        .unwrap_or(crate::providers::default_base_url(spec.provider))
        .trim()
        .trim_end_matches('/')
        .to_owned()
}

/// The key the model names, from its environment variable (never printed).
fn key(spec: &ModelSpec) -> Result<Option<String>, String> {
    match &spec.api_key_env {
        None => Ok(None),
        Some(var) => std::env::var(var)
            .map(Some)
            .map_err(|_| format!("the API key variable {var} is not set")),
    }
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
) -> Result<Value, String> {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", reason(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    resp.json::<Value>()
        .await
        .map_err(|e| format!("{url} did not answer JSON: {e}"))
}

/// The innermost cause of a request error ("Connection refused"), which is what says why.
fn reason(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

async fn model_problem(client: &reqwest::Client, spec: &ModelSpec) -> Result<(), String> {
    let base = base(spec);
    let key = key(spec)?;
    let (url, headers, list) = match spec.provider {
        ProviderKind::Openai => {
            let headers: Vec<(&str, String)> = key
                .iter()
                .map(|k| ("authorization", format!("Bearer {k}")))
                .collect();
            (format!("{base}/models"), headers, "data")
        }
        ProviderKind::Anthropic => {
            let mut headers = vec![(
                "anthropic-version",
                crate::providers::ANTHROPIC_VERSION.to_owned(),
            )];
            headers.extend(key.iter().map(|k| ("x-api-key", k.clone())));
            (format!("{base}/models"), headers, "data")
        }
        ProviderKind::Ollama => {
            let base = base.trim_end_matches("/api");
            (format!("{base}/api/tags"), Vec::new(), "models")
        }
    };
    let json = get_json(client, &url, &headers).await?;
    let names: Vec<String> = json[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m["id"].as_str().or_else(|| m["name"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let wanted = spec.model.trim();
    let known = names.iter().any(|n| {
        n == wanted
            || (spec.provider == ProviderKind::Ollama && n.strip_suffix(":latest") == Some(wanted))
    });
    if known {
        return Ok(());
    }
    let mut listed: Vec<&str> = names.iter().map(String::as_str).take(8).collect();
    if names.len() > 8 {
        listed.push("...");
    }
    Err(format!(
        "{url} does not list model {wanted:?} (it lists: {})",
        if listed.is_empty() {
            "nothing".to_owned()
        } else {
            listed.join(", ")
        }
    ))
}

async fn embed_problem(client: &reqwest::Client, spec: &ModelSpec) -> Result<(), String> {
    let base = base(spec);
    let url = format!("{base}/embeddings");
    let mut req = client
        .post(&url)
        .json(&serde_json::json!({"model": spec.model, "input": ["loupe check"]}));
    if let Some(k) = key(spec)? {
        req = req.bearer_auth(k);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", reason(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    let json: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url} did not answer JSON: {e}"))?;
    match json["data"][0]["embedding"].as_array() {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(format!("{url} returned no embedding")),
    }
}
