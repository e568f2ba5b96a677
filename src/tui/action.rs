//! What a key can do: the keymap's vocabulary (`snake_case` names in keymap YAML).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave Loupe.
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Open the command palette.
    Palette,
    /// Go to the Templates screen.
    GotoTemplates,
    /// Go to the Run screen.
    GotoRun,
    /// Go to the Compare screen.
    GotoCompare,
    /// Go to the Results screen.
    GotoResults,
    /// Go to the Ratings screen (the owner's view of the rating session).
    GotoRate,
    /// Next screen.
    NextScreen,
    /// Previous screen.
    PrevScreen,
    /// Move up.
    Up,
    /// Move down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Move left / previous pane.
    Left,
    /// Move right / next pane.
    Right,
    /// Open or confirm the selection.
    Select,
    /// Close, cancel or go back.
    Back,
    /// Edit the selected template part.
    Edit,
    /// Save the edited template as a new version.
    Save,
    /// Write the saved template back to the session YAML file.
    WriteSession,
    /// Restore the selected older template version.
    RestoreVersion,
    /// Show the template's version history.
    Versions,
    /// Start a run of the chosen variants and cases.
    StartRun,
    /// Cancel the run in progress.
    CancelRun,
    /// Cycle which cases to run: all, a tag, failed last time.
    CycleCases,
    /// Toggle the focused variant in the run selection.
    ToggleVariant,
    /// Next case.
    NextCase,
    /// Previous case.
    PrevCase,
    /// Next case whose outputs differ.
    NextDiffering,
    /// Cycle diff mode: word, line, unified.
    CycleDiffMode,
    /// Cycle the variant shown on the right.
    CycleVariant,
    /// Compare with the same variant in an earlier run.
    CompareEarlier,
    /// Choose the run shown in Results and Compare.
    PickRun,
    /// Show the next repeat of the outputs (a run with `--repeats` above 1).
    NextRepeat,
    /// Show the previous repeat of the outputs.
    PrevRepeat,
    /// Resume the shown run where it was interrupted.
    ResumeRun,
    /// Give the checks panels most of the Compare screen, or give it back.
    ExpandChecks,
    /// Show or hide what retrieval gave the focused case (query, passages, kept, cited).
    InspectRetrieval,
    /// Sort the results table by the next column.
    SortNext,
    /// Show only failed cells.
    FilterFailed,
    /// Show only cases whose outputs differ.
    FilterDiffering,
    /// Cycle the tag filter.
    FilterTag,
    /// Edit the template's next section (System, Examples, User).
    NextSection,
    /// Edit the template's previous section.
    PrevSection,
    /// Undo the last edit.
    Undo,
    /// Redo the last undone edit.
    Redo,
    /// Search the text being edited.
    Find,
    /// Jump to the next match of the search.
    FindNext,
    /// Copy the selection (also to the terminal's clipboard).
    Copy,
    /// Cut the selection (also to the terminal's clipboard).
    Cut,
    /// Paste what was copied or cut last.
    Paste,
    /// Rating: the left output is better.
    RateLeft,
    /// Rating: the right output is better.
    RateRight,
    /// Rating: a tie.
    RateTie,
    /// Rating: both outputs are bad.
    RateBothBad,
    /// Rating: take back the last rubric score.
    TakeBackScore,
    /// Rating: write a note for this comparison.
    WriteNote,
    /// Rating: undo the last rating.
    UndoRating,
    /// Rating: skip this comparison (it comes back at the end).
    SkipComparison,
    /// Rating: word diff on or off.
    ToggleWordDiff,
    /// Rating: show or hide the case inputs.
    ToggleInputs,
    /// Rating: side by side, stacked or automatic.
    CycleLayout,
    /// Rating: failure-mode labels for the left output.
    LabelsLeft,
    /// Rating: failure-mode labels for the right output.
    LabelsRight,
}

impl Action {
    /// Every action, for the palette and the help overlay.
    pub const ALL: &[Action] = &[
        Action::Quit,
        Action::Help,
        Action::Palette,
        Action::GotoTemplates,
        Action::GotoRun,
        Action::GotoCompare,
        Action::GotoResults,
        Action::GotoRate,
        Action::NextScreen,
        Action::PrevScreen,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Left,
        Action::Right,
        Action::Select,
        Action::Back,
        Action::Edit,
        Action::Save,
        Action::WriteSession,
        Action::RestoreVersion,
        Action::Versions,
        Action::StartRun,
        Action::CancelRun,
        Action::CycleCases,
        Action::ToggleVariant,
        Action::NextCase,
        Action::PrevCase,
        Action::NextDiffering,
        Action::CycleDiffMode,
        Action::CycleVariant,
        Action::CompareEarlier,
        Action::PickRun,
        Action::NextRepeat,
        Action::PrevRepeat,
        Action::ResumeRun,
        Action::ExpandChecks,
        Action::InspectRetrieval,
        Action::SortNext,
        Action::FilterFailed,
        Action::FilterDiffering,
        Action::FilterTag,
        Action::NextSection,
        Action::PrevSection,
        Action::Undo,
        Action::Redo,
        Action::Find,
        Action::FindNext,
        Action::Copy,
        Action::Cut,
        Action::Paste,
        Action::RateLeft,
        Action::RateRight,
        Action::RateTie,
        Action::RateBothBad,
        Action::TakeBackScore,
        Action::WriteNote,
        Action::UndoRating,
        Action::SkipComparison,
        Action::ToggleWordDiff,
        Action::ToggleInputs,
        Action::CycleLayout,
        Action::LabelsLeft,
        Action::LabelsRight,
    ];

    /// Whether the action belongs to the rating screen (which reads its keys itself: the
    /// command palette, which the rating screen does not open, leaves these out).
    pub fn is_rating(self) -> bool {
        matches!(
            self,
            Action::RateLeft
                | Action::RateRight
                | Action::RateTie
                | Action::RateBothBad
                | Action::TakeBackScore
                | Action::WriteNote
                | Action::UndoRating
                | Action::SkipComparison
                | Action::ToggleWordDiff
                | Action::ToggleInputs
                | Action::CycleLayout
                | Action::LabelsLeft
                | Action::LabelsRight
        )
    }
}
