//! The local terminal host: raw mode, alternate screen, bracketed paste, and a terminal
//! restored on every way out (normal quit, error, panic, SIGTERM, SIGHUP).

use std::io::{self, BufWriter, Stderr, Write};
use std::sync::Arc;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio_util::sync::CancellationToken;

use super::app::{AppConfig, Opening, RateStart, run_app_on};
use super::input::from_crossterm_stream;
use crate::services::Services;
use crate::session::Session;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stderr(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Puts the terminal back however the process ends, including a panic.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts `text` on the clipboard of the terminal the user sits at, through an OSC 52 escape
/// (base64 of the text), which terminals honour across SSH. Best effort: a terminal that
/// does not support it ignores the sequence.
pub fn osc52_copy(text: &str) {
    let mut out = io::stderr();
    let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
    let _ = out.flush();
}

/// Standard base64 with padding (RFC 4648 section 4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Opens the workbench full screen. The TUI is drawn on stderr, so stdout stays free for
/// data even when it is piped (as television does).
pub fn run_local(
    services: Arc<Services>,
    session: Arc<Session>,
    config: &AppConfig,
) -> anyhow::Result<()> {
    run_local_on(services, session, config, None)
}

/// [`run_local`], opened on the rating screen for one rater when `rate` is given.
pub fn run_local_on(
    services: Arc<Services>,
    session: Arc<Session>,
    config: &AppConfig,
    rate: Option<RateStart>,
) -> anyhow::Result<()> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    let _guard = Guard;
    execute!(io::stderr(), EnterAlternateScreen, EnableBracketedPaste)?;
    // Buffered, so a frame reaches the terminal in one write at the end of each draw
    // instead of many small ones a terminal (or tmux) could show half done.
    let mut terminal: Terminal<CrosstermBackend<BufWriter<Stderr>>> = Terminal::new(
        CrosstermBackend::new(BufWriter::with_capacity(1 << 16, io::stderr())),
    )?;
    terminal.clear()?;

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(shutdown.clone()));
        let result = run_app_on(
            &mut terminal,
            // The edge: crossterm's events become Loupe's own here, once.
            from_crossterm_stream(EventStream::new()),
            services,
            session,
            config,
            shutdown,
            Opening::local(rate),
        )
        .await;
        signals.abort();
        result
    })?;
    let _ = io::stderr().flush();
    Ok(())
}

/// SIGTERM and SIGHUP (an SSH connection that drops) end the App like a quit.
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
