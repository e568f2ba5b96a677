//! One layer stack: what lies over the screen, in the order that decides both who gets a
//! key first (top down) and what is painted over what (bottom up). The order is written
//! here once; `update` and `draw` both walk it.

use super::state::{Overlay, State};

/// A layer over the current screen, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The template editor (typing goes into the template; painted in its pane).
    Editor,
    /// The editor's search prompt (painted in the editor's pane).
    Find,
    /// The owner's view of a rating session, below the tabs line.
    Owner,
    /// The blind rating screen, over the whole frame.
    Rating,
    /// The run picker, over Results or Compare.
    Picker,
    /// Messages in the corner; they take no keys.
    Toasts,
    Help,
    Palette,
}

/// The layers present now, lowest first.
pub fn stack(state: &State) -> Vec<Layer> {
    let mut out = Vec::new();
    if state.templates.editor.is_some() {
        out.push(Layer::Editor);
    }
    if state.templates.find.is_some() {
        out.push(Layer::Find);
    }
    if state.owner.is_some() {
        out.push(Layer::Owner);
    }
    if state.rating.is_some() {
        out.push(Layer::Rating);
    }
    if state.picker.is_some() {
        out.push(Layer::Picker);
    }
    if !state.toasts.is_empty() {
        out.push(Layer::Toasts);
    }
    match state.overlay {
        Overlay::None => {}
        Overlay::Help { .. } => out.push(Layer::Help),
        Overlay::Palette { .. } => out.push(Layer::Palette),
    }
    out
}
