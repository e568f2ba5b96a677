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
use crate::runner::{self, RunEvent, RunOptions, Selection};
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
    run_app_on(
        terminal,
        input,
        services,
        session,
        config,
        shutdown,
        Opening::local(None),
    )
    .await
}

/// Whom an App opened directly on the rating screen rates for (`loupe rate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateStart {
    pub rater: String,
    pub run: Option<String>,
}

/// Who an App is for, and what it opens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// Whose drafts the workbench keeps and offers back.
    pub user: String,
    /// Opened directly on the rating screen for this rater (`loupe rate`, a rater's login).
    pub rate: Option<RateStart>,
}

impl Opening {
    /// The person at the local terminal (the OS user).
    pub fn local(rate: Option<RateStart>) -> Self {
        Self {
            user: super::state::local_user(),
            rate,
        }
    }
}

/// [`run_app`] for `opening`'s user, opened on the rating screen when it says so.
pub async fn run_app_on<B, S>(
    terminal: &mut Terminal<B>,
    mut input: S,
    services: Arc<Services>,
    session: Arc<Session>,
    config: &AppConfig,
    shutdown: CancellationToken,
    opening: Opening,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = InputEvent> + Unpin,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut state = State::new(session.clone());
    state.user.clone_from(&opening.user);
    if let Ok(size) = terminal.size() {
        state.size = (size.width, size.height);
    }
    let mut host = Host::new(
        services,
        session,
        tx.clone(),
        config.clipboard.clone(),
        opening.user,
    );
    if let Some(start) = opening.rate {
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
    host.run(Effect::OpenTemplates);

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
        let mut quick = false;
        for msg in batch.drain(..) {
            let effects = update(&mut state, &config.keymap, msg);
            dirty = true;
            for effect in effects {
                quick |= host.run(effect);
            }
        }
        // A diff the user is waiting for (a cached one is already in the channel) is
        // given a frame or two before the screen is drawn, so moving between cases draws
        // the new diff rather than a "computing diff..." frame first.
        if quick {
            let deadline = tokio::time::Instant::now() + 2 * FRAME;
            while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                let waited_for = matches!(msg, Msg::DiffReady { .. });
                for effect in update(&mut state, &config.keymap, msg) {
                    host.run(effect);
                }
                if waited_for {
                    break;
                }
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
    // However the App ends (a quit, a closed terminal, a dropped SSH connection, a
    // shutdown), unsaved edits are kept as the user's drafts.
    let drafts = drafts_of(&state);
    host.keep_drafts(drafts).await;
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
    /// Whose drafts this App keeps.
    user: String,
}

impl Host {
    fn new(
        services: Arc<Services>,
        session: Arc<Session>,
        tx: mpsc::UnboundedSender<Msg>,
        clipboard: Option<Clipboard>,
        user: String,
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
            user,
        }
    }

    /// Writes `drafts` (template, text) as this user's, and waits until they are on disk.
    async fn keep_drafts(&self, drafts: Vec<(String, TemplateSpec)>) {
        if drafts.is_empty() {
            return;
        }
        let (store, session, user) = (
            self.store.clone(),
            self.session.file.name.clone(),
            self.user.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || {
            for (template, spec) in drafts {
                let _ = put_draft(&store, &session, &template, &user, spec);
            }
            store.flush()
        })
        .await;
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

    /// Starts `effect`; true when its answer is due within a frame or two and worth waiting
    /// for before drawing (a diff).
    fn run(&mut self, effect: Effect) -> bool {
        let quick = matches!(effect, Effect::ComputeDiff { .. });
        self.start(effect);
        quick
    }

    fn start(&mut self, effect: Effect) {
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
                save_first,
            } => {
                if self.run.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    let _ = tx.send(Msg::Error("a run is already going".into()));
                    return;
                }
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                let services = self.services.clone();
                let user = self.user.clone();
                let handle = tokio::spawn(async move {
                    // A run of unsaved text records it as a version, as ctrl-s would: the
                    // run names that version, so the user is told and it is listed.
                    for template in save_first {
                        let (store, session, specs, to, user) = (
                            store.clone(),
                            session.clone(),
                            specs.clone(),
                            tx.clone(),
                            user.clone(),
                        );
                        let saved = tokio::task::spawn_blocking(move || {
                            save_template(&store, &session, &specs, &template, &user, &to, true)
                        })
                        .await;
                        if let Ok(Err(e)) = saved {
                            let _ = tx.send(Msg::Error(format!("{e:#}")));
                            return;
                        }
                    }
                    let how = Start::New { variants, case_ids };
                    let started = start_run(&services, session, specs, how, &token, &tx);
                    if let Err(e) = started.await {
                        let _ = tx.send(Msg::Error(format!("run failed: {e:#}")));
                    }
                });
                self.run = Some((cancel, handle));
            }
            Effect::ResumeRun { run_id, specs } => {
                if self.run.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    let _ = tx.send(Msg::Error("a run is already going".into()));
                    return;
                }
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                let services = self.services.clone();
                let handle = tokio::spawn(async move {
                    let how = Start::Resume(run_id);
                    let started = start_run(&services, session, specs, how, &token, &tx);
                    if let Err(e) = started.await {
                        let _ = tx.send(Msg::Error(format!("cannot resume: {e:#}")));
                    }
                });
                self.run = Some((cancel, handle));
            }
            Effect::ListRuns => spawn_blocking_reporting(tx.clone(), move || {
                let runs = run_summaries(&store, &session.file.name)?;
                let _ = tx.send(Msg::RunsListed(runs));
                Ok(())
            }),
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
                // A diff seen before is answered at once, without a thread hop.
                let cached = cache
                    .lock()
                    .ok()
                    .and_then(|mut c| c.get(&left, &right, mode));
                if let Some(diff) = cached {
                    let _ = tx.send(Msg::DiffReady { key, diff });
                    return;
                }
                tokio::task::spawn_blocking(move || {
                    let diff = Arc::new(crate::diff::diff(&left, &right, mode));
                    if let Ok(mut c) = cache.lock() {
                        c.insert(&left, &right, mode, diff.clone());
                    }
                    let _ = tx.send(Msg::DiffReady { key, diff });
                });
            }
            Effect::SaveTemplate { template, specs } => {
                let user = self.user.clone();
                spawn_blocking_reporting(tx.clone(), move || {
                    save_template(&store, &session, &specs, &template, &user, &tx, false)
                });
            }
            Effect::LoadVersions(template) => spawn_blocking_reporting(tx.clone(), move || {
                let list = versions_with_file(&store, &session, &template)?;
                let _ = tx.send(Msg::VersionsLoaded { template, list });
                Ok(())
            }),
            Effect::OpenTemplates => {
                let user = self.user.clone();
                spawn_blocking_reporting(tx.clone(), move || {
                    let openings = open_templates(&store, &session, &user)?;
                    let _ = tx.send(Msg::TemplatesOpened(openings));
                    Ok(())
                });
            }
            Effect::SaveDraft { template, spec } => {
                let user = self.user.clone();
                spawn_blocking_reporting(tx.clone(), move || {
                    put_draft(&store, &session.file.name, &template, &user, spec)
                });
            }
            // Without a terminal clipboard (a test), copies stay inside the App's editor.
            Effect::Copy(text) => {
                if let Some(send) = &self.clipboard {
                    send(&text);
                }
            }
            Effect::Rate(e) => {
                // The owner's view and an adaptive rating queue follow the ratings as
                // they land (a rating screen watches from its opening: it cannot know it is
                // adaptive before; the watch costs nothing while nobody rates).
                let follows = matches!(e, RateEffect::LoadOwner | RateEffect::Open { .. });
                if follows && self.ratings_watch.is_none() {
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

/// Every unsaved template of `state`, as (name, text).
fn drafts_of(state: &State) -> Vec<(String, TemplateSpec)> {
    super::screens::templates::update::all_drafts(state)
        .into_iter()
        .filter_map(|e| match e {
            Effect::SaveDraft { template, spec } => Some((template, spec)),
            _ => None,
        })
        .collect()
}

fn put_draft(
    store: &Store,
    session: &str,
    template: &str,
    user: &str,
    spec: TemplateSpec,
) -> anyhow::Result<()> {
    store.put_draft(&crate::store::DraftRecord {
        session: session.to_owned(),
        template: template.to_owned(),
        user: user.to_owned(),
        spec,
        saved_ms: crate::store::now_ms(),
    })?;
    Ok(())
}

/// Saves `template` as `specs` define it as a version, makes it the one the workbench opens
/// on, and drops `user`'s draft of it (the draft is now that version).
fn save_template(
    store: &Store,
    session: &Session,
    specs: &HashMap<String, TemplateSpec>,
    template: &str,
    user: &str,
    tx: &mpsc::UnboundedSender<Msg>,
    for_run: bool,
) -> anyhow::Result<()> {
    let rec = session.template_version(specs, template)?;
    store.put_template_version(&rec)?;
    if let Some(spec) = specs.get(template) {
        store.set_template_head(&session.file.name, template, &rec.hash, spec)?;
    }
    store.delete_draft(&session.file.name, template, user)?;
    store.flush()?;
    let _ = tx.send(Msg::TemplateSaved {
        template: template.to_owned(),
        hash: rec.hash,
        for_run,
    });
    Ok(())
}

/// When the session file was last changed, as store time (ms since the epoch).
fn file_mtime_ms(session: &Session) -> Option<u64> {
    let modified = std::fs::metadata(&session.path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

/// The session file's own templates, by name.
fn file_specs(session: &Session) -> HashMap<String, TemplateSpec> {
    session
        .file
        .templates
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What each template opens on: the file's version, unless a version saved in the
/// workbench is newer than the file; and `user`'s draft of it.
fn open_templates(
    store: &Store,
    session: &Session,
    user: &str,
) -> anyhow::Result<Vec<super::msg::TemplateOpening>> {
    let name = &session.file.name;
    let specs = file_specs(session);
    let mtime = file_mtime_ms(session).unwrap_or(0);
    let mut out = Vec::new();
    for template in session.file.templates.keys() {
        let file = session
            .template_version(&specs, template)
            .ok()
            .map(|r| r.hash);
        let head = store
            .template_head(name, template)?
            .filter(|h| Some(&h.hash) != file.as_ref() && h.saved_ms >= mtime)
            .map(|h| (h.hash, h.spec));
        let draft = store.draft(name, template, user)?;
        out.push(super::msg::TemplateOpening {
            template: template.clone(),
            file,
            head,
            draft,
        });
    }
    Ok(out)
}

/// A template's stored versions, oldest first, with the session file's version among them
/// even before anything has run it.
fn versions_with_file(
    store: &Store,
    session: &Session,
    template: &str,
) -> anyhow::Result<Vec<crate::store::TemplateVersionRecord>> {
    let mut list = store.template_history(&session.file.name, template)?;
    if let Ok(mut rec) = session.template_version(&file_specs(session), template)
        && !list.iter().any(|r| r.hash == rec.hash)
    {
        rec.created_ms = file_mtime_ms(session).unwrap_or(rec.created_ms);
        list.push(rec);
        list.sort_by_key(|r| r.created_ms);
    }
    Ok(list)
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

/// Every run of `session`, newest first, with how far each got.
fn run_summaries(
    store: &Store,
    session: &str,
) -> anyhow::Result<Vec<super::screens::picker::state::RunSummary>> {
    let mut out = Vec::new();
    for run in store.runs()?.into_iter().rev() {
        if run.session_name != session {
            continue;
        }
        let (mut done, mut errors) = (0, 0);
        for o in store.outputs(&run.id) {
            done += 1;
            errors += usize::from(o?.error.is_some());
        }
        out.push(super::screens::picker::state::RunSummary {
            cells: run.cell_count(),
            variants: run.variants.iter().map(|v| v.name.clone()).collect(),
            id: run.id,
            created_ms: run.created_ms,
            done,
            errors,
            status: run.status,
        });
    }
    // `runs` is already in the order runs started, even two in one second.
    Ok(out)
}

/// A new run of a selection, or the rest of an interrupted one.
enum Start {
    New {
        variants: Vec<String>,
        case_ids: Vec<String>,
    },
    Resume(String),
}

async fn start_run(
    services: &Services,
    session: Arc<Session>,
    specs: HashMap<String, TemplateSpec>,
    how: Start,
    cancel: &CancellationToken,
    tx: &mpsc::UnboundedSender<Msg>,
) -> anyhow::Result<()> {
    let store = services.store();
    // Planning reads the store and compiles checks: a blocking thread's work.
    let plan = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<runner::Plan> {
            let edited = session.with_templates(&specs)?;
            Ok(match how {
                Start::New { variants, case_ids } => {
                    let selection = Selection {
                        variants,
                        case_ids,
                        ..Selection::default()
                    };
                    runner::plan_new_run(&edited, &store, &selection, false)?
                }
                // The run's own templates may differ from the edited ones; the session
                // file's may still be the run's.
                Start::Resume(id) => match runner::plan_resume(&edited, &store, &id) {
                    Ok(plan) => plan,
                    Err(first) => runner::plan_resume(&session, &store, &id).map_err(|_| first)?,
                },
            })
        })
        .await??
    };
    let endpoints = runner::endpoints(services.models(), &plan)?;
    let (etx, mut erx) = mpsc::unbounded_channel();
    let forward = {
        let (tx, store) = (tx.clone(), store.clone());
        tokio::spawn(async move {
            while let Some(ev) = erx.recv().await {
                // A finished cell's stored output follows its event: the pane shows it at
                // once, cached or repaired (a sled read of one record, from its cache).
                let done = match &ev {
                    RunEvent::CellDone { key, .. } if key.repeat == 0 => Some(key.clone()),
                    _ => None,
                };
                let _ = tx.send(Msg::Run(ev));
                if let Some(Ok(Some(out))) = done.map(|k| store.output(&k)) {
                    let _ = tx.send(Msg::CellOutput(Box::new(out)));
                }
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
