//! The whole of what the screen shows, as plain data. `update` changes it; `draw` reads it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::session::Session;
use crate::store::{OutputRecord, RunRecord};

pub use super::screens::compare::state::{CompareState, DiffKey, ViewMode};
use super::screens::owner::state::OwnerView;
use super::screens::rate::state::RatingScreen;
pub use super::screens::results::state::{ResultsState, SortBy};
pub use super::screens::run::state::{ActiveRun, CaseFilter, LiveCell, RunState};
pub use super::screens::templates::state::{Section, TemplateInfo, TemplatesState, VersionsView};

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

/// Outputs of one run, by (variant, case id): every repeat, in repeat order.
#[derive(Default)]
pub struct RunData {
    pub run: Option<RunRecord>,
    pub outputs: HashMap<(String, String), Vec<OutputRecord>>,
    /// Earlier runs of this session, newest first (ids), for the regression view.
    pub earlier: Vec<String>,
    /// The earlier run's outputs for the regression view, as `outputs`.
    pub earlier_outputs: HashMap<(String, String), Vec<OutputRecord>>,
    /// Per case id of the loaded run: (some output failed, the outputs differ). Computed
    /// once when a run loads, so the Results filters cost nothing per frame.
    pub case_flags: HashMap<String, CaseFlags>,
    /// Latency of the run's answered outputs, computed once when the run loads.
    pub latency: LatencyHistogram,
    /// The newest run is being read at start: screens say so instead of "no run yet".
    pub loading: bool,
    /// What retrieval did per (variant, case id) in the loaded run (RAG variants only).
    pub retrievals: HashMap<(String, String), crate::store::RetrievalRecord>,
    /// The text of every passage those retrievals name, by passage id.
    pub passage_texts: HashMap<String, String>,
}

/// What the filters need to know of one case's outputs in the loaded run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseFlags {
    /// Some output (any variant, any repeat) is an error (no answer).
    pub errored: bool,
    /// Some answer (any variant, any repeat) failed a check.
    pub failed_check: bool,
    /// The outputs differ from each other (across variants and repeats).
    pub differ: bool,
}

impl CaseFlags {
    /// Errored or failed a check: what "failed" means in Results.
    pub fn failed(self) -> bool {
        self.errored || self.failed_check
    }
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
    /// The blind rating screen, for one rater (`screens::rate`).
    pub rating: Option<RatingScreen>,
    /// The owner's view of the rating session (`screens::owner`); never while a rater rates.
    pub owner: Option<OwnerView>,
    pub quit: bool,
    /// The run picker, over Results or Compare.
    pub picker: Option<super::screens::picker::state::RunPicker>,
    /// The terminal's size (columns, rows), for keeping scroll positions inside content.
    pub size: (u16, u16),
    /// Who works in this App: their drafts are theirs (the OS user locally, the name their
    /// key maps to over `loupe serve`).
    pub user: String,
}

/// The person at the local terminal: the OS user.
pub fn local_user() -> String {
    ["USER", "LOGNAME"]
        .into_iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "local".to_owned())
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
                // The first section, as the tabs above the editor read.
                part: Section::System,
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
                find_count: None,
                find_origin: (0, 0),
                info: HashMap::new(),
                quit_warned: false,
            },
            run: RunState {
                chosen: vec![true; variants],
                cursor: 0,
                filter: CaseFilter::All,
                active: None,
                case: 0,
                live: HashMap::new(),
                scroll_back: 0,
                cell_errors: Vec::new(),
                unreachable: std::collections::BTreeMap::new(),
                summary: Vec::new(),
            },
            compare: CompareState {
                case: 0,
                left: 0,
                right: usize::from(variants > 1),
                repeat: 0,
                mode: ViewMode::Word,
                right_run: None,
                diff: None,
                scroll: 0,
                inspect: false,
                checks_expanded: false,
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
            rating: None,
            owner: None,
            session,
            quit: false,
            picker: None,
            size: (80, 24),
            user: local_user(),
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

    /// The earliest time (`now_ms` scale) something changes without input: a toast
    /// expires, a debounced preview is due. `None` when nothing is due, and then an idle
    /// App needs no clock at all.
    pub fn next_due_ms(&self) -> Option<u64> {
        let toast = self.toasts.iter().map(|t| t.until_ms).min();
        [toast, self.templates.preview_due_ms]
            .into_iter()
            .flatten()
            .min()
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

    /// The first repeat's output of a cell of the loaded run.
    pub fn output(&self, variant: &str, case_id: &str) -> Option<&OutputRecord> {
        self.outputs(variant, case_id).first()
    }

    /// Every repeat's output of a cell of the loaded run, in repeat order.
    pub fn outputs(&self, variant: &str, case_id: &str) -> &[OutputRecord] {
        self.data
            .outputs
            .get(&(variant.to_owned(), case_id.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Repeats per cell in the loaded run (1 when no run is loaded).
    pub fn repeats(&self) -> u32 {
        self.data.run.as_ref().map_or(1, |r| r.repeats.max(1))
    }
}

/// The output of `repeat` among one cell's outputs (in repeat order), else the last
/// repeat before it (a run with fewer repeats, or one interrupted before this one).
pub fn repeat_of(outputs: &[OutputRecord], repeat: u32) -> Option<&OutputRecord> {
    outputs.iter().rev().find(|o| o.repeat <= repeat)
}

/// A run's outputs grouped by cell, each cell's repeats in repeat order.
pub fn by_cell(outputs: Vec<OutputRecord>) -> HashMap<(String, String), Vec<OutputRecord>> {
    let mut cells: HashMap<(String, String), Vec<OutputRecord>> = HashMap::new();
    for o in outputs {
        cells
            .entry((o.variant.clone(), o.case_id.clone()))
            .or_default()
            .push(o);
    }
    for list in cells.values_mut() {
        list.sort_by_key(|o| o.repeat);
    }
    cells
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
