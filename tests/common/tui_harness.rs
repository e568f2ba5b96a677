//! Runs the real App loop headless: a `TestBackend` whose buffer the test reads while
//! `run_app` draws into it, and keys sent through a channel that `run_app` sees as its
//! input stream (what an SSH channel or crossterm's `EventStream` would give it).

#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use loupe::services::Services;
use loupe::session::Session;
use loupe::store::Store;
use loupe::tui::app::{AppConfig, Opening, RateStart, run_app_on};
pub use loupe::tui::input::{InputEvent, Key, KeyCode, Modifiers};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellWidth};
use ratatui::layout::{Position, Size};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a wait for the screen may take before the test fails:
/// `LOUPE_E2E_TIMEOUT_SECS`, 120 s by default (a shared 2-core machine is slow).
pub fn timeout() -> Duration {
    let secs = std::env::var("LOUPE_E2E_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

struct Inner {
    backend: Mutex<Screen>,
    /// Signalled after each frame is flushed (for threads).
    drawn: Condvar,
    /// Signalled after each frame is flushed (for tasks).
    notify: Notify,
    /// Needles watched in every frame, with how many frames showed each.
    watched: Mutex<Vec<(String, usize)>>,
}

struct Screen {
    backend: TestBackend,
    frames: u64,
    last_frame: Option<Instant>,
}

/// A `TestBackend` shared with the test: the App draws, the test reads.
#[derive(Clone)]
pub struct SharedBackend {
    inner: Arc<Inner>,
}

impl SharedBackend {
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend: Mutex::new(Screen {
                    backend: TestBackend::new(width, height),
                    frames: 0,
                    last_frame: None,
                }),
                drawn: Condvar::new(),
                notify: Notify::new(),
                watched: Mutex::new(Vec::new()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Screen> {
        self.inner
            .backend
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From now on, counts the frames that show `needle` (see [`SharedBackend::frames_with`]).
    pub fn watch(&self, needle: &str) {
        let mut w = self.inner.watched.lock().unwrap();
        w.push((needle.to_owned(), 0));
    }

    /// How many frames flushed since [`SharedBackend::watch`] showed `needle`.
    pub fn frames_with(&self, needle: &str) -> usize {
        let w = self.inner.watched.lock().unwrap();
        w.iter().find(|(n, _)| n == needle).map_or(0, |(_, c)| *c)
    }

    /// A copy of the screen as last drawn.
    pub fn buffer(&self) -> Buffer {
        self.lock().backend.buffer().clone()
    }

    /// Frames flushed so far, and when the last one was.
    pub fn frames(&self) -> (u64, Option<Instant>) {
        let s = self.lock();
        (s.frames, s.last_frame)
    }

    /// The screen as text, one line per row, wide characters once (not padded).
    pub fn text(&self) -> String {
        buffer_text(&self.lock().backend.buffer().clone())
    }

    /// Runs `check` on the buffer after every frame until it returns `Some`, or panics
    /// with the screen and `what` after [`timeout`].
    pub async fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&Buffer) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout();
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = check(self.lock().backend.buffer()) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {:?} waiting for {what}; the screen:\n{}",
                timeout(),
                self.text()
            );
            // The poll interval only bounds a missed wake-up; frames wake us at once.
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Waits until the screen's text contains `needle`; returns that text.
    pub async fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?} on screen"), |b| {
            let t = buffer_text(b);
            t.contains(needle).then_some(t)
        })
        .await
    }

    /// Waits until `pred` holds for the screen's text; returns that text.
    pub async fn wait_text(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, |b| {
            let t = buffer_text(b);
            pred(&t).then_some(t)
        })
        .await
    }

    /// For threads (benches): blocks until frame number `after` has been passed, or `limit`.
    pub fn wait_frame_blocking(&self, after: u64, limit: Duration) -> u64 {
        let guard = self.lock();
        let (guard, _) = self
            .inner
            .drawn
            .wait_timeout_while(guard, limit, |s| s.frames <= after)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.frames
    }

    /// Runs `f` on the buffer, the frame count and the last frame's time, all under the
    /// lock, so they belong together (no copy: for benches).
    pub fn with_buffer<T>(&self, f: impl FnOnce(&Buffer, u64, Option<Instant>) -> T) -> T {
        let s = self.lock();
        f(s.backend.buffer(), s.frames, s.last_frame)
    }
}

/// One row of a buffer as text; cells hidden under a wide character are left out.
pub fn row_text(buffer: &Buffer, y: u16) -> String {
    let mut out = String::new();
    let mut skip = 0u16;
    for x in 0..buffer.area.width {
        let cell = &buffer[(x, y)];
        if skip == 0 {
            out.push_str(cell.symbol());
        }
        skip = skip.max(cell.symbol().cell_width()).saturating_sub(1);
    }
    out
}

pub fn buffer_text(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| row_text(buffer, y))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `needle` starts on screen, as (x, y) in cells, wide characters counted twice.
pub fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buffer.area.height {
        let row = row_text(buffer, y);
        if let Some(i) = row.find(needle) {
            let x: u16 = row[..i]
                .chars()
                .map(|c| c.to_string().as_str().cell_width())
                .sum();
            return Some((x, y));
        }
    }
    None
}

impl Backend for SharedBackend {
    type Error = Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        // Write as a terminal would, not as `TestBackend` does: a wide character covers the
        // cells after it, and overwriting either half of one erases all of it. Without this
        // the buffer keeps stale symbols under wide characters that no terminal shows, and
        // misses the ones a terminal would really leave behind.
        let mut s = self.lock();
        let area = s.backend.buffer().area;
        let mut writes: Vec<(u16, u16, Cell)> = Vec::new();
        for (x, y, cell) in content {
            let buf = s.backend.buffer();
            let blank = Cell::EMPTY;
            if x > 0 && buf[(x - 1, y)].symbol().cell_width() > 1 {
                writes.push((x - 1, y, blank.clone()));
            }
            let old = buf[(x, y)].symbol().cell_width();
            for dx in 1..old.max(1) {
                if x + dx < area.width {
                    writes.push((x + dx, y, blank.clone()));
                }
            }
            writes.push((x, y, cell.clone()));
            for dx in 1..cell.symbol().cell_width().max(1) {
                if x + dx < area.width {
                    writes.push((x + dx, y, blank.clone()));
                }
            }
            s.backend.draw(writes.iter().map(|(x, y, c)| (*x, *y, c)))?;
            writes.clear();
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().backend.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().backend.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.lock().backend.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.lock().backend.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.lock().backend.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.lock().backend.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.lock().backend.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.lock().backend.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        {
            let mut s = self.lock();
            s.backend.flush()?;
            s.frames += 1;
            s.last_frame = Some(Instant::now());
            let mut watched = self.inner.watched.lock().unwrap();
            if !watched.is_empty() {
                let text = buffer_text(s.backend.buffer());
                for (needle, count) in watched.iter_mut() {
                    *count += usize::from(text.contains(needle.as_str()));
                }
            }
        }
        self.inner.drawn.notify_all();
        self.inner.notify.notify_waiters();
        Ok(())
    }
}

/// One running App: its screen, its keyboard, and the way to stop it.
pub struct App {
    pub screen: SharedBackend,
    keys: mpsc::UnboundedSender<InputEvent>,
    pub shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl App {
    /// Starts `run_app` on a `width` x `height` `TestBackend` as a task of the current
    /// runtime, with services of its own over `store`.
    pub fn spawn(
        store: Store,
        session: Arc<Session>,
        config: AppConfig,
        width: u16,
        height: u16,
    ) -> App {
        Self::spawn_with(Services::new(store), session, config, width, height)
    }

    /// [`App::spawn`] sharing the process's `services` (store and model clients) with
    /// whatever else holds them, as Apps of one `loupe serve` do.
    pub fn spawn_with(
        services: Arc<Services>,
        session: Arc<Session>,
        config: AppConfig,
        width: u16,
        height: u16,
    ) -> App {
        Self::spawn_on(
            services,
            session,
            config,
            (width, height),
            Opening::local(None),
        )
    }

    /// [`App::spawn_with`] opened on the rating screen for `rater` (what `loupe rate` and a
    /// rater's `loupe serve` login run).
    pub fn spawn_rater(
        services: Arc<Services>,
        session: Arc<Session>,
        config: AppConfig,
        size: (u16, u16),
        rater: &str,
    ) -> App {
        let start = RateStart {
            rater: rater.to_owned(),
            run: None,
        };
        let opening = Opening {
            user: rater.to_owned(),
            rate: Some(start),
        };
        Self::spawn_on(services, session, config, size, opening)
    }

    fn spawn_on(
        services: Arc<Services>,
        session: Arc<Session>,
        config: AppConfig,
        (width, height): (u16, u16),
        opening: Opening,
    ) -> App {
        let screen = SharedBackend::new(width, height);
        let (keys, mut rx) = mpsc::unbounded_channel::<InputEvent>();
        let input = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let shutdown = CancellationToken::new();
        let (backend, stop) = (screen.clone(), shutdown.clone());
        let handle = tokio::spawn(async move {
            let mut terminal = Terminal::new(backend)?;
            run_app_on(
                &mut terminal,
                input,
                services,
                session,
                &config,
                stop,
                opening,
            )
            .await
        });
        App {
            screen,
            keys,
            shutdown,
            handle: Some(handle),
        }
    }

    /// [`App::spawn_with`] for the person `user` (whose drafts it keeps and offers back),
    /// as `loupe serve` starts one for each login.
    pub fn spawn_as(
        services: Arc<Services>,
        session: Arc<Session>,
        config: AppConfig,
        size: (u16, u16),
        user: &str,
    ) -> App {
        let opening = Opening {
            user: user.to_owned(),
            rate: None,
        };
        Self::spawn_on(services, session, config, size, opening)
    }

    /// Ends the App's input as a dropped connection or a closed terminal does.
    pub fn hang_up(&mut self) {
        let (closed, _) = mpsc::unbounded_channel();
        self.keys = closed;
    }

    pub fn send(&self, code: KeyCode, modifiers: Modifiers) {
        self.keys
            .send(InputEvent::Key(Key::new(code, modifiers)))
            .expect("the App stopped reading its input");
    }

    pub fn key(&self, code: KeyCode) {
        self.send(code, Modifiers::NONE);
    }

    pub fn char(&self, c: char) {
        let modifiers = if c.is_ascii_uppercase() {
            Modifiers::SHIFT
        } else {
            Modifiers::NONE
        };
        self.send(KeyCode::Char(c), modifiers);
    }

    pub fn ctrl(&self, c: char) {
        self.send(KeyCode::Char(c), Modifiers::CTRL);
    }

    pub fn alt(&self, code: KeyCode) {
        self.send(code, Modifiers::ALT);
    }

    /// In the template editor (which opens on System, the first section): to the User
    /// section, one step back from System.
    pub fn edit_user_section(&self) {
        self.alt(KeyCode::Left);
    }

    /// Types `text` one key at a time.
    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.char(c);
        }
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<InputEvent> {
        self.keys.clone()
    }

    /// Waits for the App to end (after `q` or `shutdown`) and returns its result.
    pub async fn finished(&mut self) -> anyhow::Result<()> {
        let handle = self.handle.take().expect("finished once");
        tokio::time::timeout(timeout(), handle)
            .await
            .expect("the App did not stop in time")
            .expect("the App task panicked")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The demo session as it ships (`sessions/demo.yaml`, read from the crate's folder, where
/// tests and benches run).
pub fn demo_session() -> Arc<Session> {
    Arc::new(loupe::session::load(std::path::Path::new("sessions/demo.yaml")).unwrap())
}

/// Gives `state` what the App gets once the store has read a run: `run` with its `outputs`
/// (no earlier runs), then its `report`; the effects both asked for.
pub fn load_run(
    state: &mut loupe::tui::state::State,
    run: loupe::store::RunRecord,
    outputs: Vec<loupe::store::OutputRecord>,
    report: loupe::report::RunReport,
) -> Vec<loupe::tui::msg::Effect> {
    use loupe::tui::msg::Msg;
    let km = loupe::tui::keymap::Keymap::default();
    let mut effects = loupe::tui::update::update(
        state,
        &km,
        Msg::RunLoaded {
            run,
            outputs,
            earlier: Vec::new(),
        },
    );
    effects.extend(loupe::tui::update::update(
        state,
        &km,
        Msg::ReportReady(report),
    ));
    effects
}

/// The App's configuration as a user gets it by default: dark theme, default keys, Unicode,
/// no clipboard.
pub fn config() -> AppConfig {
    AppConfig {
        theme: loupe::tui::theme::Theme::default(),
        keymap: loupe::tui::keymap::Keymap::default(),
        ascii: false,
        clipboard: None,
    }
}

/// `state` drawn once, as the workbench draws it, on a `width` x `height` `TestBackend` in
/// the default dark theme: the screen's text.
pub fn draw_state(state: &loupe::tui::state::State, width: u16, height: u16) -> String {
    let (theme, _) = loupe::tui::theme::Theme::load("dark", &[]);
    let keymap = loupe::tui::keymap::Keymap::default();
    let view = loupe::tui::draw::View {
        theme: &theme,
        keymap: &keymap,
        ascii: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| loupe::tui::draw::draw(state, &view, f))
        .unwrap();
    buffer_text(terminal.backend().buffer())
}
