//! An OpenAI-compatible server on loopback that plays both the variants and a scripted judge.
//!
//! A variant request whose last user message contains `style:good` gets `good-output ...`,
//! any other `bad-output ...`. A judge request is one whose last user message starts with
//! `JUDGE case=<id>` and has lines `A: <output>` and `B: <output>`; its answer depends on
//! the case id:
//! - `agree-*`: names the side showing the good output (consistent in both orders),
//! - `bias-*`: always `A` (pure position bias: the orders disagree),
//! - `tie-*`: `tie` in both orders,
//! - `junk-*`: an answer with no verdict in it.
//!
//! Judge requests are counted per `(case, variant shown as A)`. Non-streaming only: test
//! sessions set `stream: false`.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::http::{completion_ok, in_own_thread, last_content, read_request, serve_each};

#[derive(Default)]
pub struct JudgeState {
    pub requests: AtomicUsize,
    pub variant_requests: AtomicUsize,
    pub judge_requests: AtomicUsize,
    /// Judge requests per (case id, which output was shown as A: "good" or "bad").
    pub judged: Mutex<HashMap<(String, String), usize>>,
}

pub type JudgeServer = super::http::Server<JudgeState>;

impl JudgeServer {
    pub fn judged(&self, case: &str, shown_a: &str) -> usize {
        self.state
            .judged
            .lock()
            .unwrap()
            .get(&(case.to_owned(), shown_a.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// Starts the server on a runtime of its own thread.
pub fn start_in_thread() -> JudgeServer {
    in_own_thread(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(JudgeState::default());
        let st = state.clone();
        serve_each(listener, move |sock| serve(sock, st.clone()));
        JudgeServer { addr, state }
    })
}

async fn serve(sock: TcpStream, state: Arc<JudgeState>) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(body) = read_request(&mut rd).await {
        let response = respond(&state, &body);
        if wr.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn respond(state: &JudgeState, body: &[u8]) -> String {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let prompt = last_content(&req, "user");
    let text = if let Some(rest) = prompt.strip_prefix("JUDGE case=") {
        state.judge_requests.fetch_add(1, Ordering::SeqCst);
        let case = rest.lines().next().unwrap_or("").trim().to_owned();
        let shown = |side: &str| {
            prompt
                .lines()
                .find_map(|l| l.strip_prefix(side))
                .unwrap_or("")
                .to_owned()
        };
        let a_is_good = shown("A: ").contains("good-output");
        let b_is_good = shown("B: ").contains("good-output");
        let shown_a = if a_is_good { "good" } else { "bad" };
        *state
            .judged
            .lock()
            .unwrap()
            .entry((case.clone(), shown_a.to_owned()))
            .or_default() += 1;
        if case.starts_with("agree") {
            match (a_is_good, b_is_good) {
                (true, false) => "A".to_owned(),
                (false, true) => r#"{"winner": "B"}"#.to_owned(),
                _ => "tie".to_owned(),
            }
        } else if case.starts_with("bias") {
            "A".to_owned()
        } else if case.starts_with("tie") {
            "Tie.".to_owned()
        } else {
            "Both answers have merits.".to_owned()
        }
    } else {
        state.variant_requests.fetch_add(1, Ordering::SeqCst);
        if prompt.contains("style:good") {
            format!("good-output for {prompt}")
        } else {
            format!("bad-output for {prompt}")
        }
    };
    let (in_tok, out_tok) = (10 + body.len() / 4, 1 + text.len() / 4);
    completion_ok(&req["model"], &text, in_tok, out_tok)
}

/// Writes a session with variants `good` and `bad`, a `contains good-output` check, a judge
/// over the pair, and `cases` (ids as the script above reads them). Returns its path.
pub fn write_session(dir: &std::path::Path, base_url: &str, cases: &[&str]) -> std::path::PathBuf {
    let yaml = format!(
        r#"name: judged
models:
  mock:
    provider: openai
    base_url: {base_url}
    model: mock
    concurrency: 2
    stream: false
  referee:
    provider: openai
    base_url: {base_url}
    model: referee
    params: {{ max_tokens: 8, temperature: 0 }}
    concurrency: 2
    stream: false
templates:
  good:
    user: "style:good {{{{ text }}}}"
  bad:
    user: "style:bad {{{{ text }}}}"
  judge:
    system: "Compare two answers. Reply A, B or tie."
    user: "JUDGE case={{{{ case.id }}}}\nA: {{{{ output_a }}}}\nB: {{{{ output_b }}}}\n"
variants:
  - {{ name: good, template: good, model: mock }}
  - {{ name: bad, template: bad, model: mock }}
cases: {{ file: cases.jsonl }}
checks:
  - {{ contains: {{ value: good-output }} }}
  - {{ judge: {{ template: judge, model: referee, pairs: [[good, bad]] }} }}
"#
    );
    super::jsonl::write(
        &dir.join("cases.jsonl"),
        cases
            .iter()
            .map(|id| serde_json::json!({"id": id, "text": format!("request {id}")})),
    );
    let path = dir.join("judged.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}
