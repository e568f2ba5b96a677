//! A ratatui Backend that draws into an SSH channel.
//!
//! - Its size is the client's (from the pty request and window-change requests), never the
//!   server's own terminal, which is never touched.
//! - Frames go to an [`Outbox`] that a writer task empties into the channel at the pace the
//!   client takes them (SSH flow control). A client that falls behind does not make the
//!   server buffer without bound: once the bytes waiting exceed [`OUTBOX_LIMIT`], they are
//!   replaced by one repaint of the newest screen (only the newest frame matters). The
//!   Backend keeps a copy of the screen so it can produce that repaint on its own.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect, Size};
use tokio::sync::Notify;

/// Bytes that may wait for a slow client before they are coalesced into one repaint. A
/// navigation key's frame is a few hundred bytes; a full 200x60 repaint about 30 KB.
pub const OUTBOX_LIMIT: usize = 64 * 1024;

/// The client's terminal size, shared by the connection (which learns it) and the Backend.
#[derive(Debug, Default)]
pub struct ClientSize(AtomicU32);

impl ClientSize {
    pub fn new(cols: u16, rows: u16) -> Self {
        let s = Self::default();
        s.set(cols, rows);
        s
    }

    pub fn set(&self, cols: u16, rows: u16) {
        self.0
            .store(u32::from(cols) << 16 | u32::from(rows), Ordering::Relaxed);
    }

    pub fn get(&self) -> Size {
        let v = self.0.load(Ordering::Relaxed);
        Size {
            width: (v >> 16) as u16,
            height: (v & 0xffff) as u16,
        }
    }
}

/// Clamps a size from an SSH request to what a terminal can be (a client may send 0 or
/// absurd values).
pub fn clamp_size(cols: u32, rows: u32) -> (u16, u16) {
    let c = cols.clamp(1, 1000) as u16;
    let r = rows.clamp(1, 1000) as u16;
    (c, r)
}

#[derive(Debug, Default)]
struct OutState {
    bytes: Vec<u8>,
    closed: bool,
    /// Times waiting bytes were replaced by a repaint.
    coalesced: u64,
    /// Bytes handed to the writer so far.
    sent: u64,
}

/// Bytes waiting for one client, bounded.
#[derive(Debug, Default)]
pub struct Outbox {
    state: Mutex<OutState>,
    ready: Notify,
}

impl Outbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, OutState> {
        // A writer that panicked holding the lock left plain bytes behind; they are still
        // bytes, so carry on with them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues bytes that must all arrive (the terminal set-up and restore sequences).
    pub fn push(&self, bytes: &[u8]) {
        self.lock().bytes.extend_from_slice(bytes);
        self.ready.notify_one();
    }

    /// Queues a frame; when too much is already waiting, `repaint` (the whole newest screen)
    /// replaces everything waiting instead.
    pub fn offer(&self, frame: &[u8], repaint: impl FnOnce() -> Vec<u8>) {
        if frame.is_empty() {
            return;
        }
        let mut s = self.lock();
        if s.bytes.len() + frame.len() > OUTBOX_LIMIT {
            s.bytes = repaint();
            s.coalesced += 1;
        } else {
            s.bytes.extend_from_slice(frame);
        }
        drop(s);
        self.ready.notify_one();
    }

    /// No more bytes will come; the writer ends once it has sent what waits.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// The next bytes to send, or `None` once closed and empty.
    pub async fn next(&self) -> Option<Vec<u8>> {
        loop {
            let notified = self.ready.notified();
            {
                let mut s = self.lock();
                if !s.bytes.is_empty() {
                    let out = std::mem::take(&mut s.bytes);
                    s.sent += out.len() as u64;
                    return Some(out);
                }
                if s.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Bytes waiting now.
    pub fn waiting(&self) -> usize {
        self.lock().bytes.len()
    }

    /// How many times a backlog was replaced by a repaint.
    pub fn coalesced(&self) -> u64 {
        self.lock().coalesced
    }

    /// Bytes handed to the writer so far.
    pub fn sent(&self) -> u64 {
        self.lock().sent
    }
}

/// Collects what crossterm writes for one frame.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    /// crossterm flushes after each cursor command; the frame is handed over once, in
    /// [`Backend::flush`], when the whole frame is written.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The Backend of one SSH session.
pub struct ChannelBackend {
    encoder: CrosstermBackend<Sink>,
    sink: Sink,
    outbox: Arc<Outbox>,
    size: Arc<ClientSize>,
    /// What the client's screen shows once everything sent has arrived.
    screen: Buffer,
    cursor: Position,
    cursor_shown: bool,
}

impl ChannelBackend {
    pub fn new(outbox: Arc<Outbox>, size: Arc<ClientSize>) -> Self {
        let sink = Sink::default();
        let Size { width, height } = size.get();
        Self {
            encoder: CrosstermBackend::new(sink.clone()),
            sink,
            outbox,
            size,
            screen: Buffer::empty(Rect::new(0, 0, width, height)),
            cursor: Position::ORIGIN,
            cursor_shown: true,
        }
    }

    fn fit_screen(&mut self) {
        let Size { width, height } = self.size.get();
        let area = Rect::new(0, 0, width, height);
        if self.screen.area != area {
            self.screen.resize(area);
        }
    }

    /// The whole screen as one paint: clear, every cell, the cursor as it is.
    fn repaint(screen: &Buffer, cursor: Position, cursor_shown: bool) -> Vec<u8> {
        let sink = Sink::default();
        let mut enc = CrosstermBackend::new(sink.clone());
        let area = screen.area;
        let cells = (0..area.height).flat_map(|y| (0..area.width).map(move |x| (x, y)));
        let _ = enc.hide_cursor();
        let _ = enc.clear();
        let _ = enc.draw(cells.filter_map(|(x, y)| screen.cell((x, y)).map(|c| (x, y, c))));
        let _ = enc.set_cursor_position(cursor);
        if cursor_shown {
            let _ = enc.show_cursor();
        }
        sink.take()
    }
}

impl Backend for ChannelBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.fit_screen();
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        for (x, y, cell) in &cells {
            if let Some(c) = self.screen.cell_mut((*x, *y)) {
                c.clone_from(cell);
            }
        }
        self.encoder.draw(cells.into_iter())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.cursor_shown = false;
        self.encoder.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.cursor_shown = true;
        self.encoder.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.cursor = position.into();
        self.encoder.set_cursor_position(self.cursor)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.fit_screen();
        self.screen.reset();
        self.encoder.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        if clear_type == ClearType::All {
            return self.clear();
        }
        // Loupe's App only clears the whole screen; a partial clear is passed on, and the
        // next repaint (if any) starts from a cleared screen anyway.
        self.encoder.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        Ok(self.size.get())
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size.get(),
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        let frame = self.sink.take();
        let (screen, cursor, shown) = (&self.screen, self.cursor, self.cursor_shown);
        self.outbox
            .offer(&frame, || Self::repaint(screen, cursor, shown));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::widgets::Paragraph;

    fn drain(outbox: &Outbox) -> Vec<u8> {
        let mut s = outbox.lock();
        s.sent += s.bytes.len() as u64;
        std::mem::take(&mut s.bytes)
    }

    fn screen_of(bytes: &[u8], cols: u16, rows: u16) -> String {
        let nz = |n: u16| std::num::NonZeroU16::new(n).unwrap();
        let mut parser = vt100::Parser::new(nz(rows), nz(cols), 0);
        parser.process(bytes);
        parser.screen().contents()
    }

    #[test]
    fn frames_are_sized_by_the_client_and_read_back_as_drawn() {
        let outbox = Outbox::new();
        let size = Arc::new(ClientSize::new(30, 5));
        let mut term = Terminal::new(ChannelBackend::new(outbox.clone(), size.clone())).unwrap();
        term.draw(|f| {
            assert_eq!(f.area(), Rect::new(0, 0, 30, 5));
            f.render_widget(Paragraph::new("hello over ssh"), f.area());
        })
        .unwrap();
        let mut client = drain(&outbox);
        assert!(screen_of(&client, 30, 5).starts_with("hello over ssh"));
        // The client grows: the next frame fills the new width.
        size.set(50, 6);
        term.draw(|f| {
            assert_eq!(f.area(), Rect::new(0, 0, 50, 6));
            f.render_widget(Paragraph::new("x".repeat(50)), f.area());
        })
        .unwrap();
        client.extend(drain(&outbox));
        assert!(screen_of(&client, 50, 6).starts_with(&"x".repeat(50)));
    }

    #[test]
    fn a_client_that_falls_behind_gets_one_repaint_of_the_newest_screen() {
        let outbox = Outbox::new();
        let size = Arc::new(ClientSize::new(120, 40));
        let mut term = Terminal::new(ChannelBackend::new(outbox.clone(), size)).unwrap();
        // Nobody reads: 500 frames that each change the whole screen.
        for i in 0..500 {
            term.draw(|f| {
                let text = format!("frame {i:03} ").repeat(400);
                f.render_widget(
                    Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: false }),
                    f.area(),
                );
            })
            .unwrap();
            assert!(outbox.waiting() <= OUTBOX_LIMIT.max(12 * 1024 * 8));
        }
        assert!(outbox.coalesced() > 0);
        let bytes = drain(&outbox);
        let screen = screen_of(&bytes, 120, 40);
        assert!(screen.starts_with("frame 499 frame 499"), "{screen}");
        assert!(!screen.contains("frame 498"));
    }
}
