//! `loupe serve`: the workbench and rating sessions over SSH, for a whole team, from one
//! process that owns the store.
//!
//! - Who may connect is the users file ([`users`]); a person is the name their public key
//!   maps to. Only public-key authentication is offered; anything else is refused and
//!   logged, and an address that keeps failing is answered more and more slowly.
//! - Each connection gets one session channel with a terminal, and in it its own App
//!   ([`session`]): owners the whole workbench, raters only their blind rating queue.
//!   Nothing else is served: no exec, no shell without a terminal, no subsystem (sftp), no
//!   port, X11 or agent forwarding; each is refused and logged.
//! - Input arrives as bytes ([`input`]); output leaves through a bounded outbox
//!   ([`backend`]).
//! - SIGTERM (or Ctrl-C on the server's terminal) ends every App, restores each client's
//!   terminal, and closes the connections.

pub mod backend;
pub mod hostkey;
pub mod input;
mod session;
pub mod users;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::keys::{HashAlg, PublicKey};
use russh::server::{Auth, Msg, Server as _, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::services::Services;
use crate::session::Session as LoupeSession;
use crate::tui::app::AppConfig;
use crate::tui::theme::ColorDepth;
use users::{Role, User, Users};

/// How `loupe serve` was asked to run.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub idle_timeout: Duration,
    pub keepalive: Duration,
}

/// What every connection shares: the process's services (one store, one model-client pool,
/// so a model's limits hold across every App), one session, one users file, one shutdown.
pub struct Shared {
    pub services: Arc<Services>,
    pub session: Arc<LoupeSession>,
    pub users: Users,
    pub config: AppConfig,
    pub options: ServeOptions,
    pub shutdown: CancellationToken,
    /// Raters connected now, with where from: one App per rater, so two connections of the
    /// same person cannot rate the same comparison twice.
    live: Mutex<HashMap<String, SocketAddr>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    sessions: TaskTracker,
}

/// Recent authentication failures of one address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_mins(10);
/// Failures an address may have before its answers slow down (a person with several keys
/// in their agent offers the wrong ones first).
const FREE_FAILURES: u32 = 3;
const MAX_DELAY: Duration = Duration::from_secs(20);

impl Shared {
    pub fn new(
        services: Arc<Services>,
        session: Arc<LoupeSession>,
        users: Users,
        config: AppConfig,
        options: ServeOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            services,
            session,
            users,
            config,
            options,
            shutdown: CancellationToken::new(),
            live: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            sessions: TaskTracker::new(),
        })
    }

    fn record_failure(&self, ip: IpAddr) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY);
        let f = map.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
        });
        f.count += 1;
        f.last = now;
    }

    /// How long to wait before answering `ip`: nothing at first, then doubling from half a
    /// second per failure up to [`MAX_DELAY`].
    fn delay_for(&self, ip: IpAddr) -> Duration {
        let map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&ip) {
            Some(f) if f.last.elapsed() < FAILURE_MEMORY => delay_after(f.count),
            _ => Duration::ZERO,
        }
    }

    /// Marks `name` connected from `peer`; `Err` names where they already are.
    fn enter(&self, name: &str, peer: SocketAddr) -> Result<(), SocketAddr> {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = live.get(name) {
            return Err(*at);
        }
        live.insert(name.to_owned(), peer);
        Ok(())
    }

    fn leave(&self, name: &str) {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
    }
}

/// The wait before answering an address with `failures` recent failures.
fn delay_after(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let steps = (failures - FREE_FAILURES - 1).min(8);
    (Duration::from_millis(500) * 2u32.pow(steps)).min(MAX_DELAY)
}

/// One line on stderr, with the time.
pub fn log(line: &str) {
    let now = crate::store::format_time(crate::store::now_ms());
    eprintln!("{now} {}", crate::sanitize::sanitize(line));
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Runs the server until SIGTERM, SIGINT or `shared.shutdown`; then ends every session
/// cleanly and returns.
pub async fn run(
    shared: Arc<Shared>,
    host_key: russh::keys::PrivateKey,
    socket: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let config = russh::server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        // Every rejection takes this long, so a key scan learns nothing from timing; the
        // first "none" probe OpenSSH sends on every login is answered at once.
        auth_rejection_time: Duration::from_millis(300),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        // Idle sessions are ended by the App's own timer (keys typed, not packets: a
        // keepalive reply is traffic but not presence).
        inactivity_timeout: None,
        keepalive_interval: Some(shared.options.keepalive),
        keepalive_max: 3,
        nodelay: true,
        max_auth_attempts: 6,
        ..Default::default()
    };
    let mut server = Listener {
        shared: shared.clone(),
    };
    let running = server.run_on_socket(Arc::new(config), &socket);
    let handle = running.handle();
    let signals = tokio::spawn(watch_signals(shared.shutdown.clone()));
    tokio::select! {
        result = running => {
            result?;
        }
        () = shared.shutdown.cancelled() => {}
    }
    signals.abort();
    log("shutting down: closing every session");
    shared.sessions.close();
    // Each App restores its client's terminal and closes its channel, and its session
    // ends when the client has answered the close (so the goodbye was delivered: the
    // disconnect below cannot overtake it); a client that does not take those bytes is not
    // waited for long.
    let _ = tokio::time::timeout(Duration::from_secs(5), shared.sessions.wait()).await;
    handle.shutdown("loupe serve is shutting down".into());
    log("stopped");
    Ok(())
}

async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    shutdown.cancel();
}

struct Listener {
    shared: Arc<Shared>,
}

impl russh::server::Server for Listener {
    type Handler = Conn;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Conn {
        let peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        Conn {
            shared: self.shared.clone(),
            peer,
            user: None,
            tried: Vec::new(),
            channel: None,
            started: false,
            colorterm: None,
        }
    }
}

/// One connection.
pub struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    user: Option<User>,
    /// How this connection tried to log in, for the refusal line.
    tried: Vec<String>,
    /// The session channel, until its App starts.
    channel: Option<Pending>,
    started: bool,
    /// The client's `COLORTERM`, when its ssh sends it (`SendEnv COLORTERM`).
    colorterm: Option<String>,
}

struct Pending {
    channel: Channel<Msg>,
    size: Option<(u16, u16)>,
    /// The client's `TERM`, from its pty request: how many colours its terminal shows.
    term: Option<String>,
}

impl Conn {
    fn who(&self) -> String {
        match &self.user {
            Some(u) => format!("{} ({}) from {}", u.name, u.role, self.peer),
            None => format!("{}", self.peer),
        }
    }

    fn refuse(&self, what: &str) {
        log(&format!("refused {what}: {}", self.who()));
    }

    async fn slow_down(&self) {
        let delay = self.shared.delay_for(self.peer.ip());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.user.is_none() && !self.tried.is_empty() {
            self.shared.record_failure(self.peer.ip());
            log(&format!(
                "refused login from {}: no accepted public key (tried {})",
                self.peer,
                self.tried.join(", ")
            ));
        } else if let Some(u) = &self.user {
            log(&format!(
                "{} ({}) from {} disconnected",
                u.name, u.role, self.peer
            ));
        }
    }
}

impl russh::server::Handler for Conn {
    type Error = anyhow::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        self.slow_down().await;
        self.tried.push(format!("none as {user:?}"));
        Ok(only_keys())
    }

    async fn auth_password(&mut self, user: &str, _password: &str) -> Result<Auth, Self::Error> {
        self.tried.push(format!("a password as {user:?}"));
        self.shared.record_failure(self.peer.ip());
        log(&format!(
            "refused password login as {user:?} from {}: only public keys are accepted",
            self.peer
        ));
        self.slow_down().await;
        Ok(only_keys())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.tried.push(format!("keyboard-interactive as {user:?}"));
        self.shared.record_failure(self.peer.ip());
        log(&format!(
            "refused keyboard-interactive login as {user:?} from {}: only public keys are accepted",
            self.peer
        ));
        self.slow_down().await;
        Ok(only_keys())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.slow_down().await;
        if self.shared.users.find(offer.public_key).is_some() {
            return Ok(Auth::Accept);
        }
        let fp = fingerprint(offer.public_key);
        self.tried.push(format!("unknown key {fp} as {user:?}"));
        log(&format!(
            "refused unknown key {fp} offered as {user:?} from {}",
            self.peer
        ));
        Ok(only_keys())
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let Some(found) = self.shared.users.find(key.public_key).cloned() else {
            return Ok(only_keys());
        };
        log(&format!(
            "{} ({}) logged in from {} with key {} (ssh user {user:?})",
            found.name,
            found.role,
            self.peer,
            fingerprint(key.public_key)
        ));
        self.user = Some(found);
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.user.is_none() {
            return Ok(());
        }
        if self.channel.is_some() || self.started {
            // One App per connection (a multiplexing client opens more channels).
            self.refuse("a second session channel on one connection");
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        reply.accept().await;
        self.channel = Some(Pending {
            channel,
            size: None,
            term: None,
        });
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match &mut self.channel {
            Some(p) if p.channel.id() == channel => {
                p.size = Some(backend::clamp_size(cols, rows));
                p.term = Some(term.to_owned());
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(user), Some(pending)) = (self.user.clone(), self.channel.take()) else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        self.started = true;
        let Some(size) = pending.size else {
            // `ssh -T`, or a script: there is no terminal to show the App in.
            self.refuse("a shell without a terminal");
            let text = "loupe serve shows a full-screen workbench and needs a terminal: connect with `ssh -t`\r\n";
            tokio::spawn(session::refuse_in_channel(pending.channel, text.to_owned()));
            return Ok(());
        };
        if user.role == Role::Rater
            && let Err(at) = self.shared.enter(&user.name, self.peer)
        {
            self.refuse(&format!("a second session (already connected from {at})"));
            let text = format!(
                "{} is already rating from {at}; close that session first (a dropped connection is noticed within a minute)\r\n",
                user.name
            );
            tokio::spawn(session::refuse_in_channel(pending.channel, text));
            return Ok(());
        }
        log(&format!(
            "{} opened {} ({}x{})",
            self.who(),
            match user.role {
                Role::Owner => "the workbench",
                Role::Rater => "their rating queue",
            },
            size.0,
            size.1
        ));
        let shared = self.shared.clone();
        let peer = self.peer;
        let depth = ColorDepth::detect(self.colorterm.as_deref(), pending.term.as_deref());
        self.shared.sessions.spawn(async move {
            let name = user.name.clone();
            let role = user.role;
            session::run(shared.clone(), user, peer, pending.channel, size, depth).await;
            if role == Role::Rater {
                shared.leave(&name);
            }
        });
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data);
        self.refuse(&format!("exec of {command:?}"));
        self.channel = None;
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse(&format!("subsystem {name:?}"));
        self.channel = None;
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse("X11 forwarding");
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn agent_request(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        self.refuse("agent forwarding");
        Ok(false)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Only read, never set: COLORTERM says whether the client's terminal shows 24-bit
        // colour. OpenSSH sends LANG and LC_* by default: declined quietly, not a refusal.
        if name == "COLORTERM" {
            self.colorterm = Some(value.chars().take(32).collect());
        }
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        host: &str,
        port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse(&format!("port forwarding to {host}:{port}"));
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        socket_path: &str,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse(&format!("socket forwarding to {socket_path}"));
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn channel_open_x11(
        &mut self,
        _channel: Channel<Msg>,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.refuse("an X11 channel");
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        self.refuse(&format!("remote port forwarding from {address}:{port}"));
        Ok(false)
    }

    async fn streamlocal_forward(
        &mut self,
        socket_path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        self.refuse(&format!("remote socket forwarding from {socket_path}"));
        Ok(false)
    }
}

/// A rejection that tells the client public keys are the only way in.
fn only_keys() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

/// Where the server's files live by default: beside the session, like its store.
pub fn default_path(session: &std::path::Path, file: &str) -> PathBuf {
    session
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join(".loupe")
        .join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_are_answered_more_and_more_slowly() {
        let waits: Vec<u64> = (0..=12)
            .map(|n| delay_after(n).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [
                0, 0, 0, 0, 500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000
            ]
        );
    }
}
