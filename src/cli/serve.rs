//! `loupe serve SESSION`: the workbench and rating sessions over SSH, from this process.
//!
//! `loupe serve --check --users FILE` only checks the users file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Outcome, UiArgs};
use crate::ssh::users::{Role, Users};
use crate::ssh::{ServeOptions, Shared};
use crate::store::Store;
use crate::tui::app::AppConfig;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

/// Arguments of `loupe serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session to serve (its store is .loupe/store beside it, unless --store).
    #[arg(required_unless_present = "check")]
    pub session: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:2222", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The server's private host key (created, ed25519 and mode 0600, if missing).
    /// Default: `.loupe/ssh_host_ed25519_key` beside the session.
    #[arg(long, value_name = "FILE")]
    pub host_key: Option<PathBuf>,
    /// Who may connect: names, roles (owner, rater) and public keys, in YAML.
    /// Default: users.yaml beside the session.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// End a session after this long without a key (e.g. 90s, 30m, 2h).
    #[arg(long, default_value = "30m", value_parser = parse_duration, value_name = "TIME")]
    pub idle_timeout: Duration,
    /// Probe a silent client this often; three missed replies end its connection.
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "TIME")]
    pub keepalive: Duration,
    /// Only check the users file (errors as `file:line:col`, exit 2) and exit.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub ui: UiArgs,
}

/// `90`, `90s`, `30m`, `2h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a time: write 90s, 30m or 2h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?} is not a time: write 90s, 30m or 2h")),
    };
    if secs == 0 {
        return Err("a time of 0 would end every session at once".into());
    }
    Ok(Duration::from_secs(secs))
}

pub fn main(store_flag: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let users_path = match (&args.users, &args.session) {
        (Some(p), _) => p.clone(),
        (None, Some(s)) => s.parent().unwrap_or(Path::new(".")).join("users.yaml"),
        (None, None) => {
            anyhow::bail!("--check needs --users FILE or a SESSION beside its users.yaml")
        }
    };
    let users = Users::load(&users_path)?;
    if args.check {
        println!(
            "{}: {} owners, {} raters",
            users_path.display(),
            users.count(Role::Owner),
            users.count(Role::Rater)
        );
        return Ok(Outcome::Ok);
    }
    let Some(session_path) = args.session else {
        anyhow::bail!("no session given: `loupe serve SESSION`");
    };
    let session = Arc::new(crate::session::load(&session_path)?);
    let theme_dirs = vec![session.dir.join("themes"), Path::new("themes").to_owned()];
    let (theme, warnings) = Theme::load(&args.ui.theme, &theme_dirs);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let keymap = match &args.ui.keymap {
        Some(path) => Keymap::load(path)?,
        None => Keymap::default(),
    };
    let host_key_path = args
        .host_key
        .unwrap_or_else(|| crate::ssh::default_path(&session_path, "ssh_host_ed25519_key"));
    let host_key = crate::ssh::hostkey::load_or_create(&host_key_path)?;
    let store_dir = super::store_for_session(store_flag, &session_path);
    let store = Store::open(&store_dir)?;
    store.announce_server(&args.listen.to_string());
    let config = AppConfig {
        theme,
        keymap,
        ascii: args.ui.ascii,
        // Copies stay inside each App: the server's own terminal is nobody's clipboard.
        clipboard: None,
    };
    let options = ServeOptions {
        listen: args.listen,
        idle_timeout: args.idle_timeout,
        keepalive: args.keepalive,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(options.listen));
    let listener =
        listener.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.listen))?;
    eprintln!(
        "{} host key {} ({})",
        if host_key.created { "created" } else { "using" },
        host_key_path.display(),
        host_key.fingerprint()
    );
    eprintln!(
        "serving {} (store {}) on {}: {} owners, {} raters from {}",
        session.file.name,
        store_dir.display(),
        options.listen,
        users.count(Role::Owner),
        users.count(Role::Rater),
        users_path.display()
    );
    eprintln!(
        "connect with: {}",
        crate::store::ssh_hint(&options.listen.to_string())
    );
    let shared = Shared::new(
        crate::services::Services::new(store),
        session,
        users,
        config,
        options,
    );
    rt.block_on(crate::ssh::run(shared, host_key.key, listener))?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_mins(30)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_hours(2)));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
    }
}
