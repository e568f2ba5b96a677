//! `loupe SESSION` / `loupe open SESSION`: the workbench, full screen.

use std::path::Path;
use std::sync::Arc;

use super::{Outcome, UiArgs};
use crate::store::Store;
use crate::tui::app::AppConfig;
use crate::tui::keymap::Keymap;
use crate::tui::theme::{ColorDepth, Theme};

pub fn open(session: &Path, store: &Path, ui: &UiArgs) -> anyhow::Result<Outcome> {
    let session = Arc::new(crate::session::load(session)?);
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
    let store = Store::open(store)?;
    let config = AppConfig {
        theme,
        keymap,
        ascii: ui.ascii,
        clipboard: Some(std::sync::Arc::new(crate::tui::term::osc52_copy)),
    };
    crate::tui::term::run_local(crate::services::Services::new(store), session, &config)?;
    Ok(Outcome::Ok)
}
