//! A two-variant session (`terse`, `wordy`) on a scripted model, a real store, and Apps
//! opened on it as named people, for the workbench's App tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use loupe::services::Services;
use loupe::session::Session;
use loupe::store::Store;
use tempfile::TempDir;

use super::mock_script::{self, Script};
use super::tui_harness::App;
pub use super::tui_harness::config;

pub const SESSION: &str = "workbench";

/// Writes the session over `cases` (id, text) on `base_url` and loads it.
pub fn write_session(dir: &Path, base_url: &str, cases: &[(&str, &str)]) -> Arc<Session> {
    write_session_as(dir, SESSION, 2, base_url, cases)
}

/// [`write_session`] naming the session `name`, its model taking `concurrency` requests at
/// once.
pub fn write_session_as(
    dir: &Path,
    name: &str,
    concurrency: usize,
    base_url: &str,
    cases: &[(&str, &str)],
) -> Arc<Session> {
    let yaml = format!(
        r#"name: {name}
models:
  mock:
    provider: openai
    base_url: {base_url}
    model: mock
    params: {{ max_tokens: 64 }}
    concurrency: {concurrency}
    retries: 0
templates:
  terse:
    system: "You are terse."
    user: "T: {{{{ text }}}}"
  wordy:
    system: "You are wordy."
    user: "W: {{{{ text }}}}"
variants:
  - {{ name: terse, template: terse, model: mock }}
  - {{ name: wordy, template: wordy, model: mock }}
cases: {{ file: cases.jsonl }}
checks:
  - json_valid
"#
    );
    std::fs::write(dir.join("s.yaml"), yaml).unwrap();
    super::jsonl::write(
        &dir.join("cases.jsonl"),
        cases
            .iter()
            .map(|(id, text)| serde_json::json!({"id": id, "text": text})),
    );
    reload(dir)
}

/// The session [`write_session`] wrote in `dir`, read again.
pub fn reload(dir: &Path) -> Arc<Session> {
    Arc::new(loupe::session::load(&dir.join("s.yaml")).unwrap())
}

/// A temporary folder holding the session and its store, the scripted model it runs on, and
/// the services an App shares.
pub struct Fixture {
    pub dir: TempDir,
    pub server: mock_script::ScriptedServer,
    pub services: Arc<Services>,
    pub store: Store,
    pub session: Arc<Session>,
}

/// The session over `cases` on a model answering by `script`, with an empty store.
pub async fn fixture(script: Script, cases: &[(&str, &str)]) -> Fixture {
    fixture_as(SESSION, 2, script, cases).await
}

/// [`fixture`] with the session named `name` and its model taking `concurrency` requests at
/// once.
pub async fn fixture_as(
    name: &str,
    concurrency: usize,
    script: Script,
    cases: &[(&str, &str)],
) -> Fixture {
    let dir = TempDir::new().unwrap();
    let server = mock_script::start(script).await;
    let session = write_session_as(dir.path(), name, concurrency, &server.base_url(), cases);
    let store = Store::open(&dir.path().join("store")).unwrap();
    Fixture {
        server,
        services: Services::new(store.clone()),
        store,
        session,
        dir,
    }
}

impl Fixture {
    /// An App for `user` at 80x24, once it has read the store.
    pub async fn open(&self, user: &str) -> App {
        self.open_sized(user, (80, 24)).await
    }

    /// An App for `user` at `size`, once it has read the store.
    pub async fn open_sized(&self, user: &str, size: (u16, u16)) -> App {
        let app = App::spawn_as(
            self.services.clone(),
            self.session.clone(),
            config(),
            size,
            user,
        );
        app.screen
            .wait_text("the store read", |t| !t.contains("reading the newest run"))
            .await;
        app
    }
}
