//! The whole of what the screen shows, as plain data. `update` changes it; `draw` reads it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use ratatui_textarea::TextArea;

use crate::diff::{DiffLines, DiffMode};
use crate::providers::Message;
use crate::report::RunReport;
use crate::session::{Session, TemplateSpec};
use crate::store::{OutputRecord, RunRecord, TemplateVersionRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Templates,
    Run,
    Compare,
    Results,
}

impl Screen {
    pub const ALL: [Screen; 4] = [
        Screen::Templates,
        Screen::Run,
        Screen::Compare,
        Screen::Results,
    ];

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub level: Level,
    /// `State::now_ms` after which it disappears.
    pub until_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help { scroll: u16 },
    Palette { query: String, selected: usize },
}

/// The part of a template being looked at or edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    System,
    Examples,
    User,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::System, Part::Examples, Part::User];
}

pub struct TemplatesState {
    pub names: Vec<String>,
    pub selected: usize,
    pub part: Part,
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
    pub preview_error_at: Option<super::msg::ErrorAt>,
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
}

pub struct VersionsView {
    pub template: String,
    pub list: Vec<TemplateVersionRecord>,
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseFilter {
    All,
    Tag(String),
    FailedLastRun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRun {
    pub run_id: String,
    pub total: usize,
    pub done: usize,
    pub errors: usize,
    pub cached: usize,
    pub started_ms: u64,
}

pub struct RunState {
    /// Which session variants the next run includes (by index).
    pub chosen: Vec<bool>,
    pub cursor: usize,
    pub filter: CaseFilter,
    pub active: Option<ActiveRun>,
    /// Case whose outputs stream into the panes.
    pub case: usize,
    /// Text streamed so far for the focused case, per variant: already sanitized.
    pub live: HashMap<String, String>,
    pub cell_errors: Vec<String>,
}

pub struct CompareState {
    pub case: usize,
    /// Variant indices into the run's variants.
    pub left: usize,
    pub right: usize,
    pub mode: ViewMode,
    /// The earlier run the right side comes from, for a regression view.
    pub right_run: Option<String>,
    pub diff: Option<(DiffKey, Arc<DiffLines>)>,
    pub scroll: u16,
    /// The retrieval inspector replaces the diff (`g`).
    pub inspect: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewMode {
    Word,
    Line,
    Unified,
}

impl ViewMode {
    pub fn diff_mode(self) -> DiffMode {
        match self {
            ViewMode::Line => DiffMode::Line,
            ViewMode::Word | ViewMode::Unified => DiffMode::Word,
        }
    }
}

/// Names a computed diff: which two texts, compared how.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiffKey {
    pub left: String,
    pub right: String,
    pub mode: DiffMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Variant,
    PassRate,
    LatencyP50,
    Cost,
    Errors,
}

pub struct ResultsState {
    pub report: Option<RunReport>,
    pub sort: SortBy,
    /// Row of the case x variant grid.
    pub row: usize,
    pub failed_only: bool,
    pub differing_only: bool,
    pub tag: Option<String>,
}

/// Outputs of one run, by (variant, case id), first repeat.
#[derive(Default)]
pub struct RunData {
    pub run: Option<RunRecord>,
    pub outputs: HashMap<(String, String), OutputRecord>,
    /// Earlier runs of this session, newest first (ids), for the regression view.
    pub earlier: Vec<String>,
    pub earlier_outputs: HashMap<(String, String), OutputRecord>,
    /// Per case id of the loaded run: (some output failed, the outputs differ). Computed
    /// once when a run loads, so the Results filters cost nothing per frame.
    pub case_flags: HashMap<String, (bool, bool)>,
    /// Latency of the run's answered outputs, computed once when the run loads.
    pub latency: LatencyHistogram,
    /// The newest run is being read at start: screens say so instead of "no run yet".
    pub loading: bool,
    /// What retrieval did per (variant, case id) in the loaded run (RAG variants only).
    pub retrievals: HashMap<(String, String), crate::store::RetrievalRecord>,
    /// The text of every passage those retrievals name, by passage id.
    pub passage_texts: HashMap<String, String>,
}

/// Outputs' latencies in [`LatencyHistogram::BUCKETS`] equal-width buckets from 0 to the
/// slowest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// The slowest latency, ms (at least 1).
    pub max: u64,
    pub counts: Vec<u64>,
}

impl LatencyHistogram {
    pub const BUCKETS: u64 = 8;

    /// Over every output without an error.
    pub fn of<'a>(outputs: impl IntoIterator<Item = &'a OutputRecord> + Clone) -> Self {
        let answered = |o: &&OutputRecord| o.error.is_none();
        let max = outputs
            .clone()
            .into_iter()
            .filter(answered)
            .map(|o| o.latency_ms)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut counts = vec![0; Self::BUCKETS as usize];
        for o in outputs.into_iter().filter(answered) {
            counts[((o.latency_ms * Self::BUCKETS) / (max + 1)) as usize] += 1;
        }
        Self { max, counts }
    }

    /// The upper bound of bucket `i`, ms.
    pub fn upper(&self, i: usize) -> u64 {
        (i as u64 + 1) * self.max / Self::BUCKETS
    }
}

pub struct State {
    pub session: Arc<Session>,
    pub screen: Screen,
    pub overlay: Overlay,
    pub toasts: VecDeque<Toast>,
    /// Milliseconds since the App started, advanced by ticks (no clock inside `update`).
    pub now_ms: u64,
    pub templates: TemplatesState,
    pub run: RunState,
    pub compare: CompareState,
    pub results: ResultsState,
    pub data: RunData,
    /// Text copied in the editor, waiting to be sent to the terminal's clipboard (OSC 52).
    pub clipboard: Option<String>,
    /// The rating screen and the owner's view (`tui::rate`).
    pub rate: super::rate::Rate,
    pub quit: bool,
}

impl State {
    /// Whose keys apply: the overlay's, else the screen's.
    pub fn context(&self) -> crate::tui::keymap::Context {
        use crate::tui::keymap::Context;
        match self.overlay {
            Overlay::Help { .. } => Context::Help,
            Overlay::Palette { .. } => Context::Palette,
            Overlay::None => self.screen_context(),
        }
    }

    /// The screen's key context, overlays aside: the editor's while it is open.
    pub fn screen_context(&self) -> crate::tui::keymap::Context {
        use crate::tui::keymap::Context;
        if self.templates.editor.is_some() {
            return Context::Editor;
        }
        match self.screen {
            Screen::Templates => Context::Templates,
            Screen::Run => Context::Run,
            Screen::Compare => Context::Compare,
            Screen::Results => Context::Results,
        }
    }

    pub fn new(session: Arc<Session>) -> Self {
        let names: Vec<String> = session.file.templates.keys().cloned().collect();
        let specs = session
            .file
            .templates
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let variants = session.file.variants.len();
        Self {
            screen: Screen::Templates,
            overlay: Overlay::None,
            toasts: VecDeque::new(),
            now_ms: 0,
            templates: TemplatesState {
                names,
                selected: 0,
                part: Part::User,
                specs,
                unsaved: Vec::new(),
                unwritten: Vec::new(),
                editor: None,
                case: 0,
                preview: Err(String::new()),
                preview_error_at: None,
                edit_gen: 1,
                preview_gen: 0,
                preview_due_ms: Some(0),
                versions: None,
                find: None,
                last_find: None,
            },
            run: RunState {
                chosen: vec![true; variants],
                cursor: 0,
                filter: CaseFilter::All,
                active: None,
                case: 0,
                live: HashMap::new(),
                cell_errors: Vec::new(),
            },
            compare: CompareState {
                case: 0,
                left: 0,
                right: usize::from(variants > 1),
                mode: ViewMode::Word,
                right_run: None,
                diff: None,
                scroll: 0,
                inspect: false,
            },
            results: ResultsState {
                report: None,
                sort: SortBy::Variant,
                row: 0,
                failed_only: false,
                differing_only: false,
                tag: None,
            },
            data: RunData::default(),
            clipboard: None,
            rate: super::rate::Rate::default(),
            session,
            quit: false,
        }
    }

    pub fn toast(&mut self, level: Level, text: impl Into<String>) {
        let ttl = if level == Level::Error { 6_000 } else { 3_000 };
        self.toasts.push_back(Toast {
            text: text.into(),
            level,
            until_ms: self.now_ms + ttl,
        });
        while self.toasts.len() > 3 {
            self.toasts.pop_front();
        }
    }

    pub fn selected_template(&self) -> Option<&str> {
        self.templates
            .names
            .get(self.templates.selected)
            .map(String::as_str)
    }

    /// Variant names of the loaded run (or the session when no run is loaded).
    pub fn run_variants(&self) -> Vec<String> {
        match &self.data.run {
            Some(run) => run.variants.iter().map(|v| v.name.clone()).collect(),
            None => self
                .session
                .file
                .variants
                .iter()
                .map(|v| v.name.clone())
                .collect(),
        }
    }

    pub fn output(&self, variant: &str, case_id: &str) -> Option<&OutputRecord> {
        self.data
            .outputs
            .get(&(variant.to_owned(), case_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(latency_ms: u64, error: Option<&str>) -> OutputRecord {
        OutputRecord {
            run_id: "r".into(),
            variant: "v".into(),
            case_id: format!("c{latency_ms}"),
            repeat: 0,
            text: String::new(),
            usage: crate::providers::Usage::default(),
            latency_ms,
            ttft_ms: None,
            cost_usd: None,
            cached: false,
            attempts: 1,
            finish_reason: None,
            error: error.map(str::to_owned),
            request_hash: String::new(),
            checks: Vec::new(),
            schema_attempts: Vec::new(),
            passages: Vec::new(),
            finished_ms: 0,
        }
    }

    #[test]
    fn latency_histogram_buckets_answered_outputs_up_to_the_slowest() {
        let outputs = [
            output(0, None),
            output(100, None),
            output(450, None),
            output(800, None),
            output(5_000, Some("timed out")),
        ];
        let h = LatencyHistogram::of(&outputs);
        assert_eq!(h.max, 800, "the failed request's 5 s is not a latency");
        assert_eq!(h.counts, [2, 0, 0, 0, 1, 0, 0, 1]);
        assert_eq!(h.upper(0), 100);
        assert_eq!(h.upper(7), 800);
        assert_eq!(LatencyHistogram::of(&[]).counts, [0; 8]);
    }
}
