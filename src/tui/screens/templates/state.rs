//! The Templates screen's state: the session's templates as edited, the editor, the preview.

use std::collections::HashMap;

use ratatui_textarea::TextArea;

use crate::providers::Message;
use crate::session::TemplateSpec;
use crate::store::TemplateVersionRecord;
use crate::tui::msg::ErrorAt;

/// The section of a template being looked at or edited: coarser than `template::Part`,
/// which tells each example's turns apart for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    System,
    Examples,
    User,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::System, Section::Examples, Section::User];
}

pub struct TemplatesState {
    pub names: Vec<String>,
    pub selected: usize,
    pub part: Section,
    /// The session's templates as edited in this App (saved or not).
    pub specs: HashMap<String, TemplateSpec>,
    /// Templates changed since the last save.
    pub unsaved: Vec<String>,
    /// Templates saved as a new version but not yet written to the session file.
    pub unwritten: Vec<String>,
    /// Present while the user types in the editor.
    pub editor: Option<TextArea<'static>>,
    /// Case whose variables feed the preview.
    pub case: usize,
    pub preview: Result<Vec<Message>, String>,
    /// Where the preview's error is, when it is in one template's text.
    pub preview_error_at: Option<ErrorAt>,
    /// Bumped at each edit; a preview rendered for an older generation is dropped.
    pub edit_gen: u64,
    pub preview_gen: u64,
    /// When to re-render the preview (after a pause in typing).
    pub preview_due_ms: Option<u64>,
    pub versions: Option<VersionsView>,
    /// The search prompt's text while the user types it.
    pub find: Option<String>,
    /// The last search, for find-next.
    pub last_find: Option<String>,
    /// Which match the cursor is on and how many there are (1-based; 0 when none).
    pub find_count: Option<(usize, usize)>,
    /// Where the cursor was when the search prompt opened: each keystroke searches from
    /// there, and esc (or no match) returns to it.
    pub find_origin: (usize, usize),
    /// Which stored version each template's text is, per template name.
    pub info: HashMap<String, TemplateInfo>,
    /// The user was told once that quitting keeps their unsaved edits as a draft.
    pub quit_warned: bool,
}

/// Where a template's text in the workbench comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateInfo {
    /// The stored version the text was opened on or last saved as.
    pub version: Option<String>,
    /// The version the session file holds.
    pub file: Option<String>,
    /// When the unsaved draft the text was restored from was kept, if it was.
    pub draft_ms: Option<u64>,
}

impl TemplateInfo {
    /// Whether the session file holds another version than the one shown (`W` writes it).
    pub fn file_differs(&self) -> bool {
        self.version.is_some() && self.file.is_some() && self.version != self.file
    }
}

pub struct VersionsView {
    pub template: String,
    pub list: Vec<TemplateVersionRecord>,
    pub selected: usize,
}
