//! The App loop, generic over the terminal backend and the input stream, and the host side
//! of effects: tokio tasks that do the work and report back with messages.
//!
//! Nothing here is global: two Apps can run in one process over one store (the SSH server
//! runs one per connection; a test runs two on two `TestBackend`s). What the process owns
//! once (the store, the model clients with their limits) comes in as its shared
//! [`Services`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::draw::{View, draw};
use super::input::InputEvent;
use super::keymap::Keymap;
use super::msg::{Effect, ErrorAt, Msg};
use super::screens::rate::{RateEffect, RateMsg};
use super::state::State;
use super::theme::Theme;
use super::update::update;
use crate::diff::DiffCache;
use crate::runner::{self, RunOptions, Selection};
use crate::services::Services;
use crate::session::{Session, TemplateSpec};
use crate::store::Store;

/// Receives text the user copied.
pub type Clipboard = Arc<dyn Fn(&str) + Send + Sync>;

/// Configuration an App is started with.
pub struct AppConfig {
    pub theme: Theme,
    pub keymap: Keymap,
    pub ascii: bool,
    /// Where copied text goes: the real terminal's clipboard through OSC 52 (which works
    /// over SSH); `None` keeps copies inside the App.
    pub clipboard: Option<Clipboard>,
}

/// Ratings arriving closer together than this refresh the owner's view once.
const RATINGS_COALESCE: Duration = Duration::from_millis(250);

/// Redraws at most this often, however fast tokens stream in.
const FRAME: Duration = Duration::from_millis(16);

/// While a run goes, its rate and elapsed time change without messages: redrawn this often.
const RUN_REFRESH: Duration = Duration::from_millis(250);

/// Runs one App until the user quits, its input ends, or `shutdown` fires.
///
/// `input` is any stream of Loupe's own input events: the local terminal's (converted from
/// crossterm by [`super::input::from_crossterm`]), an SSH channel's (parsed from the bytes
/// the client sends), or a test's. `terminal` may have any ratatui `Backend`. The App keeps
/// nothing global: many can run in one process, sharing `services`.
pub async fn run_app<B, S>(
    terminal: &mut Terminal<B>,
    input: S,
    services: Arc<Services>,
    session: Arc<Session>,
    config: &AppConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = InputEvent> + Unpin,
{
    run_app_on(terminal, input, services, session, config, shutdown, None).await
}

/// Whom an App opened directly on the rating screen rates for (`loupe rate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateStart {
    pub rater: String,
    pub run: Option<String>,
}

/// [`run_app`], opened on the rating screen with the rater fixed when `rate` is given.
pub async fn run_app_on<B, S>(
    terminal: &mut Terminal<B>,
    mut input: S,
    services: Arc<Services>,
    session: Arc<Session>,
    config: &AppConfig,
    shutdown: CancellationToken,
    rate: Option<RateStart>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = InputEvent> + Unpin,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut state = State::new(session.clone());
    let mut host = Host::new(services, session, tx.clone(), config.clipboard.clone());
    if let Some(start) = rate {
        for effect in super::screens::rate::update::start(&mut state, &start.rater, start.run, true)
        {
            host.run(effect);
        }
    }
    let view = View {
        theme: &config.theme,
        keymap: &config.keymap,
        ascii: config.ascii,
    };
    let started = Instant::now();
    state.data.loading = true;
    terminal.draw(|f| draw(&state, &view, f))?;
    host.run(Effect::LoadLatestRun);

    let mut batch = Vec::with_capacity(256);
    let mut dirty = false;
    let mut last_draw = Instant::now();
    // A key is drawn at once; streamed tokens wait for the next frame (at most 60 a second).
    let mut input_seen = false;
    loop {
        // Idle is free: the loop sleeps until input, a message, or the next thing that is
        // due (a toast to expire, a debounced preview, a frame held back, a running job's
        // clock). With nothing due there is no timer at all.
        let wake = next_wake(&state, started, last_draw, dirty);
        tokio::select! {
            ev = input.next() => match ev {
                Some(ev) => {
                    if let Some(msg) = event_to_msg(ev) {
                        batch.push(msg);
                        input_seen = true;
                    }
                }
                // The input is gone (terminal closed, SSH channel dropped): leave cleanly.
                None => break,
            },
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
            }
            () = sleep_until(wake), if wake.is_some() => {}
            () = shutdown.cancelled() => break,
        }
        // Drain whatever else is already waiting, then draw once.
        while let Ok(msg) = rx.try_recv() {
            batch.push(msg);
        }
        // Time first, so what follows (a toast's expiry, a rating's time) reads the clock.
        let toasts = state.toasts.len();
        let effects = update(&mut state, &config.keymap, Msg::Tick(ms_since(started)));
        dirty |= !effects.is_empty() || toasts != state.toasts.len();
        for effect in effects {
            host.run(effect);
        }
        for msg in batch.drain(..) {
            let effects = update(&mut state, &config.keymap, msg);
            dirty = true;
            for effect in effects {
                host.run(effect);
            }
        }
        if state.quit {
            break;
        }
        if state.run.active.is_some() && last_draw.elapsed() >= RUN_REFRESH {
            dirty = true;
        }
        if dirty && (input_seen || last_draw.elapsed() >= FRAME) {
            terminal.draw(|f| draw(&state, &view, f))?;
            last_draw = Instant::now();
            dirty = false;
        }
        input_seen = false;
    }
    host.shutdown().await;
    Ok(())
}

/// Renders the preview of `template` for case number `case`, as the message `update` takes.
pub fn render_preview(
    session: &Session,
    specs: &HashMap<String, TemplateSpec>,
    template: &str,
    case: usize,
    generation: u64,
) -> Msg {
    let rendered = session.preview(specs, template, case);
    let at = rendered.as_ref().err().and_then(ErrorAt::of);
    Msg::PreviewRendered {
        generation,
        result: rendered.map_err(|e| e.to_string()),
        at,
    }
}

fn event_to_msg(ev: InputEvent) -> Option<Msg> {
    match ev {
        InputEvent::Key(k) => Some(Msg::Key(k)),
        InputEvent::Paste(text) => Some(Msg::Paste(text)),
        InputEvent::Resize { width, height } => Some(Msg::Resize(width, height)),
        // No screen uses the mouse yet.
        InputEvent::Mouse(_) => None,
    }
}

fn ms_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// When the loop must wake without input: the earliest of what the state has due, a frame
/// held back by the frame budget, and a running job's refresh. `None` when nothing is.
fn next_wake(state: &State, started: Instant, last_draw: Instant, dirty: bool) -> Option<Instant> {
    let due = state
        .next_due_ms()
        .map(|ms| started + Duration::from_millis(ms));
    let frame = dirty.then(|| last_draw + FRAME);
    let run = state.run.active.is_some().then(|| last_draw + RUN_REFRESH);
    [due, frame, run].into_iter().flatten().min()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Runs effects as tasks. Owns what is not plain data: the store, task handles, the
/// cancellation token of the run in progress, the diff cache.
struct Host {
    services: Arc<Services>,
    store: Store,
    session: Arc<Session>,
    tx: mpsc::UnboundedSender<Msg>,
    run: Option<(CancellationToken, JoinHandle<()>)>,
    /// A newer preview replaces the one in flight (dropping its handle aborts it).
    preview: Option<JoinHandle<()>>,
    /// Follows ratings saved by anyone in the process, once the owner's view has opened.
    ratings_watch: Option<JoinHandle<()>>,
    diffs: Arc<Mutex<DiffCache>>,
    clipboard: Option<Clipboard>,
}

impl Host {
    fn new(
        services: Arc<Services>,
        session: Arc<Session>,
        tx: mpsc::UnboundedSender<Msg>,
        clipboard: Option<Clipboard>,
    ) -> Self {
        Self {
            store: services.store().clone(),
            services,
            session,
            tx,
            run: None,
            preview: None,
            ratings_watch: None,
            diffs: Arc::new(Mutex::new(DiffCache::default())),
            clipboard,
        }
    }

    async fn shutdown(mut self) {
        if let Some(h) = self.preview.take() {
            h.abort();
        }
        if let Some(h) = self.ratings_watch.take() {
            h.abort();
        }
        if let Some((cancel, handle)) = self.run.take() {
            cancel.cancel();
            let _ = handle.await;
        }
        // A flush waits on the disk: a blocking thread's work, not this App's task's.
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.flush()).await;
    }

    fn run(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        let store = self.store.clone();
        let session = self.session.clone();
        match effect {
            Effect::RenderPreview {
                generation,
                template,
                specs,
                case,
            } => {
                if let Some(h) = self.preview.take() {
                    h.abort();
                }
                self.preview = Some(tokio::task::spawn_blocking(move || {
                    let _ = tx.send(render_preview(
                        &session, &specs, &template, case, generation,
                    ));
                }));
            }
            Effect::StartRun {
                variants,
                case_ids,
                specs,
            } => {
                if self.run.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    let _ = tx.send(Msg::Error("a run is already going".into()));
                    return;
                }
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                let services = self.services.clone();
                let handle = tokio::spawn(async move {
                    let started =
                        start_run(&services, session, specs, variants, case_ids, &token, &tx);
                    if let Err(e) = started.await {
                        let _ = tx.send(Msg::Error(format!("run failed: {e:#}")));
                    }
                });
                self.run = Some((cancel, handle));
            }
            Effect::CancelRun => {
                if let Some((cancel, _)) = &self.run {
                    cancel.cancel();
                }
            }
            Effect::LoadLatestRun => spawn_blocking_reporting(tx.clone(), move || {
                if let Some(run) = store.latest_run(Some(&session.file.name), false)? {
                    load_run(&store, &session, &run.id, &tx)
                } else {
                    let _ = tx.send(Msg::NoRun);
                    Ok(())
                }
            }),
            Effect::LoadRun(id) => {
                spawn_blocking_reporting(tx.clone(), move || load_run(&store, &session, &id, &tx));
            }
            Effect::LoadEarlier(id) => spawn_blocking_reporting(tx.clone(), move || {
                let outputs = store.outputs(&id).collect::<Result<Vec<_>, _>>()?;
                let _ = tx.send(Msg::EarlierLoaded {
                    run_id: id,
                    outputs,
                });
                Ok(())
            }),
            Effect::ComputeDiff {
                key,
                left,
                right,
                mode,
            } => {
                let cache = self.diffs.clone();
                tokio::task::spawn_blocking(move || {
                    let cached = cache
                        .lock()
                        .ok()
                        .and_then(|mut c| c.get(&left, &right, mode));
                    let diff = cached.unwrap_or_else(|| {
                        let d = Arc::new(crate::diff::diff(&left, &right, mode));
                        if let Ok(mut c) = cache.lock() {
                            c.insert(&left, &right, mode, d.clone());
                        }
                        d
                    });
                    let _ = tx.send(Msg::DiffReady { key, diff });
                });
            }
            Effect::SaveTemplate { template, specs } => {
                spawn_blocking_reporting(tx.clone(), move || {
                    let rec = session.template_version(&specs, &template)?;
                    store.put_template_version(&rec)?;
                    store.flush()?;
                    let _ = tx.send(Msg::TemplateSaved {
                        template,
                        hash: rec.hash,
                    });
                    Ok(())
                });
            }
            Effect::LoadVersions(template) => spawn_blocking_reporting(tx.clone(), move || {
                let list = store.template_history(&session.file.name, &template)?;
                let _ = tx.send(Msg::VersionsLoaded { template, list });
                Ok(())
            }),
            // Without a terminal clipboard (a test), copies stay inside the App's editor.
            Effect::Copy(text) => {
                if let Some(send) = &self.clipboard {
                    send(&text);
                }
            }
            Effect::Rate(e) => {
                if e == RateEffect::LoadOwner && self.ratings_watch.is_none() {
                    self.ratings_watch = Some(watch_ratings(&store, tx.clone()));
                }
                super::screens::rate::host::run(e, store, session, tx);
            }
            Effect::WriteSession { specs } => spawn_blocking_reporting(tx.clone(), move || {
                crate::session::write_templates(&session, &specs)?;
                let _ = tx.send(Msg::SessionWritten {
                    path: session.path.display().to_string(),
                });
                Ok(())
            }),
        }
    }
}

/// Tells the App each time ratings change in the process, at most once per
/// [`RATINGS_COALESCE`] (two raters saving at once is one refresh). Costs nothing while
/// nobody rates: the task waits on the store's watch channel.
fn watch_ratings(store: &Store, tx: mpsc::UnboundedSender<Msg>) -> JoinHandle<()> {
    let mut changed = store.ratings_changed();
    tokio::spawn(async move {
        while changed.changed().await.is_ok() {
            tokio::time::sleep(RATINGS_COALESCE).await;
            changed.mark_unchanged();
            if tx.send(Msg::Rate(RateMsg::RatingsChanged)).is_err() {
                break;
            }
        }
    })
}

/// Runs blocking work (store reads, rendering) off the UI thread; an error becomes a toast.
fn spawn_blocking_reporting(
    tx: mpsc::UnboundedSender<Msg>,
    work: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = work() {
            let _ = tx.send(Msg::Error(format!("{e:#}")));
        }
    });
}

fn load_run(
    store: &Store,
    session: &Session,
    id: &str,
    tx: &mpsc::UnboundedSender<Msg>,
) -> anyhow::Result<()> {
    let run = store.run(id)?;
    let outputs = store.outputs(id).collect::<Result<Vec<_>, _>>()?;
    let retrieves = run.variants.iter().any(|v| v.rag.is_some());
    let mut report = crate::report::build(&run, &outputs);
    report.training = crate::tune::lineage(store, &run)?;
    if run.variants.iter().any(|v| v.rag.is_some()) {
        let retrievals = store.rag_index()?.retrievals(id)?;
        report.retrieval = crate::report::retrieval_report(&run, &outputs, &retrievals);
    }
    let earlier = store
        .runs()?
        .into_iter()
        .rev()
        .filter(|r| r.session_name == session.file.name && r.id != id)
        .map(|r| r.id)
        .collect();
    let _ = tx.send(Msg::RunLoaded {
        run,
        outputs,
        earlier,
    });
    let _ = tx.send(Msg::ReportReady(report));
    if retrieves {
        let (retrievals, texts) = retrievals_with_texts(store, id)?;
        let _ = tx.send(Msg::RetrievalsLoaded {
            run_id: id.to_owned(),
            retrievals,
            texts,
        });
    }
    Ok(())
}

type Retrievals = Vec<(String, String, crate::store::RetrievalRecord)>;

/// A run's retrievals and the text of each passage they name, read back from the stored
/// chunk lists of the corpus snapshots they used.
fn retrievals_with_texts(
    store: &Store,
    run_id: &str,
) -> anyhow::Result<(Retrievals, std::collections::HashMap<String, String>)> {
    let ix = store.rag_index()?;
    let retrievals = ix.retrievals(run_id)?;
    let mut corpora: Vec<&str> = retrievals
        .iter()
        .map(|(_, _, r)| r.corpus.as_str())
        .collect();
    corpora.sort_unstable();
    corpora.dedup();
    let mut texts = std::collections::HashMap::new();
    for id in corpora {
        let Some(corpus) = ix.corpus(id)? else {
            continue;
        };
        for doc in &corpus.documents {
            let Some(chunks) = ix.chunks::<Vec<crate::rag::Chunk>>(&doc.hash, &corpus.chunking)?
            else {
                continue;
            };
            for c in chunks {
                texts.insert(format!("{}#{}", doc.path, c.ordinal), c.text);
            }
        }
    }
    Ok((retrievals, texts))
}

async fn start_run(
    services: &Services,
    session: Arc<Session>,
    specs: HashMap<String, TemplateSpec>,
    variants: Vec<String>,
    case_ids: Vec<String>,
    cancel: &CancellationToken,
    tx: &mpsc::UnboundedSender<Msg>,
) -> anyhow::Result<()> {
    let store = services.store();
    let selection = Selection {
        variants,
        case_ids,
        ..Selection::default()
    };
    // Planning reads the store and compiles checks: a blocking thread's work.
    let plan = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<runner::Plan> {
            let edited = session.with_templates(&specs)?;
            Ok(runner::plan_new_run(&edited, &store, &selection, false)?)
        })
        .await??
    };
    let endpoints = runner::endpoints(services.models(), &plan)?;
    let (etx, mut erx) = mpsc::unbounded_channel();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = erx.recv().await {
                let _ = tx.send(Msg::Run(ev));
            }
        })
    };
    let opts = RunOptions {
        no_cache: false,
        deltas: true,
    };
    let result = runner::execute(store, plan, &endpoints, opts, cancel, &etx).await;
    drop(etx);
    let _ = forward.await;
    result?;
    Ok(())
}
