//! `loupe gate` on the contest our users run: prompt vs prompt+RAG on the same cases.
//!
//! The model is an in-process server that answers from the passages it is given, as a
//! grounded model would, and says "unknown" without them (a small real model does not
//! reliably do either, and this test is about the gate, not the model). Every check result
//! is computed by Loupe from those answers.

#![allow(clippy::unwrap_used)]

mod common;

use common::cli::{loupe, text};

use std::path::Path;

use common::json_server;

/// Systems and their on-call codes: one document each, and one case asking each.
const CODES: [(&str, &str); 10] = [
    ("billing", "B-417"),
    ("search", "S-902"),
    ("ledger", "L-118"),
    ("mailer", "M-350"),
    ("gateway", "G-771"),
    ("scheduler", "Q-264"),
    ("reports", "R-583"),
    ("identity", "I-629"),
    ("storage", "T-045"),
    ("webhooks", "W-836"),
];

/// Answers "The code for X is Y." when a passage in the prompt says so for the system the
/// question names, "unknown" otherwise.
fn grounded_model() -> String {
    let url = json_server::start(|_, req| {
        let prompt = json_server::last_user(req);
        let question = prompt.rsplit("Q: ").next().unwrap_or_default();
        let answer = CODES
            .iter()
            .find(|(system, code)| {
                question.contains(system)
                    && prompt.contains(&format!("The on-call code for {system} is {code}."))
            })
            .map_or("unknown", |(_, code)| code);
        (200, json_server::chat_answer(answer))
    });
    format!("{url}/v1")
}

fn write_session(dir: &Path, base: &str) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let mut cases = String::new();
    for (system, code) in CODES {
        std::fs::write(
            docs.join(format!("{system}.md")),
            format!("# {system}\n\nThe on-call code for {system} is {code}.\n"),
        )
        .unwrap();
        cases.push_str(&format!(
            "  - {{ id: {system}, text: \"What is the on-call code for {system}?\", \
             reference: \"{code}\", relevant: [docs/{system}.md] }}\n"
        ));
    }
    let yaml = format!(
        r#"name: codes
models:
  m:
    provider: openai
    base_url: {base}
    model: grounded
    stream: false
templates:
  prompt:
    user: "Q: {{{{ text }}}}"
  prompt-rag:
    user: "{{% for p in passages %}}[{{{{ p.id }}}}] {{{{ p.text }}}}\n{{% endfor %}}Q: {{{{ text }}}}"
rag:
  runbooks:
    corpus: [docs/*]
    chunk: {{ tokens: 40, overlap: 0 }}
    retriever: bm25
    top_k: 2
    keep: 1
checks:
  - {{ equals: {{ reference: "" }} }}
variants:
  - {{ name: prompt, template: prompt, model: m }}
  - {{ name: prompt+rag, template: prompt-rag, model: m, rag: runbooks }}
cases:
{cases}"#
    );
    std::fs::write(dir.join("codes.yaml"), yaml).unwrap();
}

#[test]
fn the_gate_passes_prompt_plus_rag_over_the_prompt_and_freezes_its_retrieval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_session(dir, &grounded_model());
    let out = loupe(dir, &["run", "codes.yaml"]);
    // The plain prompt fails every check: a run with check failures still completes.
    assert!(out.status.code() == Some(0), "{}", text(&out.stderr));
    let run = text(&out.stdout).trim().to_owned();

    // The baseline does not pass against prompt+RAG: exit 1, nothing recorded.
    let out = loupe(
        dir,
        &[
            "gate",
            &run,
            "--candidate",
            "prompt",
            "--baseline",
            "prompt+rag",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("gate: prompt does not pass against prompt+rag"),
        "{}",
        text(&out.stdout)
    );

    let out = loupe(
        dir,
        &[
            "gate",
            &run,
            "--candidate",
            "prompt+rag",
            "--baseline",
            "prompt",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let g: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(g["decision"]["passed"], true, "{g}");
    assert_eq!(g["wins"], 10, "{g}");
    assert_eq!(g["losses"], 0, "{g}");
    let release = g["release"].as_str().unwrap();

    // The frozen release says which retrieval config the winner used, as it ran.
    let list = loupe(dir, &["gate", "--list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let r = &list[0];
    assert_eq!(r["id"], release);
    assert_eq!(r["variant"], "prompt+rag");
    assert_eq!(r["rag"]["name"], "runbooks", "{r}");
    let spec = &r["rag"]["spec"];
    assert_eq!(spec["retriever"], "bm25", "{r}");
    assert_eq!(spec["top_k"], 2, "{r}");
    assert_eq!(spec["keep"], 1, "{r}");
    assert!(
        r["template_content"]["user"]
            .as_str()
            .unwrap()
            .contains("passages"),
        "{r}"
    );
}
