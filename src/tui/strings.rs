//! Every user-facing word about actions, screens and keys, in one place, so the help
//! overlay, the palette and the status bar agree with each other and with the keymap.

use super::action::Action;
use super::keymap::{Context, Keymap};
use super::state::{Screen, State};

/// One line for the help overlay and the command palette; the same sense as the `///`
/// line of the action in `action.rs`.
pub fn describe(action: Action) -> &'static str {
    match action {
        Action::Quit => "Leave Loupe",
        Action::Help => "Show or hide this help",
        Action::Palette => "Open the command palette",
        Action::GotoTemplates => "Go to the Templates screen",
        Action::GotoRun => "Go to the Run screen",
        Action::GotoCompare => "Go to the Compare screen",
        Action::GotoResults => "Go to the Results screen",
        Action::GotoRate => "Go to the Ratings screen (the rating session)",
        Action::NextScreen => "Go to the next screen",
        Action::PrevScreen => "Go to the previous screen",
        Action::Up => "Move up",
        Action::Down => "Move down",
        Action::PageUp => "Move up a page",
        Action::PageDown => "Move down a page",
        Action::Left => "Move left / previous pane",
        Action::Right => "Move right / next pane",
        Action::Select => "Open or confirm the selection",
        Action::Back => "Close, cancel or go back",
        Action::Edit => "Edit the selected template part",
        Action::Save => "Save the edited template as a new version",
        Action::WriteSession => "Write the saved template back to the session file",
        Action::RestoreVersion => "Restore the selected older template version",
        Action::Versions => "Show the template's version history",
        Action::StartRun => "Run the chosen variants on the chosen cases",
        Action::CancelRun => "Cancel the run in progress",
        Action::CycleCases => "Cycle which cases to run: all, a tag, errored, failed a check",
        Action::ToggleVariant => "Include or leave out the focused variant",
        Action::NextCase => "Show the next case",
        Action::PrevCase => "Show the previous case",
        Action::NextDiffering => "Jump to the next case whose outputs differ",
        Action::CycleDiffMode => "Cycle the diff: word, line, unified",
        Action::CycleVariant => "Cycle the variant shown on the right",
        Action::CompareEarlier => "Compare with the same variant in an earlier run you choose",
        Action::PickRun => "Choose which run of this session is shown",
        Action::NextRepeat => "Show the next repeat of both outputs",
        Action::PrevRepeat => "Show the previous repeat of both outputs",
        Action::ExpandChecks => "Show every check of both outputs, failures first, or fewer",
        Action::ResumeRun => "Resume the shown run where it was interrupted",
        Action::InspectRetrieval => {
            "Show what retrieval gave this case: query, passages, kept, cited"
        }
        Action::SortNext => "Sort the results by the next column",
        Action::FilterFailed => "Show only failed cells, or all",
        Action::FilterDiffering => "Show only cases whose outputs differ, or all",
        Action::FilterTag => "Cycle the tag filter",
        Action::NextSection => "Edit the next section: System, Examples, User",
        Action::PrevSection => "Edit the previous section",
        Action::Undo => "Undo the last edit",
        Action::Redo => "Redo the last undone edit",
        Action::Find => "Search the text being edited",
        Action::FindNext => "Jump to the next match",
        Action::Copy => "Copy the selection (shift+arrows select)",
        Action::Cut => "Cut the selection",
        Action::Paste => "Paste what was copied or cut",
        Action::RateLeft => "Rating: the left output is better",
        Action::RateRight => "Rating: the right output is better",
        Action::RateTie => "Rating: a tie",
        Action::RateBothBad => "Rating: both outputs are bad",
        Action::TakeBackScore => "Rating: take back the last rubric score",
        Action::WriteNote => "Rating: write a note for this comparison",
        Action::UndoRating => "Rating: undo the last rating",
        Action::SkipComparison => "Rating: skip this comparison (it comes back at the end)",
        Action::ToggleWordDiff => "Rating: word diff on or off",
        Action::ToggleInputs => "Rating: show or hide the case inputs",
        Action::CycleLayout => "Rating: side by side, stacked or automatic",
        Action::LabelsLeft => "Rating: failure-mode labels for the left output",
        Action::LabelsRight => "Rating: failure-mode labels for the right output",
    }
}

/// A word or two for the status bar, next to the key.
pub fn hint(action: Action) -> &'static str {
    match action {
        Action::Quit => "quit",
        Action::Help => "help",
        Action::Palette => "commands",
        Action::GotoTemplates => "templates",
        Action::GotoRun => "run screen",
        Action::GotoCompare => "compare",
        Action::GotoResults => "results",
        Action::GotoRate => "ratings",
        Action::NextScreen => "next screen",
        Action::PrevScreen => "prev screen",
        Action::Up => "up",
        Action::Down => "down",
        Action::PageUp => "page up",
        Action::PageDown => "page down",
        Action::Left => "left",
        Action::Right => "right",
        Action::Select => "open",
        Action::Back => "back",
        Action::Edit => "edit",
        Action::Save => "save",
        Action::WriteSession => "write file",
        Action::RestoreVersion => "restore",
        Action::Versions => "versions",
        Action::StartRun => "run",
        Action::CancelRun => "cancel run",
        Action::CycleCases => "cases",
        Action::ToggleVariant => "toggle",
        Action::NextCase => "next case",
        Action::PrevCase => "prev case",
        Action::NextDiffering => "next diff",
        Action::CycleDiffMode => "diff mode",
        Action::CycleVariant => "variant",
        Action::CompareEarlier => "earlier run",
        Action::PickRun => "runs",
        Action::NextRepeat => "repeat",
        Action::PrevRepeat => "prev repeat",
        Action::ExpandChecks => "checks",
        Action::ResumeRun => "resume",
        Action::InspectRetrieval => "retrieval",
        Action::SortNext => "sort",
        Action::FilterFailed => "failed",
        Action::FilterDiffering => "differing",
        Action::FilterTag => "tag",
        Action::NextSection => "section",
        Action::PrevSection => "prev section",
        Action::Undo => "undo",
        Action::Redo => "redo",
        Action::Find => "find",
        Action::FindNext => "find next",
        Action::Copy => "copy",
        Action::Cut => "cut",
        Action::Paste => "paste",
        Action::RateLeft => "left better",
        Action::RateRight => "right better",
        Action::RateTie => "tie",
        Action::RateBothBad => "both bad",
        Action::TakeBackScore => "unscore",
        Action::WriteNote => "note",
        Action::UndoRating => "undo rating",
        Action::SkipComparison => "skip",
        Action::ToggleWordDiff => "diff",
        Action::ToggleInputs => "inputs",
        Action::CycleLayout => "layout",
        Action::LabelsLeft => "labels left",
        Action::LabelsRight => "labels right",
    }
}

pub fn screen_name(screen: Screen) -> &'static str {
    match screen {
        Screen::Templates => "Templates",
        Screen::Run => "Run",
        Screen::Compare => "Compare",
        Screen::Results => "Results",
    }
}

/// The heading of a context's section in the help overlay.
pub fn context_name(context: Context) -> &'static str {
    match context {
        Context::Global => "Everywhere",
        Context::Templates => "Templates",
        Context::Editor => "Editor",
        Context::Run => "Run",
        Context::Compare => "Compare",
        Context::Results => "Results",
        Context::Rate => "Rate",
        Context::Help => "Help",
        Context::Palette => "Command palette",
    }
}

/// The actions worth a place in the status bar, most useful first, with the word to show
/// where it differs from [`hint`].
fn hinted(context: Context) -> &'static [(Action, Option<&'static str>)] {
    match context {
        Context::Global | Context::Rate => &[],
        Context::Templates => &[
            (Action::Edit, None),
            (Action::Save, None),
            (Action::Versions, None),
            (Action::StartRun, None),
            (Action::WriteSession, None),
        ],
        Context::Editor => &[
            (Action::Back, Some("done")),
            (Action::Save, None),
            (Action::NextSection, None),
            (Action::Undo, None),
            (Action::Redo, None),
            (Action::Find, None),
            (Action::Copy, None),
            (Action::Paste, None),
        ],
        Context::Run => &[
            (Action::ToggleVariant, None),
            (Action::CycleCases, None),
            (Action::StartRun, None),
            (Action::CancelRun, None),
            (Action::ResumeRun, None),
        ],
        Context::Compare => &[
            (Action::NextCase, None),
            (Action::NextRepeat, None),
            (Action::NextDiffering, None),
            (Action::CycleDiffMode, None),
            (Action::CycleVariant, None),
            (Action::CompareEarlier, None),
            (Action::PickRun, None),
        ],
        Context::Results => &[
            (Action::Select, Some("compare")),
            (Action::SortNext, None),
            (Action::FilterFailed, None),
            (Action::FilterDiffering, None),
            (Action::FilterTag, None),
            (Action::PickRun, None),
        ],
        Context::Help => &[
            (Action::Back, Some("close")),
            (Action::Down, Some("scroll")),
        ],
        Context::Palette => &[(Action::Select, Some("run")), (Action::Back, Some("close"))],
    }
}

/// Everywhere except overlays and the editor, after the context's own.
const GLOBAL_HINTS: &[(Action, Option<&'static str>)] = &[
    (Action::Help, None),
    (Action::Palette, None),
    (Action::Quit, None),
];

/// Status-bar hints for `context`: `(key, word)` pairs for a few important actions, with
/// the keys the live keymap gives them there; an action with no key is left out.
pub fn hints(keymap: &Keymap, context: Context) -> Vec<(String, &'static str)> {
    hints_where(keymap, context, |_| true)
}

/// The status bar's hints for what the App shows now: [`hints`] for its context, less what
/// it cannot do now (stepping repeats of a run that has one).
pub fn status_hints(keymap: &Keymap, state: &State) -> Vec<(String, &'static str)> {
    let repeats = state.repeats() > 1;
    hints_where(keymap, state.context(), |a| {
        repeats || !matches!(a, Action::NextRepeat | Action::PrevRepeat)
    })
}

/// [`hints`] for the actions `useful` keeps.
fn hints_where(
    keymap: &Keymap,
    context: Context,
    useful: impl Fn(Action) -> bool,
) -> Vec<(String, &'static str)> {
    let global: &[(Action, Option<&'static str>)] = match context {
        Context::Help | Context::Palette | Context::Editor => &[],
        _ => GLOBAL_HINTS,
    };
    hinted(context)
        .iter()
        .chain(global)
        .filter(|(action, _)| useful(*action))
        .filter_map(|(action, word)| {
            let key = keymap.keys_for(context, *action).into_iter().next()?;
            Some((key, word.unwrap_or_else(|| hint(*action))))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_words() {
        for a in Action::ALL {
            assert!(!describe(*a).is_empty() && !describe(*a).ends_with('.'));
            assert!(!hint(*a).is_empty() && hint(*a).len() <= 12, "{a:?}");
        }
        for c in Context::ALL {
            assert!(!context_name(c).is_empty());
        }
    }

    #[test]
    fn descriptions_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(describe(*a)), "{a:?}");
        }
    }

    #[test]
    fn hints_follow_the_live_keymap() {
        let km = Keymap::default();
        assert_eq!(
            hints(&km, Context::Templates),
            vec![
                ("e".to_owned(), "edit"),
                ("ctrl-s".to_owned(), "save"),
                ("v".to_owned(), "versions"),
                ("r".to_owned(), "run"),
                ("W".to_owned(), "write file"),
                ("?".to_owned(), "help"),
                (":".to_owned(), "commands"),
                ("q".to_owned(), "quit"),
            ]
        );
        assert_eq!(
            hints(&km, Context::Editor),
            vec![
                ("esc".to_owned(), "done"),
                ("ctrl-s".to_owned(), "save"),
                ("alt-right".to_owned(), "section"),
                ("ctrl-z".to_owned(), "undo"),
                ("ctrl-y".to_owned(), "redo"),
                ("ctrl-f".to_owned(), "find"),
                ("ctrl-c".to_owned(), "copy"),
                ("ctrl-v".to_owned(), "paste"),
            ]
        );
        let km = km
            .with_overrides(
                "global:\n  q: null\n  ctrl-q: quit\ncompare:\n  ']': null\n",
                "t.yaml",
            )
            .unwrap();
        let compare = hints(&km, Context::Compare);
        assert!(compare.contains(&("ctrl-q".to_owned(), "quit")));
        assert!(!compare.iter().any(|(_, w)| *w == "next diff"));
        assert!(hints(&km, Context::Run).len() >= 4);
    }
}
