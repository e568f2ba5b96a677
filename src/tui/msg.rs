//! Messages into `update` and the effects it asks for.

use std::collections::HashMap;
use std::sync::Arc;

use super::action::Action;
use super::input::Key;
use super::state::DiffKey;
use crate::diff::{DiffLines, DiffMode};
use crate::providers::Message;
use crate::report::RunReport;
use crate::runner::RunEvent;
use crate::session::TemplateSpec;
use crate::store::{OutputRecord, RunRecord, TemplateVersionRecord};

/// A template error's place: the editor shows it on the part it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorAt {
    pub template: String,
    pub part: crate::template::Part,
    /// The line within the part.
    pub line: usize,
    pub detail: String,
}

impl ErrorAt {
    pub fn of(err: &anyhow::Error) -> Option<Self> {
        let e = err.downcast_ref::<crate::template::TemplateError>()?;
        let (template, part, line) = e.place()?;
        Some(Self {
            template: template.to_owned(),
            part,
            line,
            detail: e.detail(),
        })
    }
}

/// Everything `update` reacts to: input, time, and the results of effects.
#[derive(Debug)]
pub enum Msg {
    /// A key press (releases never get this far).
    Key(Key),
    Paste(String),
    Resize(u16, u16),
    /// Time passed; the value is milliseconds since the App started.
    Tick(u64),
    Action(Action),
    PreviewRendered {
        generation: u64,
        result: Result<Vec<Message>, String>,
        /// Where the error is, when it is in one template's text.
        at: Option<ErrorAt>,
    },
    Run(RunEvent),
    /// A finished cell's output as stored, read when the run says the cell is done.
    CellOutput(Box<OutputRecord>),
    RunLoaded {
        run: RunRecord,
        outputs: Vec<OutputRecord>,
        earlier: Vec<String>,
    },
    /// The session has no run in the store yet.
    NoRun,
    /// What retrieval did in a loaded run, and the texts of the passages it names.
    RetrievalsLoaded {
        run_id: String,
        retrievals: Vec<(String, String, crate::store::RetrievalRecord)>,
        texts: HashMap<String, String>,
    },
    EarlierLoaded {
        run_id: String,
        outputs: Vec<OutputRecord>,
    },
    ReportReady(RunReport),
    DiffReady {
        key: DiffKey,
        diff: Arc<DiffLines>,
    },
    TemplateSaved {
        template: String,
        hash: String,
        /// Saved because a run was started with it unsaved.
        for_run: bool,
    },
    /// The session's runs, newest first, for the run picker.
    RunsListed(Vec<super::screens::picker::state::RunSummary>),
    /// Which version each template opens on, and the user's drafts, read at start.
    TemplatesOpened(Vec<TemplateOpening>),
    VersionsLoaded {
        template: String,
        list: Vec<TemplateVersionRecord>,
    },
    SessionWritten {
        path: String,
    },
    Error(String),
    /// Results of the rating screen's effects.
    Rate(super::screens::rate::RateMsg),
}

/// What the workbench opens one template on.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOpening {
    pub template: String,
    /// The version the session file holds.
    pub file: Option<String>,
    /// The version last saved in the workbench, with its text, when it is not the file's
    /// and the file has not changed since: the workbench opens on it.
    pub head: Option<(String, TemplateSpec)>,
    /// This user's unsaved draft of the template, offered back.
    pub draft: Option<crate::store::DraftRecord>,
}

/// Work `update` asks the host to do; each reports back with a `Msg`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RenderPreview {
        generation: u64,
        template: String,
        specs: HashMap<String, TemplateSpec>,
        case: usize,
    },
    StartRun {
        variants: Vec<String>,
        case_ids: Vec<String>,
        /// The templates as edited in the App (the run uses them, saved or not).
        specs: HashMap<String, TemplateSpec>,
        /// Unsaved templates the run uses: saved as versions first, as ctrl-s would.
        save_first: Vec<String>,
    },
    /// List the session's runs for the run picker.
    ListRuns,
    /// Resume an interrupted run where it stopped.
    ResumeRun {
        run_id: String,
        /// The templates as edited in the App: they must be the versions the run used.
        specs: HashMap<String, TemplateSpec>,
    },
    /// Read which version each template opens on and the user's drafts.
    OpenTemplates,
    /// Keep the user's unsaved edit of a template as their draft.
    SaveDraft {
        template: String,
        spec: TemplateSpec,
    },
    CancelRun,
    /// Load the newest run of the session (and its outputs).
    LoadLatestRun,
    LoadRun(String),
    LoadEarlier(String),
    ComputeDiff {
        key: DiffKey,
        left: String,
        right: String,
        mode: DiffMode,
    },
    SaveTemplate {
        template: String,
        specs: HashMap<String, TemplateSpec>,
    },
    LoadVersions(String),
    WriteSession {
        specs: HashMap<String, TemplateSpec>,
    },
    /// Store work of the rating screen.
    Rate(super::screens::rate::RateEffect),
    /// Put text on the clipboard of the terminal the user sits at (OSC 52, over SSH too).
    Copy(String),
}
