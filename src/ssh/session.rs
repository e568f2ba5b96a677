//! One connection's App: the channel's bytes in, frames out, the client's terminal set up
//! at the start and restored at the end however the App ends (quit, idle, server shutdown,
//! dropped connection).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::Event;

use crate::tui::input::from_crossterm_stream;
use futures::Stream;
use ratatui::Terminal;
use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf};

use super::backend::{ChannelBackend, ClientSize, Outbox, clamp_size};
use super::input::{ESC_WAIT, KeyParser};
use super::users::{Role, User};
use super::{Shared, log};
use crate::tui::app::{AppConfig, Opening, RateStart, run_app_on};
use crate::tui::theme::ColorDepth;

/// Alternate screen, bracketed paste on, cursor hidden, screen cleared.
const SETUP: &[u8] = b"\x1b[?1049h\x1b[?2004h\x1b[?25l\x1b[2J";
/// Everything SETUP changed, undone: colours reset, paste off, cursor shown, main screen.
const RESTORE: &[u8] = b"\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l";
/// How long a client that stopped reading may hold up its own goodbye.
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// Why the App ended, for the line left on the client's screen.
#[derive(Default)]
struct Ending {
    idle: AtomicBool,
}

/// Runs the App of `user` in `channel` until it ends, then restores the client's terminal
/// and closes the channel.
pub async fn run(
    shared: Arc<Shared>,
    user: User,
    peer: SocketAddr,
    channel: Channel<Msg>,
    (cols, rows): (u16, u16),
    depth: ColorDepth,
) {
    // The client's terminal decides the colours, not the server's.
    let config = AppConfig {
        theme: shared.config.theme.clone().for_depth(depth),
        keymap: shared.config.keymap.clone(),
        ascii: shared.config.ascii,
        clipboard: shared.config.clipboard.clone(),
    };
    let (read, write) = channel.split();
    let outbox = Outbox::new();
    let size = Arc::new(ClientSize::new(cols, rows));
    outbox.push(SETUP);
    let writer = {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            while let Some(bytes) = outbox.next().await {
                if write.data_bytes(bytes).await.is_err() {
                    return;
                }
            }
            let _ = write.exit_status(0).await;
            let _ = write.eof().await;
            let _ = write.close().await;
        })
    };
    let ending = Arc::new(Ending::default());
    // The channel is read on a task of its own for as long as it is open: the App takes
    // what it sends while it runs, and once the App is done the task is still there to see
    // the client's answer to the server's close.
    let (messages, inbox) = tokio::sync::mpsc::channel(INBOX);
    let mut reader = tokio::spawn(read_channel(read, messages));
    let input = input_stream(
        inbox,
        size.clone(),
        shared.options.idle_timeout,
        ending.clone(),
    );
    let stop = shared.shutdown.child_token();
    let rate = (user.role == Role::Rater).then(|| RateStart {
        rater: user.name.clone(),
        run: None,
    });
    let result = match Terminal::new(ChannelBackend::new(outbox.clone(), size)) {
        Ok(mut terminal) => {
            run_app_on(
                &mut terminal,
                from_crossterm_stream(input),
                shared.services.clone(),
                shared.session.clone(),
                &config,
                stop.clone(),
                Opening {
                    user: user.name.clone(),
                    rate,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    let mut goodbye = RESTORE.to_vec();
    let why = if shared.shutdown.is_cancelled() {
        Some("loupe serve is shutting down; everything you saved is kept.")
    } else if ending.idle.load(Ordering::Relaxed) {
        Some("closed after a while without keys; log in again to go on.")
    } else {
        None
    };
    if let Some(why) = why {
        goodbye.extend_from_slice(why.as_bytes());
        goodbye.extend_from_slice(b"\r\n");
    }
    if let Err(e) = &result {
        goodbye.extend_from_slice(format!("loupe: {e:#}\r\n").as_bytes());
        log(&format!("{} from {peer}: the App failed: {e:#}", user.name));
    }
    outbox.push(&goodbye);
    outbox.close();
    // The goodbye has reached the client when it answers the close that follows it (SSH
    // keeps a connection's messages in order): only then may the connection be dropped (a
    // server shutdown disconnects everyone once every session is done, and a disconnect
    // would overtake bytes still queued). A client that stops reading is not waited for
    // longer than GOODBYE_WAIT.
    let delivered = tokio::time::timeout(GOODBYE_WAIT, async {
        let _ = writer.await;
        let _ = (&mut reader).await;
    })
    .await;
    reader.abort();
    if delivered.is_err() {
        log(&format!(
            "{} from {peer}: the client did not take its last bytes",
            user.name
        ));
    }
    let end = if ending.idle.load(Ordering::Relaxed) {
        "closed after the idle timeout"
    } else if shared.shutdown.is_cancelled() {
        "closed by the shutdown"
    } else {
        "left"
    };
    log(&format!("{} ({}) from {peer} {end}", user.name, user.role));
}

/// Writes `text` on the client's stderr, then ends the channel with exit status 1.
pub async fn refuse_in_channel(channel: Channel<Msg>, text: String) {
    let _ = channel.extended_data_bytes(1, text.into_bytes()).await;
    let _ = channel.exit_status(1).await;
    let _ = channel.eof().await;
    let _ = channel.close().await;
}

/// Messages from the client held for the App: a few screens of pasted text. When it is
/// full, the channel waits (and with it the client's window).
const INBOX: usize = 64;

/// Passes the channel's messages to the App (`to_app`) until the client closes the
/// channel or the connection ends; after the App is done, reads on and drops them.
async fn read_channel(mut read: ChannelReadHalf, to_app: tokio::sync::mpsc::Sender<ChannelMsg>) {
    loop {
        match read.wait().await {
            Some(ChannelMsg::Close) | None => return,
            Some(msg) => {
                // An App that has ended takes nothing more; the close is still to come.
                let _ = to_app.send(msg).await;
            }
        }
    }
}

/// The App's input: the channel's bytes parsed into events, window changes as resizes.
/// Ends when the client sends EOF or closes the channel, or sends no key for `idle`.
fn input_stream(
    read: tokio::sync::mpsc::Receiver<ChannelMsg>,
    size: Arc<ClientSize>,
    idle: Duration,
    ending: Arc<Ending>,
) -> impl Stream<Item = io::Result<Event>> + Unpin + Send {
    struct St {
        read: tokio::sync::mpsc::Receiver<ChannelMsg>,
        parser: KeyParser,
        ready: VecDeque<Event>,
        size: Arc<ClientSize>,
        idle: Duration,
        ending: Arc<Ending>,
    }
    let st = St {
        read,
        parser: KeyParser::new(),
        ready: VecDeque::new(),
        size,
        idle,
        ending,
    };
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.ready.pop_front() {
                return Some((Ok(ev), st));
            }
            let esc_wait = st.parser.holds_esc();
            tokio::select! {
                msg = st.read.recv() => match msg {
                    Some(ChannelMsg::Data { data }) => st.parser.feed(&data, &mut st.ready),
                    Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                        let (c, r) = clamp_size(col_width, row_height);
                        st.size.set(c, r);
                        st.ready.push_back(Event::Resize(c, r));
                    }
                    Some(ChannelMsg::Eof | ChannelMsg::Close) | None => return None,
                    Some(_) => {}
                },
                () = tokio::time::sleep(ESC_WAIT), if esc_wait => {
                    st.parser.timeout(&mut st.ready);
                }
                () = tokio::time::sleep(st.idle) => {
                    st.ending.idle.store(true, Ordering::Relaxed);
                    return None;
                }
            }
        }
    }))
}
