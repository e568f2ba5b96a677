//! `loupe check --online` against the real local model server: a model it serves is fine,
//! a wrong model id (which llama.cpp would otherwise answer anyway) and an endpoint nobody
//! listens on are named with the reason, exit 1.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn online_check_names_unknown_models_and_unreachable_endpoints() {
    let Some(base) = common::model_server::server() else {
        common::model_server::skip_note("the online check");
        return;
    };
    let closed = common::http::free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: online
models:
  real:
    provider: openai
    base_url: {base}/v1
    model: {model}
  typo:
    provider: openai
    base_url: {base}/v1
    model: smollm2-153m
  gone:
    provider: openai
    base_url: http://127.0.0.1:{closed}/v1
    model: {model}
templates:
  t:
    user: "{{{{ q }}}}"
variants:
  - {{ name: a, template: t, model: real }}
  - {{ name: b, template: t, model: typo }}
  - {{ name: c, template: t, model: gone }}
cases:
  - {{ id: one, q: hello }}
"#,
        model = common::model_server::MODEL
    );
    let path = dir.path().join("online.yaml");
    std::fs::write(&path, yaml).unwrap();

    // Offline, the file is fine.
    let offline = Command::new(LOUPE)
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(0));

    let out = Command::new(LOUPE)
        .arg("check")
        .arg(&path)
        .arg("--online")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ok:   model real (smollm2-135m"), "{text}");
    assert!(
        text.contains("FAIL: model typo (smollm2-153m")
            && text.contains("does not list model \"smollm2-153m\" (it lists: smollm2-135m)"),
        "{text}"
    );
    assert!(
        text.contains("FAIL: model gone")
            && text.contains(&format!("cannot reach http://127.0.0.1:{closed}/v1/models")),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 3 online checks failed"));
}
