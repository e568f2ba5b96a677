//! `loupe rate SESSION --rater NAME [--run RUN]`: the blind rating screen, for one rater.
//!
//! Everything that can go wrong before the screen opens (the session, the store held by
//! another process, no complete run, no `rating:` section) is reported here, on a plain
//! terminal, with exit 2.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Outcome, UiArgs};
use crate::store::Store;
use crate::tui::app::{AppConfig, RateStart};
use crate::tui::keymap::Keymap;
use crate::tui::theme::{ColorDepth, Theme};

/// Arguments of `loupe rate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session file.
    pub session: PathBuf,
    /// Who is rating. The same name later resumes the same queue.
    #[arg(long, value_name = "NAME")]
    pub rater: String,
    /// The run to rate (default: the newest complete run of the session).
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    #[command(flatten)]
    pub ui: UiArgs,
}

pub fn main(store: Option<&Path>, args: Args) -> anyhow::Result<Outcome> {
    let Args {
        session: session_path,
        rater,
        run,
        ui,
    } = args;
    let session = Arc::new(crate::session::load(&session_path)?);
    let store_dir = super::store_for_session(store, &session_path);
    let store = Store::open(&store_dir)?;
    // Open (or create) the queue now, so that a missing run or rating section is an
    // ordinary error on the terminal rather than a message inside the screen.
    let opened = crate::rating::open_rater(&store, &session, &rater, run.as_deref())?;
    if opened.left_out > 0 {
        eprintln!(
            "note: {} comparisons of run {} are left out: an output is missing or failed",
            opened.left_out, opened.record.run_id
        );
    }
    let theme_dirs = vec![session.dir.join("themes"), Path::new("themes").to_owned()];
    let (theme, warnings) = Theme::load(&ui.theme, &theme_dirs);
    let theme = theme.for_depth(ColorDepth::from_env());
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let keymap = match &ui.keymap {
        Some(path) => Keymap::load(path)?,
        None => Keymap::default(),
    };
    let config = AppConfig {
        theme,
        keymap,
        ascii: ui.ascii,
        // Raters copy nothing out: a rating screen stays inside the App.
        clipboard: None,
    };
    let start = RateStart {
        rater: opened.record.rater.clone(),
        run: Some(opened.record.run_id.clone()),
    };
    let services = crate::services::Services::new(store.clone());
    crate::tui::term::run_local_on(services, session.clone(), &config, Some(start))?;
    let done = store
        .ratings_by(&session.file.name, &opened.record.rater)
        .filter_map(Result::ok)
        .filter(|r| {
            opened
                .record
                .queue
                .iter()
                .any(|a| a.comparison == r.comparison)
        })
        .count();
    eprintln!(
        "{}: {done} of {} comparisons rated, saved in {}",
        opened.record.rater,
        opened.record.queue.len(),
        store_dir.display()
    );
    Ok(Outcome::Ok)
}
