//! `update` unit tests: keys and messages in, state changes and effects out, no terminal.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::checks::with_checks;
use common::records;
use common::tui_harness::{demo_session, load_run};
use loupe::runner::RunEvent;
use loupe::store::{CellKey, OutputRecord, RunStatus};
use loupe::tui::input::{Key, KeyCode, Modifiers};
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::{Effect, Msg};
use loupe::tui::screens::picker::state::RunSummary;
use loupe::tui::state::{CaseFilter, Overlay, Screen, Section, State};
use loupe::tui::update::update;

fn demo() -> State {
    State::new(demo_session())
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(Key::new(code, Modifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(Key::new(KeyCode::Char(c), Modifiers::CTRL))
}

/// In the editor (which opens on System): to the User section, one step back.
fn to_user() -> Msg {
    Msg::Key(Key::new(KeyCode::Left, Modifiers::ALT))
}

fn shift(code: KeyCode) -> Msg {
    Msg::Key(Key::new(code, Modifiers::SHIFT))
}

fn press(state: &mut State, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
    let km = Keymap::default();
    msgs.into_iter()
        .flat_map(|m| update(state, &km, m))
        .collect()
}

fn typed(text: &str) -> Vec<Msg> {
    text.chars().map(|c| key(KeyCode::Char(c))).collect()
}

fn user_text(state: &State) -> String {
    let name = state.selected_template().unwrap();
    state.templates.specs[name].user.clone().unwrap_or_default()
}

/// Opens the editor (on System), steps back to the User section and moves to its end.
fn edit_user_at_end(state: &mut State) {
    press(
        state,
        [key(KeyCode::Char('e')), to_user(), key(KeyCode::End)],
    );
}

/// The cell of run `r1` for `variant` on `case`, first repeat.
fn cell(variant: &str, case: &str) -> CellKey {
    CellKey {
        run_id: "r1".into(),
        variant: variant.into(),
        case_id: case.into(),
        repeat: 0,
    }
}

/// On the Run screen, starts run `r1` of zero-shot alone (the next three variants toggled
/// off) and reports it started, with no cell done yet.
fn start_zero_shot_run(state: &mut State) {
    press(state, [key(KeyCode::Char('2'))]);
    for _ in 0..3 {
        press(state, [key(KeyCode::Down), key(KeyCode::Char(' '))]);
    }
    press(state, [key(KeyCode::Char('r'))]);
    press(
        state,
        [Msg::Run(RunEvent::Started {
            run_id: "r1".into(),
            total: 24,
            already_done: 0,
        })],
    );
}

#[test]
fn typing_edits_the_template_and_the_preview_follows_after_a_pause() {
    let mut s = demo();
    // The editor opens on the first section, as its tabs read: System.
    assert_eq!(s.templates.part, Section::System);
    let before = user_text(&s);
    press(&mut s, [key(KeyCode::Char('e'))]);
    assert!(s.templates.editor.is_some(), "e opens the editor");
    let screen = draw_text(&s, 80, 24);
    assert!(
        screen.contains("You are a precise change-management"),
        "{screen}"
    );
    // alt-left steps back from System to the last section, User, keeping the editor open.
    press(&mut s, [to_user()]);
    assert_eq!(s.templates.part, Section::User);
    assert!(s.templates.editor.is_some());
    assert!(
        s.templates.editor.as_ref().unwrap().lines()[0].starts_with("Evaluate the following"),
        "{:?}",
        s.templates.editor.as_ref().unwrap().lines()
    );
    // Printable keys are text in the editor, even ones bound elsewhere (q quits outside).
    press(&mut s, [key(KeyCode::End)]);
    press(&mut s, typed(" q?"));
    assert!(!s.quit);
    assert_eq!(
        user_text(&s).lines().next().unwrap(),
        format!("{} q?", before.lines().next().unwrap())
    );
    assert!(s.templates.unsaved.contains(&"zero-shot".to_owned()));

    // No preview while typing; one after the debounce, for the newest text.
    let generation = s.templates.edit_gen;
    let due = s.templates.preview_due_ms.unwrap();
    assert!(press(&mut s, [Msg::Tick(due - 1)]).is_empty());
    let effects = press(&mut s, [Msg::Tick(due)]);
    assert!(
        matches!(&effects[..], [Effect::RenderPreview { generation: g, template, .. }, ..]
            if *g == generation && template == "zero-shot"),
        "{effects:?}"
    );
    // The same pause keeps the unsaved text as the user's draft.
    assert!(
        matches!(&effects[..], [_, Effect::SaveDraft { template, spec }]
            if template == "zero-shot" && spec.user.as_deref().is_some_and(|u| u.contains(" q?"))),
        "{effects:?}"
    );

    // A slow render of older text must not replace a newer one.
    press(
        &mut s,
        [Msg::PreviewRendered {
            generation,
            result: Err("new".into()),
            at: None,
        }],
    );
    press(
        &mut s,
        [Msg::PreviewRendered {
            generation: generation - 1,
            result: Err("stale".into()),
            at: None,
        }],
    );
    assert_eq!(s.templates.preview, Err("new".into()));

    // Esc leaves the editor, keeping the text; q now says the edit is kept as a draft,
    // once, and the next q quits.
    press(&mut s, [key(KeyCode::Esc)]);
    assert!(s.templates.editor.is_none());
    assert!(user_text(&s).contains(" q?"));
    let effects = press(&mut s, [key(KeyCode::Char('q'))]);
    assert!(!s.quit);
    assert!(
        matches!(&effects[..], [Effect::SaveDraft { template, .. }] if template == "zero-shot"),
        "{effects:?}"
    );
    assert!(s.toasts.iter().any(|t| t.text.contains("q again quits")));
    press(&mut s, [key(KeyCode::Char('q'))]);
    assert!(s.quit);
}

#[test]
fn undo_redo_find_copy_and_paste_in_the_editor() {
    let mut s = demo();
    let before = user_text(&s);
    edit_user_at_end(&mut s);
    press(&mut s, typed("XY"));
    assert!(user_text(&s).contains("XY"));
    // One undo step per inserted character, as in the textarea widget.
    press(&mut s, [ctrl('z'), ctrl('z')]);
    assert_eq!(user_text(&s), before, "ctrl-z undoes");
    press(&mut s, [ctrl('y'), ctrl('y')]);
    assert!(user_text(&s).contains("XY"), "ctrl-y redoes");

    // ctrl-f opens a search prompt; its keys are the query, not text.
    press(&mut s, [ctrl('f')]);
    assert_eq!(s.templates.find.as_deref(), Some(""));
    press(&mut s, typed("{{ text"));
    assert_eq!(s.templates.find.as_deref(), Some("{{ text"));
    press(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(s.templates.find, None);
    let editor = s.templates.editor.as_ref().unwrap();
    let cursor = editor.cursor();
    let (row, col) = (cursor.0, cursor.1);
    assert_eq!(
        editor.lines()[row]
            .chars()
            .skip(col)
            .take(7)
            .collect::<String>(),
        "{{ text",
        "the cursor is on the match"
    );
    assert!(user_text(&s).contains("XY"), "searching does not edit");

    // Select the match with shift+right, copy, then paste it at the end.
    press(&mut s, (0..7).map(|_| shift(KeyCode::Right)));
    let effects = press(&mut s, [ctrl('c')]);
    assert_eq!(
        effects,
        [Effect::Copy("{{ text".into())],
        "copied text goes to the terminal clipboard, as an effect"
    );
    press(&mut s, [ctrl('e'), ctrl('v')]);
    assert!(user_text(&s).ends_with("{{ text"), "{}", user_text(&s));

    // A search with no match says so and leaves the cursor.
    let at = |s: &State| {
        let c = s.templates.editor.as_ref().unwrap().cursor();
        (c.0, c.1)
    };
    let cursor = at(&s);
    press(&mut s, [ctrl('f')]);
    press(&mut s, typed("no such thing"));
    press(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(at(&s), cursor);
    assert!(s.toasts.iter().any(|t| t.text.contains("no match")));
}

#[test]
fn bracketed_paste_inserts_text_in_one_piece() {
    let mut s = demo();
    edit_user_at_end(&mut s);
    press(&mut s, [Msg::Paste(" pasted\nsecond line".into())]);
    let text = user_text(&s);
    assert!(text.contains(" pasted\nsecond line"), "{text}");
    // Outside the editor a paste does nothing.
    let mut s = demo();
    assert!(press(&mut s, [Msg::Paste("q".into())]).is_empty());
    assert!(!s.quit);
}

#[test]
fn saving_asks_for_a_new_version_and_writing_needs_a_save_first() {
    let mut s = demo();
    edit_user_at_end(&mut s);
    press(&mut s, typed(" v2"));
    let effects = press(&mut s, [ctrl('s')]);
    let [Effect::SaveTemplate { template, specs }] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(template, "zero-shot");
    assert!(specs["zero-shot"].user.as_deref().unwrap().contains(" v2"));

    press(&mut s, [key(KeyCode::Esc)]);
    let effects = press(&mut s, [key(KeyCode::Char('W'))]);
    assert!(effects.is_empty(), "unsaved edits are not written");
    assert!(s.toasts.iter().any(|t| t.text.contains("save first")));

    press(
        &mut s,
        [Msg::TemplateSaved {
            template: "zero-shot".into(),
            hash: "abc123".into(),
            for_run: false,
        }],
    );
    assert!(s.templates.unsaved.is_empty());
    let effects = press(&mut s, [key(KeyCode::Char('W'))]);
    assert!(
        matches!(&effects[..], [Effect::WriteSession { .. }]),
        "{effects:?}"
    );
}

#[test]
fn screens_help_and_palette() {
    let mut s = demo();
    for (k, screen) in [
        ('2', Screen::Run),
        ('3', Screen::Compare),
        ('4', Screen::Results),
        ('1', Screen::Templates),
    ] {
        press(&mut s, [key(KeyCode::Char(k))]);
        assert_eq!(s.screen, screen);
    }
    press(&mut s, [key(KeyCode::Tab)]);
    assert_eq!(s.screen, Screen::Run);

    press(&mut s, [key(KeyCode::Char('?'))]);
    assert!(matches!(s.overlay, Overlay::Help { .. }));
    press(&mut s, [key(KeyCode::Char('q'))]);
    assert!(matches!(s.overlay, Overlay::None), "q closes help first");
    assert!(!s.quit);

    press(&mut s, [key(KeyCode::Char(':'))]);
    press(&mut s, typed("results"));
    press(&mut s, [key(KeyCode::Enter)]);
    assert!(matches!(s.overlay, Overlay::None));
    assert_eq!(s.screen, Screen::Results, "the palette runs what it found");
}

#[test]
fn starting_toggling_streaming_and_cancelling_a_run() {
    let mut s = demo();
    press(&mut s, [key(KeyCode::Char('2'))]);
    // Drop the first variant from the run.
    press(&mut s, [key(KeyCode::Char(' '))]);
    let effects = press(&mut s, [key(KeyCode::Char('r'))]);
    let [
        Effect::StartRun {
            variants, case_ids, ..
        },
    ] = &effects[..]
    else {
        panic!("{effects:?}");
    };
    assert_eq!(
        variants,
        &["few-shot", "strict", "prompt+rag", "fine-tuned"]
    );
    assert_eq!(case_ids.len(), 24);

    let first_case = s.session.cases[0].id.clone();
    let cell = |variant: &str| cell(variant, &first_case);
    press(
        &mut s,
        [
            Msg::Run(RunEvent::Started {
                run_id: "r1".into(),
                total: 48,
                already_done: 0,
            }),
            Msg::Run(RunEvent::Delta {
                key: cell("strict"),
                text: "{\"ti".into(),
            }),
            Msg::Run(RunEvent::Delta {
                key: cell("strict"),
                text: "tle\"".into(),
            }),
        ],
    );
    let live = |s: &State| {
        s.run
            .live
            .get(&("strict".to_owned(), first_case.clone()))
            .map(|c| c.text.clone())
    };
    assert_eq!(live(&s).unwrap(), "{\"title\"");
    // Streamed text is kept sanitized: an escape split across deltas draws as text too.
    press(
        &mut s,
        [
            Msg::Run(RunEvent::Delta {
                key: cell("strict"),
                text: " \u{1b}".into(),
            }),
            Msg::Run(RunEvent::Delta {
                key: cell("strict"),
                text: "[2J".into(),
            }),
        ],
    );
    assert_eq!(live(&s).unwrap(), "{\"title\" \u{241b}[2J");
    // A retry or a schema repair voids what streamed so far.
    press(
        &mut s,
        [Msg::Run(RunEvent::Restart {
            key: cell("strict"),
        })],
    );
    assert!(live(&s).is_none());

    press(
        &mut s,
        [Msg::Run(RunEvent::CellDone {
            key: cell("few-shot"),
            cached: false,
            error: Some("HTTP 500: boom".into()),
            passed: false,
        })],
    );
    let active = s.run.active.as_ref().unwrap();
    assert_eq!((active.done, active.errors), (1, 1));
    assert!(s.run.cell_errors.iter().any(|e| e.contains("boom")));

    // A second start while running is refused; x cancels.
    assert!(press(&mut s, [key(KeyCode::Char('r'))]).is_empty());
    let effects = press(&mut s, [key(KeyCode::Char('x'))]);
    assert_eq!(effects, vec![Effect::CancelRun]);
    press(
        &mut s,
        [Msg::Run(RunEvent::Finished {
            run_id: "r1".into(),
            status: RunStatus::Interrupted,
        })],
    );
    assert!(s.run.active.is_none());
}

#[test]
fn an_idle_app_has_nothing_due_and_a_toast_or_an_edit_wakes_it_once() {
    let mut s = demo();
    // The first preview is due at once; once rendered, nothing is due: no clock needed.
    assert_eq!(s.next_due_ms(), Some(0));
    let effects = press(&mut s, [Msg::Tick(0)]);
    assert!(matches!(effects[..], [Effect::RenderPreview { .. }]));
    assert_eq!(s.next_due_ms(), None, "idle: nothing to wake for");
    // A toast is due when it expires, and once gone nothing is due again.
    press(&mut s, [Msg::Tick(1_000), Msg::Error("boom".into())]);
    let until = s.next_due_ms().unwrap();
    assert!(until > 1_000);
    press(&mut s, [Msg::Tick(until)]);
    assert!(s.toasts.is_empty());
    assert_eq!(s.next_due_ms(), None);
    // An edit schedules the preview after the typing pause.
    edit_user_at_end(&mut s);
    press(&mut s, typed("x"));
    assert_eq!(
        s.next_due_ms(),
        Some(until + loupe::tui::update::PREVIEW_DEBOUNCE_MS)
    );
}

// ---- every run reachable (issue 14 items 5-7) ----

fn summary(id: &str, created_ms: u64, done: usize, status: RunStatus) -> RunSummary {
    RunSummary {
        id: id.into(),
        created_ms,
        variants: vec!["zero-shot".into(), "few-shot".into()],
        cells: 48,
        done,
        errors: 0,
        status,
    }
}

/// The demo state showing run `id` (no outputs needed for the picker).
fn showing(id: &str) -> State {
    let mut s = demo();
    let run = loupe::store::RunRecord {
        created_ms: 3_000,
        ..records::run(
            id,
            "change-risk",
            RunStatus::Interrupted,
            Vec::new(),
            Vec::new(),
        )
    };
    press(
        &mut s,
        [Msg::RunLoaded {
            run,
            outputs: Vec::new(),
            earlier: Vec::new(),
        }],
    );
    s
}

/// Showing run `r3` on Compare, E then enter before the store has listed the runs; then
/// the list, `runs`, arrives: the state and what it asked for.
fn earlier_chosen_before_listing(runs: Vec<RunSummary>) -> (State, Vec<Effect>) {
    let mut s = showing("r3");
    press(&mut s, [key(KeyCode::Char('3'))]);
    press(&mut s, [shift(KeyCode::Char('E')), key(KeyCode::Enter)]);
    let effects = press(&mut s, [Msg::RunsListed(runs)]);
    (s, effects)
}

#[test]
fn enter_in_the_run_picker_before_its_list_is_read_chooses_once_it_arrives() {
    // To show another run (Results, R): enter is pressed before the store answers.
    let mut s = showing("r3");
    press(&mut s, [key(KeyCode::Char('4'))]);
    assert_eq!(
        press(&mut s, [shift(KeyCode::Char('R'))]),
        vec![Effect::ListRuns]
    );
    assert!(press(&mut s, [key(KeyCode::Enter)]).is_empty());
    assert!(
        s.picker.is_some(),
        "the key press is kept, the picker stays"
    );
    let screen = draw_text(&s, 80, 24);
    assert!(
        screen.contains("reading the runs... (enter chooses as soon as they are read)"),
        "{screen}"
    );
    let effects = press(
        &mut s,
        [Msg::RunsListed(vec![
            summary("r3", 3_000, 10, RunStatus::Interrupted),
            summary("r1", 1_000, 48, RunStatus::Complete),
        ])],
    );
    // What enter chooses once the list is read: the run the picker starts on (the shown one).
    assert_eq!(effects, vec![Effect::LoadRun("r3".into())]);
    assert!(s.picker.is_none());

    // To compare with an earlier run (Compare, E): the newest older run with outputs.
    let (s, effects) = earlier_chosen_before_listing(vec![
        summary("r3", 3_000, 10, RunStatus::Interrupted),
        summary("r2", 2_000, 0, RunStatus::Interrupted),
        summary("r1", 1_000, 48, RunStatus::Complete),
    ]);
    assert_eq!(effects, vec![Effect::LoadEarlier("r1".into())]);
    assert!(s.picker.is_none());

    // With nothing to choose, the picker stays open and says so.
    let (s, effects) =
        earlier_chosen_before_listing(vec![summary("r3", 3_000, 10, RunStatus::Interrupted)]);
    assert!(effects.is_empty());
    let screen = draw_text(&s, 80, 24);
    assert!(screen.contains("no other run with outputs yet"), "{screen}");
}

#[test]
fn e_lets_the_user_choose_the_earlier_run_skipping_empty_ones() {
    let mut s = showing("r3");
    press(&mut s, [key(KeyCode::Char('3'))]);
    let effects = press(&mut s, [shift(KeyCode::Char('E'))]);
    assert_eq!(effects, vec![Effect::ListRuns]);
    assert!(s.picker.is_some());
    press(
        &mut s,
        [Msg::RunsListed(vec![
            summary("r3", 3_000, 10, RunStatus::Interrupted),
            summary("r2", 2_000, 0, RunStatus::Interrupted),
            summary("r1", 1_000, 48, RunStatus::Complete),
        ])],
    );
    let p = s.picker.as_ref().unwrap();
    let ids: Vec<&str> = p.visible().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r1"], "neither the shown run nor the empty one");
    // `a` shows the empty run too; the choice stays on r1.
    press(&mut s, [key(KeyCode::Char('a'))]);
    let p = s.picker.as_ref().unwrap();
    assert_eq!(p.visible().len(), 2);
    assert_eq!(p.visible()[p.selected].id, "r1");
    let effects = press(&mut s, [key(KeyCode::Enter)]);
    assert_eq!(effects, vec![Effect::LoadEarlier("r1".into())]);
    assert!(s.picker.is_none());
}

#[test]
fn r_on_results_or_compare_picks_any_run_to_show() {
    for screen in ['4', '3'] {
        let mut s = showing("r3");
        press(&mut s, [key(KeyCode::Char(screen))]);
        let effects = press(&mut s, [shift(KeyCode::Char('R'))]);
        assert_eq!(effects, vec![Effect::ListRuns], "screen {screen}");
        press(
            &mut s,
            [Msg::RunsListed(vec![
                summary("r3", 3_000, 10, RunStatus::Interrupted),
                summary("r1", 1_000, 48, RunStatus::Complete),
            ])],
        );
        let p = s.picker.as_ref().unwrap();
        assert_eq!(p.visible()[p.selected].id, "r3", "starts on the run shown");
        // Keys go to the picker, not the screen below.
        press(&mut s, [key(KeyCode::Char('j'))]);
        let effects = press(&mut s, [key(KeyCode::Enter)]);
        assert_eq!(effects, vec![Effect::LoadRun("r1".into())]);
        // Esc closes without choosing.
        press(&mut s, [shift(KeyCode::Char('R')), key(KeyCode::Esc)]);
        assert!(s.picker.is_none());
    }
}

#[test]
fn u_resumes_an_interrupted_run_and_only_that() {
    let mut s = showing("r3");
    press(&mut s, [key(KeyCode::Char('2'))]);
    let effects = press(&mut s, [key(KeyCode::Char('u'))]);
    assert!(
        matches!(&effects[..], [Effect::ResumeRun { run_id, .. }] if run_id == "r3"),
        "{effects:?}"
    );
    s.data.run.as_mut().unwrap().status = RunStatus::Complete;
    assert!(press(&mut s, [key(KeyCode::Char('u'))]).is_empty());
    assert!(
        s.toasts
            .iter()
            .any(|t| t.text.contains("nothing to resume"))
    );
    // The interrupted run's toast names the key.
    press(
        &mut s,
        [Msg::Run(RunEvent::Finished {
            run_id: "r4".into(),
            status: RunStatus::Interrupted,
        })],
    );
    assert!(
        s.toasts
            .iter()
            .any(|t| t.text.contains("u on the Run screen resumes it"))
    );
}

#[test]
fn errored_and_failed_a_check_are_separate_selections() {
    let mut s = demo();
    let ids: Vec<String> = s.session.cases.iter().map(|c| c.id.clone()).collect();
    let session = s.session.clone();
    // Checks computed from the texts, as a run computes them (only json_valid, so that
    // the valid answer passes every check it gets).
    let output = |case: &str, error: Option<&str>, text: &str| {
        let o = OutputRecord {
            error: error.map(str::to_owned),
            ..records::output("r", "zero-shot", case, text)
        };
        with_checks(&session, "zero-shot", o, &["json_valid"])
    };
    let run = records::run(
        "r",
        "change-risk",
        RunStatus::Complete,
        Vec::new(),
        ids.clone(),
    );
    press(
        &mut s,
        [Msg::RunLoaded {
            run,
            outputs: vec![
                output(&ids[0], Some("HTTP 500"), ""),
                output(&ids[1], None, "Risk: low, I think."),
                output(&ids[2], None, "{\"risk\": \"low\"}"),
            ],
            earlier: Vec::new(),
        }],
    );
    press(&mut s, [key(KeyCode::Char('2'))]);
    let mut seen = Vec::new();
    for _ in 0..12 {
        press(&mut s, [key(KeyCode::Char('c'))]);
        let chosen = loupe::tui::screens::run::update::selected_cases(&s);
        seen.push((s.run.filter.clone(), chosen));
        if s.run.filter == CaseFilter::All {
            break;
        }
    }
    let pick = |f: CaseFilter| seen.iter().find(|(x, _)| *x == f).map(|(_, c)| c.clone());
    assert_eq!(pick(CaseFilter::Errored), Some(vec![ids[0].clone()]));
    assert_eq!(pick(CaseFilter::FailedCheck), Some(vec![ids[1].clone()]));
}

// ---- streaming that tells the truth (issue 14 item 8) ----

/// A `w` x `h` test terminal with `s` drawn on it once, in the default theme.
fn drawn(s: &State, w: u16, h: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    let theme = loupe::tui::theme::Theme::default();
    let km = Keymap::default();
    let view = loupe::tui::draw::View {
        theme: &theme,
        keymap: &km,
        ascii: false,
    };
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| loupe::tui::draw::draw(s, &view, f)).unwrap();
    t
}

/// `s` drawn once at `w` x `h`, one character per cell (a wide character's hidden cell
/// too), so that a column on screen is a character index in each row.
fn draw_text(s: &State, w: u16, h: u16) -> String {
    let t = drawn(s, w, h);
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_pane_shows_the_whole_text_of_its_cell_whenever_the_user_looks() {
    let mut s = demo();
    // Only zero-shot runs, so its pane is the only one.
    start_zero_shot_run(&mut s);
    let ids: Vec<String> = s.session.cases.iter().map(|c| c.id.clone()).collect();
    let cell = |case: &str| cell("zero-shot", case);
    // The second case streams while the first is focused.
    press(
        &mut s,
        [Msg::Run(RunEvent::Delta {
            key: cell(&ids[1]),
            text: "BEGINNING of the second ".into(),
        })],
    );
    press(&mut s, [key(KeyCode::Char('n'))]);
    press(
        &mut s,
        [Msg::Run(RunEvent::Delta {
            key: cell(&ids[1]),
            text: "and its END".into(),
        })],
    );
    let screen = draw_text(&s, 120, 40);
    assert!(
        screen.contains("BEGINNING of the second and its END"),
        "the text from before the move too:\n{screen}"
    );
    assert!(screen.contains("streaming..."), "{screen}");

    // A cell that finished without streaming (a cached answer) shows at once.
    let out = OutputRecord {
        latency_ms: 0,
        cached: true,
        attempts: 0,
        ..records::output("r1", "zero-shot", &ids[2], "CACHED ANSWER")
    };
    let out = with_checks(&s.session, "zero-shot", out, &["json_valid"]);
    press(
        &mut s,
        [
            Msg::Run(RunEvent::CellDone {
                key: cell(&ids[2]),
                cached: true,
                error: None,
                passed: false,
            }),
            Msg::CellOutput(Box::new(out)),
            key(KeyCode::Char('n')),
        ],
    );
    let screen = draw_text(&s, 120, 40);
    assert!(screen.contains("CACHED ANSWER"), "{screen}");
    assert!(screen.contains(" done "), "{screen}");
}

#[test]
fn a_pane_follows_the_tail_unless_scrolled_back() {
    let mut s = demo();
    start_zero_shot_run(&mut s);
    let id = s.session.cases[s.run.case].id.clone();
    for i in 0..60 {
        press(
            &mut s,
            [Msg::Run(RunEvent::Delta {
                key: cell("zero-shot", &id),
                text: format!("line {i:02}\n"),
            })],
        );
    }
    let screen = draw_text(&s, 80, 24);
    assert!(
        screen.contains("line 59"),
        "the newest line in view:\n{screen}"
    );
    assert!(!screen.contains("line 00"), "{screen}");
    press(&mut s, [key(KeyCode::PageUp), key(KeyCode::PageUp)]);
    let screen = draw_text(&s, 80, 24);
    assert!(!screen.contains("line 59"), "scrolled back:\n{screen}");
    assert!(screen.contains("line 49"), "{screen}");
    press(&mut s, [key(KeyCode::PageDown), key(KeyCode::PageDown)]);
    assert!(draw_text(&s, 80, 24).contains("line 59"), "following again");
}

#[test]
fn a_run_of_a_tag_focuses_and_steps_only_through_its_cases() {
    let mut s = demo();
    press(&mut s, [key(KeyCode::Char('2'))]);
    // The first tag in the cycle; the focused first case is not in it.
    press(&mut s, [key(KeyCode::Char('c'))]);
    let CaseFilter::Tag(tag) = s.run.filter.clone() else {
        panic!("{:?}", s.run.filter);
    };
    let tagged: Vec<usize> = s
        .session
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.tags.contains(&tag))
        .map(|(i, _)| i)
        .collect();
    assert!(tagged.len() >= 2 && tagged.len() < s.session.cases.len());
    // Focus a case outside the tag first.
    let outside = (0..s.session.cases.len())
        .find(|i| !tagged.contains(i))
        .unwrap();
    s.run.case = outside;
    let effects = press(&mut s, [key(KeyCode::Char('r'))]);
    let [Effect::StartRun { case_ids, .. }] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert_eq!(s.run.case, tagged[0], "focus moved into the run's cases");
    press(
        &mut s,
        [Msg::Run(RunEvent::Started {
            run_id: "r1".into(),
            total: case_ids.len(),
            already_done: 0,
        })],
    );
    let mut seen = vec![s.run.case];
    for _ in 0..tagged.len() {
        press(&mut s, [key(KeyCode::Char('n'))]);
        seen.push(s.run.case);
    }
    assert!(
        seen.iter().all(|i| tagged.contains(i)),
        "{seen:?} vs {tagged:?}"
    );
    assert_eq!(seen.last(), seen.first(), "n wraps within the selection");
    press(&mut s, [key(KeyCode::Char('p'))]);
    assert_eq!(s.run.case, *tagged.last().unwrap());
}

#[test]
fn a_paste_breaks_lines_at_cr_lf_and_crlf() {
    let mut s = demo();
    press(&mut s, [key(KeyCode::Char('e')), to_user()]);
    // Empty the part first (select all is not needed: a fresh template part).
    let before = user_text(&s).lines().count();
    press(&mut s, [Msg::Paste("one\rtwo\r\nthree\nfour".into())]);
    let text = user_text(&s);
    assert_eq!(text.lines().count(), before + 3, "{text:?}");
    assert!(text.contains("one\ntwo\nthree\nfour"), "{text:?}");
    assert!(!text.contains('\r'));
}

// ---- scrolling stays inside the content (issue 14 item 11) ----

#[test]
fn help_and_compare_scroll_no_further_than_their_content_across_resizes() {
    let mut s = demo();
    press(&mut s, [Msg::Resize(80, 24), key(KeyCode::Char('?'))]);
    press(&mut s, (0..200).map(|_| key(KeyCode::Down)));
    let Overlay::Help { scroll } = s.overlay else {
        panic!()
    };
    let km = Keymap::default();
    let lines = loupe::tui::draw::help_line_count(&km, s.screen_context());
    // The last line sits on the overlay's last row: 24 rows less 4 around, less 2 borders.
    assert_eq!(scroll, lines - (24 - 4 - 2));
    let screen = draw_text(&s, 80, 24);
    assert!(
        screen.contains("Show or hide what retrieval") || screen.contains("Go to the"),
        "{screen}"
    );
    // A taller terminal shows more: the scroll follows, no blank rows appear.
    press(&mut s, [Msg::Resize(80, 40)]);
    let Overlay::Help { scroll: after } = s.overlay else {
        panic!()
    };
    assert_eq!(after, lines.saturating_sub(40 - 4 - 2));
    press(&mut s, [key(KeyCode::Esc)]);

    // Compare: a two-line diff in a tall pane does not scroll at all; a long one scrolls
    // to its end and no further.
    for (text, long) in [
        ("one\ntwo", false),
        (
            &*(0..60)
                .map(|i| format!("row {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            true,
        ),
    ] {
        load_two_outputs(&mut s, text);
        s.compare.scroll = 0;
        let effects = press(&mut s, [key(KeyCode::Char('3'))]);
        settle_diffs(&mut s, effects);
        press(&mut s, (0..300).map(|_| key(KeyCode::Down)));
        if long {
            assert!(
                s.compare.scroll > 0 && s.compare.scroll < 60,
                "{}",
                s.compare.scroll
            );
        } else {
            assert_eq!(s.compare.scroll, 0);
        }
    }
    let deep = s.compare.scroll;
    press(&mut s, [Msg::Resize(80, 60)]);
    assert!(s.compare.scroll < deep, "{} vs {deep}", s.compare.scroll);
}

/// Loads a run whose first case has `text` from zero-shot and `text` plus a word from
/// few-shot, and settles the Compare diff synchronously.
fn load_two_outputs(s: &mut State, text: &str) {
    let case = s.session.cases[0].id.clone();
    let out = |variant: &str, text: String| records::output("r", variant, &case, text);
    let run = records::run(
        "r",
        "change-risk",
        RunStatus::Complete,
        ["zero-shot", "few-shot", "strict"]
            .iter()
            .map(|v| loupe::store::RunVariant {
                name: (*v).into(),
                template: (*v).into(),
                template_version: String::new(),
                model_name: "local".into(),
                model: s.session.model_for(v).unwrap().into(),
                rag: None,
                enforce_schema: loupe::store::EnforceRecord::Off,
            })
            .collect(),
        vec![case.clone()],
    );
    let effects = press(
        s,
        [Msg::RunLoaded {
            run,
            outputs: vec![
                out("zero-shot", text.to_owned()),
                out("few-shot", format!("{text} more")),
            ],
            earlier: Vec::new(),
        }],
    );
    settle_diffs(s, effects);
}

fn settle_diffs(s: &mut State, effects: Vec<Effect>) {
    for e in effects {
        if let Effect::ComputeDiff {
            key,
            left,
            right,
            mode,
        } = e
        {
            let diff = Arc::new(loupe::diff::diff(&left, &right, mode));
            let more = press(s, [Msg::DiffReady { key, diff }]);
            settle_diffs(s, more);
        }
    }
}

// ---- nothing cut off, one name per thing (issue 14 items 10, 17) ----

#[test]
fn the_status_bar_drops_whole_hints_never_letters() {
    let km = Keymap::default();
    for screen in ['1', '2', '3', '4'] {
        let mut s = demo();
        press(&mut s, [key(KeyCode::Char(screen))]);
        let text = draw_text(&s, 80, 24);
        let status = text.lines().last().unwrap().trim_end().to_owned();
        let hints = loupe::tui::strings::status_hints(&km, &s);
        // The bar is a run of whole " key word " entries from the start of the hints.
        let mut rebuilt = String::new();
        for (k, w) in &hints {
            let next = format!("{rebuilt} {k} {w} ");
            if next.trim_end().len() > status.len() {
                break;
            }
            rebuilt = next;
        }
        assert_eq!(status, rebuilt.trim_end(), "screen {screen}");
        assert!(status.contains("? help") || status.len() > 60, "{status}");
    }
}

/// The rows of the body panel whose top border starts with `title`, from its top border to
/// its bottom border, as text: only the panel's own columns.
fn panel(text: &str, title: &str) -> Vec<String> {
    let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let (y, x) = rows
        .iter()
        .enumerate()
        .find_map(|(y, r)| {
            let line: String = r.iter().collect();
            line.find(&format!("┌{title}"))
                .map(|b| (y, line[..b].chars().count()))
        })
        .unwrap_or_else(|| panic!("no panel {title:?} in\n{text}"));
    let width = rows[y][x..].iter().position(|c| *c == '┐').unwrap() + 1;
    let mut out = Vec::new();
    for r in &rows[y..] {
        let line: String = r[x..x + width].iter().collect();
        let done = line.starts_with('└');
        out.push(line);
        if done {
            break;
        }
    }
    out
}

#[test]
fn templates_show_whole_variant_names_and_the_whole_case_id_at_80x24() {
    let mut s = demo();
    let text = draw_text(&s, 80, 24);
    let list = panel(&text, " Templates ").join("\n");
    // zero-shot is used by zero-shot and fine-tuned: whole names, then a count.
    assert!(list.contains("  zero-shot, +1 more"), "{list}");
    assert!(list.contains("  few-shot, strict"), "{list}");
    assert!(!list.contains("fine-tu"), "{list}");
    // Every case id whole, in the panel's title or its first line.
    for (i, case) in s.session.cases.clone().iter().enumerate() {
        let text = draw_text(&s, 80, 24);
        let p = panel(&text, " Case ");
        let count = format!(" Case {}/{} ", i + 1, s.session.cases.len());
        assert!(p[0].contains(&count), "{}", p.join("\n"));
        assert!(
            p[0].contains(&format!("{} ", case.id)) || p[1].contains(&format!("│{} ", case.id)),
            "case {} cut:\n{}",
            case.id,
            p.join("\n")
        );
        press(&mut s, [key(KeyCode::Char('n'))]);
    }
}

#[test]
fn compare_wraps_the_case_inputs_at_word_boundaries_at_80x24() {
    let mut s = demo();
    press(&mut s, [key(KeyCode::Char('3'))]);
    for case in s.session.cases.clone() {
        let text = draw_text(&s, 80, 24);
        let head = panel(&text, " Case ");
        let shown: String = head[1..head.len() - 1]
            .iter()
            .map(|l| l.trim_matches('│').trim_end().to_owned() + " ")
            .collect();
        let input = loupe::sanitize::sanitize(case.vars["text"].as_str().unwrap()).into_owned();
        let input = input.as_str();
        // Every word of the input whole (or the head says how many lines it left out).
        if !head.last().unwrap().contains("more lines") {
            assert!(
                shown.contains(input),
                "case {}: {input:?} not whole in\n{}",
                case.id,
                head.join("\n")
            );
        }
        for w in shown.split_whitespace() {
            assert!(
                format!("text: {input}").split_whitespace().any(|x| x == w) || w == "·",
                "case {}: {w:?} is a cut word\n{}",
                case.id,
                head.join("\n")
            );
        }
        press(&mut s, [key(KeyCode::Char('n'))]);
    }
}

#[test]
fn the_run_screen_says_which_variants_are_out_of_view_and_scrolls_to_them() {
    let mut s = demo();
    // As the workbench opens it on a store: each variant's template version is known, so
    // each variant takes three lines.
    for v in s.session.file.variants.clone() {
        let t = s.session.template_for(&v.name).unwrap();
        s.templates
            .info
            .entry(v.template.clone())
            .or_default()
            .version = Some(loupe::template::version_hash(t));
    }
    press(&mut s, [key(KeyCode::Char('2'))]);
    assert_eq!(s.session.file.variants.len(), 5);
    let text = draw_text(&s, 80, 24);
    let list = panel(&text, " Variants").join("\n");
    assert!(!list.contains("fine-tuned"), "{list}");
    assert!(list.contains("+1 more below"), "{list}");
    press(&mut s, (0..4).map(|_| key(KeyCode::Down)));
    let text = draw_text(&s, 80, 24);
    let list = panel(&text, " Variants").join("\n");
    assert!(list.contains("[x] fine-tuned"), "{list}");
    assert!(list.contains("+1 more above"), "{list}");
    assert!(!list.contains("more below"), "{list}");
    // Every variant is reached by the cursor, and space toggles the one shown.
    press(&mut s, [key(KeyCode::Char(' '))]);
    let text = draw_text(&s, 80, 24);
    assert!(text.contains("[ ] fine-tuned"), "{text}");
}

#[test]
fn a_toast_sits_inside_the_frame_not_on_its_border() {
    let mut s = demo();
    press(
        &mut s,
        [
            key(KeyCode::Char('2')),
            Msg::Error("a rather long error message from the store".into()),
        ],
    );
    let text = draw_text(&s, 80, 24);
    let rows: Vec<&str> = text.lines().collect();
    // The body's bottom border row (row 22) keeps its corner and line.
    assert!(rows[22].ends_with('┘'), "{}", rows[22]);
    assert!(!rows[22].contains("error message"), "{}", rows[22]);
    assert!(
        rows[21].contains("a rather long error message from the store"),
        "{text}"
    );
    assert!(
        rows[21].ends_with('│'),
        "the right border stays: {}",
        rows[21]
    );
}

#[test]
fn help_and_palette_say_one_thing_once_in_the_words_the_screens_use() {
    let km = Keymap::default();
    // No two keys of a screen's own section do different things under one description,
    // and no description is listed twice for one screen (r and R were).
    for ctx in [
        loupe::tui::keymap::Context::Templates,
        loupe::tui::keymap::Context::Run,
        loupe::tui::keymap::Context::Compare,
        loupe::tui::keymap::Context::Results,
    ] {
        let actions: Vec<_> = km.bindings(ctx).into_iter().map(|(_, a)| a).collect();
        let mut seen = std::collections::HashSet::new();
        for a in &actions {
            assert!(seen.insert(*a), "{ctx:?}: {a:?} listed twice");
        }
    }
    // The tab bar's name is the help's name.
    let mut s = demo();
    let tabs = draw_text(&s, 120, 40);
    assert!(tabs.lines().next().unwrap().contains("5 Ratings"));
    assert!(
        loupe::tui::strings::describe(loupe::tui::action::Action::GotoRate).contains("Ratings")
    );
    // The palette: human words and the key, no internal ids.
    press(&mut s, [key(KeyCode::Char(':'))]);
    let text = draw_text(&s, 120, 40);
    assert!(
        !text.contains("goto_templates") && !text.contains("start_run"),
        "{text}"
    );
    assert!(text.contains("Go to the Templates screen"), "{text}");
    press(&mut s, typed("save"));
    let text = draw_text(&s, 120, 40);
    assert!(text.contains("ctrl-s  Save the edited template"), "{text}");
}

#[test]
fn the_marks_beside_templates_are_explained_and_a_save_clears_them() {
    let mut s = demo();
    edit_user_at_end(&mut s);
    press(&mut s, typed("!"));
    let text = draw_text(&s, 120, 40);
    assert!(text.contains("zero-shot *"), "{text}");
    assert!(text.contains("*unsaved +not in file"), "{text}");
    press(&mut s, [ctrl('s')]);
    press(
        &mut s,
        [Msg::TemplateSaved {
            template: "zero-shot".into(),
            hash: "abcdef0123".into(),
            for_run: false,
        }],
    );
    // Leaving the editor after the save does not mark the template again.
    press(&mut s, [key(KeyCode::Esc)]);
    assert!(s.templates.unsaved.is_empty());
    let text = draw_text(&s, 120, 40);
    assert!(!text.contains("zero-shot *"), "{text}");
}

#[test]
fn every_pass_rate_bar_is_labelled_and_the_latency_axis_has_one_unit() {
    let mut s = demo();
    let case = s.session.cases[0].id.clone();
    let mut outputs = Vec::new();
    for (variant, latency, text) in [("zero-shot", 500, "not json"), ("few-shot", 2_500, "{}")] {
        let o = OutputRecord {
            latency_ms: latency,
            ..records::output("r", variant, &case, text)
        };
        outputs.push(with_checks(&s.session, variant, o, &["json_valid"]));
    }
    load_two_outputs(&mut s, "x");
    let mut run = s.data.run.clone().unwrap();
    run.id = "r".into();
    load_with_report(&mut s, run, outputs);
    press(&mut s, [key(KeyCode::Char('4'))]);
    for (w, h) in [(80, 24), (120, 40)] {
        let text = draw_text(&s, w, h);
        assert!(
            text.contains("0% zero-shot") || text.contains("0% zero-sh"),
            "{text}"
        );
        assert!(
            text.contains("100% few-shot") || text.contains("100% few-sh"),
            "{text}"
        );
        assert!(text.contains("Latency, s (upper bound)"), "{text}");
        assert!(
            !text.contains("1.6s") && !text.contains("2.5s"),
            "one unit: {text}"
        );
        assert!(text.contains("2.5"), "the slowest bucket labelled: {text}");
    }
}

// ---- every Results and Compare key does what it says (issue 14 item 8b) ----

/// A run of zero-shot and few-shot over the demo's first six cases: texts differ on cases
/// 1, 2 and 4 only, zero-shot answers prose (not JSON) on case 2; checks computed from
/// the texts.
fn loaded_six() -> State {
    let mut s = demo();
    load_two_outputs(&mut s, "x");
    let mut run = s.data.run.clone().unwrap();
    // The first five cases (all tagged common) and the first adversarial one.
    let mut cases: Vec<String> = s
        .session
        .cases
        .iter()
        .take(5)
        .map(|c| c.id.clone())
        .collect();
    let adversarial = s
        .session
        .cases
        .iter()
        .find(|c| c.tags.iter().any(|t| t == "adversarial"));
    cases.push(adversarial.unwrap().id.clone());
    run.case_ids.clone_from(&cases);
    let mut outputs = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for variant in ["zero-shot", "few-shot"] {
            let text = match (variant, i) {
                ("few-shot", 1 | 4) => format!("{{\"risk\": \"high\", \"n\": {i}}}"),
                ("zero-shot", 2) => "Risk is low.".to_owned(),
                _ => format!("{{\"risk\": \"low\", \"n\": {i}}}"),
            };
            let o = OutputRecord {
                latency_ms: if variant == "zero-shot" { 900 } else { 100 },
                ..records::output(&run.id, variant, case, text)
            };
            outputs.push(with_checks(&s.session, variant, o, &["json_valid"]));
        }
    }
    let effects = load_with_report(&mut s, run, outputs);
    settle_diffs(&mut s, effects);
    s
}

/// Loads `run` with `outputs` and the report built from them, as the workbench does once it
/// has read a run.
fn load_with_report(
    s: &mut State,
    run: loupe::store::RunRecord,
    outputs: Vec<OutputRecord>,
) -> Vec<Effect> {
    let report = loupe::report::build(&run, &outputs);
    load_run(s, run, outputs, report)
}

fn grid_ids(s: &State) -> Vec<String> {
    loupe::tui::screens::results::update::grid_rows(s)
        .into_iter()
        .map(|i| s.session.cases[i].id.clone())
        .collect()
}

#[test]
fn results_filters_sort_and_tag_each_change_what_is_shown() {
    let mut s = loaded_six();
    let ids: Vec<String> = s.session.cases.iter().map(|c| c.id.clone()).collect();
    press(&mut s, [key(KeyCode::Char('4'))]);
    let all = grid_ids(&s);
    let in_run = s.data.run.as_ref().unwrap().case_ids.clone();
    assert_eq!(
        all, in_run,
        "the run's six cases, not the session's other ones"
    );

    press(&mut s, [key(KeyCode::Char('f'))]);
    assert_eq!(
        grid_ids(&s),
        [ids[2].clone()],
        "f: only the case that failed a check"
    );
    assert!(draw_text(&s, 120, 40).contains("failed"));
    press(&mut s, [key(KeyCode::Char('f'))]);

    press(&mut s, [shift(KeyCode::Char('D'))]);
    assert_eq!(
        grid_ids(&s),
        [ids[1].clone(), ids[2].clone(), ids[4].clone()],
        "D: only cases whose outputs differ"
    );
    press(&mut s, [shift(KeyCode::Char('D'))]);
    assert_eq!(grid_ids(&s), all);

    // t cycles the tags; each shows the run's cases with that tag (some tags have none).
    let mut shown_some = false;
    for _ in 0..8 {
        press(&mut s, [key(KeyCode::Char('t'))]);
        let Some(tag) = s.results.tag.clone() else {
            break;
        };
        let tagged: Vec<String> = s
            .session
            .cases
            .iter()
            .filter(|c| in_run.contains(&c.id) && c.tags.contains(&tag))
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(grid_ids(&s), tagged, "tag {tag}");
        shown_some |= !tagged.is_empty() && tagged.len() < all.len();
    }
    assert!(shown_some, "some tag narrows the grid");
    s.results.tag = None;

    // s: by pass rate, few-shot (6/6) comes before zero-shot (5/6); by latency too.
    let order = |s: &State| -> Vec<String> {
        loupe::tui::screens::results::view::sorted_variants(s)
            .iter()
            .map(|v| v.variant.clone())
            .collect()
    };
    // (strict, in the run without outputs, sorts last by pass rate and latency.)
    assert_eq!(
        order(&s),
        ["zero-shot", "few-shot", "strict"],
        "by variant: run order"
    );
    press(&mut s, [key(KeyCode::Char('s'))]);
    assert_eq!(s.results.sort, loupe::tui::state::SortBy::PassRate);
    assert_eq!(order(&s), ["few-shot", "zero-shot", "strict"]);
    press(&mut s, [key(KeyCode::Char('s'))]);
    assert_eq!(
        order(&s),
        ["few-shot", "zero-shot", "strict"],
        "by p50 latency"
    );
    assert!(draw_text(&s, 120, 40).contains("sorted by"));
}

#[test]
fn compare_next_differing_and_cycle_variant_move_what_is_compared() {
    let mut s = loaded_six();
    let ids: Vec<String> = s.session.cases.iter().map(|c| c.id.clone()).collect();
    let effects = press(&mut s, [key(KeyCode::Char('3'))]);
    settle_diffs(&mut s, effects);
    assert_eq!(s.compare.case, 0);
    let effects = press(&mut s, [key(KeyCode::Char(']'))]);
    settle_diffs(&mut s, effects);
    assert_eq!(
        s.session.cases[s.compare.case].id, ids[1],
        "] skips equal outputs"
    );
    for want in [&ids[2], &ids[4]] {
        let effects = press(&mut s, [key(KeyCode::Char(']'))]);
        settle_diffs(&mut s, effects);
        assert_eq!(&s.session.cases[s.compare.case].id, want);
    }
    let text = draw_text(&s, 120, 40);
    assert!(text.contains("\"high\""), "{text}");

    // n steps through the run's six cases only, and wraps.
    let mut seen = Vec::new();
    for _ in 0..7 {
        press(&mut s, [key(KeyCode::Char('n'))]);
        seen.push(s.compare.case);
    }
    let in_run = &s.data.run.as_ref().unwrap().case_ids;
    assert!(
        seen.iter()
            .all(|i| in_run.contains(&s.session.cases[*i].id)),
        "{seen:?}"
    );
    assert_eq!(seen[0], seen[6]);
    // Three variants in the run (strict without outputs): o moves the right side on,
    // never onto the left one.
    let right = s.compare.right;
    press(&mut s, [key(KeyCode::Char('o'))]);
    assert_ne!(
        s.compare.right, right,
        "o shows another variant on the right"
    );
    assert_ne!(s.compare.right, s.compare.left);
    assert!(draw_text(&s, 120, 40).contains("no outputs for this case"));
}

#[test]
fn every_check_is_reachable_in_compare_failures_first() {
    // The demo's own fourteen checks, computed on a prose answer (most fail) and a JSON one.
    let mut s = demo();
    load_two_outputs(&mut s, "Risk: low. Fine to deploy.");
    let case = s.session.cases[0].clone();
    let mut outputs = Vec::new();
    for (variant, text) in [
        ("zero-shot", "Risk: low. Fine to deploy."),
        (
            "few-shot",
            "{\"title\": \"Log level\", \"risk\": \"low\", \"rationale\": \"Config only.\"}",
        ),
    ] {
        let o = OutputRecord {
            latency_ms: 700,
            ttft_ms: Some(100),
            cost_usd: Some(0.000_01),
            ..records::output("r", variant, &case.id, text)
        };
        outputs.push(with_checks(&s.session, variant, o, &[]));
    }
    let n = outputs[0].checks.len();
    assert!(n >= 12, "{n}");
    let failed: Vec<String> = outputs[0]
        .checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.name.clone())
        .collect();
    let run = s.data.run.clone().unwrap();
    let effects = press(
        &mut s,
        [Msg::RunLoaded {
            run,
            outputs,
            earlier: Vec::new(),
        }],
    );
    settle_diffs(&mut s, effects);
    let effects = press(&mut s, [key(KeyCode::Char('3'))]);
    settle_diffs(&mut s, effects);
    let text = draw_text(&s, 80, 24);
    assert!(
        text.contains(&format!("{} of {n} checks failed", failed.len())),
        "the panel says how many: {text}"
    );
    // Expanded, every failed check is on screen with its reason, before any passed one.
    press(&mut s, [key(KeyCode::Char('c'))]);
    let text = draw_text(&s, 120, 40);
    for name in &failed {
        assert!(
            text.contains(&format!("✗ {name}")),
            "{name} missing:\n{text}"
        );
    }
    // In the left (zero-shot) panel, the last failure comes before the first pass.
    let rows: Vec<&str> = text.lines().collect();
    let last_fail = rows.iter().rposition(|l| l.starts_with("│✗")).unwrap();
    let first_pass = rows.iter().position(|l| l.starts_with("│✓")).unwrap();
    assert!(last_fail < first_pass, "failures first:\n{text}");
    press(&mut s, [key(KeyCode::Char('c'))]);
    assert!(!s.compare.checks_expanded);
}

#[test]
fn the_owners_view_wraps_long_figures_and_scrolls_to_its_end_at_80x24() {
    let mut s = demo();
    press(&mut s, [Msg::Resize(80, 24)]);
    let mut lines: Vec<String> = (0..40).map(|i| format!("  figure {i:02}")).collect();
    lines.insert(
        3,
        "  about 45 more judgements with a winner to reach the stopping rule, at the current pace FIN"
            .to_owned(),
    );
    lines.push("LAST LINE".to_owned());
    s.owner = Some(loupe::tui::screens::owner::state::OwnerView {
        lines: Some(lines),
        error: None,
        scroll: 0,
        rater_prompt: None,
    });
    let text = draw_text(&s, 80, 24);
    assert!(text.contains("stopping rule, at the"), "{text}");
    assert!(
        text.contains("FIN"),
        "the long line wraps, nothing cut:\n{text}"
    );
    press(&mut s, [key(KeyCode::End)]);
    let text = draw_text(&s, 80, 24);
    assert!(
        text.contains("LAST LINE"),
        "{:?} {text}",
        s.owner.as_ref().map(|o| o.scroll)
    );
    let at_end = s.owner.as_ref().unwrap().scroll;
    press(&mut s, (0..20).map(|_| key(KeyCode::Char('j'))));
    assert_eq!(
        s.owner.as_ref().unwrap().scroll,
        at_end,
        "no scrolling past the end"
    );
    press(&mut s, [key(KeyCode::Home)]);
    assert!(draw_text(&s, 80, 24).contains("figure 00"));
}

// ---- the editor (issue 14 item 16) ----

#[test]
fn undo_takes_back_a_word_at_a_time() {
    let mut s = demo();
    let before = user_text(&s);
    edit_user_at_end(&mut s);
    press(&mut s, typed(" Be concise."));
    press(&mut s, [ctrl('z')]);
    let first = before.lines().next().unwrap();
    assert_eq!(
        user_text(&s).lines().next().unwrap(),
        format!("{first} Be"),
        "one word per ctrl-z"
    );
    press(&mut s, [ctrl('z')]);
    assert_eq!(user_text(&s), before);
}

#[test]
fn find_is_incremental_counts_matches_and_says_when_it_wraps() {
    let mut s = demo();
    press(
        &mut s,
        [key(KeyCode::Char('e')), to_user(), key(KeyCode::Home)],
    );
    press(&mut s, [key(KeyCode::PageUp)]);
    let text = user_text(&s);
    let total = text.matches('e').count();
    assert!(total >= 3);
    press(&mut s, [ctrl('f')]);
    press(&mut s, typed("e"));
    // The cursor is already on a match while typing, and the prompt counts them.
    assert_eq!(s.templates.find_count.map(|(_, n)| n), Some(total));
    let screen = draw_text(&s, 120, 40);
    assert!(screen.contains(&format!("/{total}")), "{screen}");
    press(&mut s, [key(KeyCode::Enter)]);
    let first = s.templates.find_count.unwrap().0;
    for _ in 0..total {
        press(&mut s, [ctrl('g')]);
    }
    assert_eq!(
        s.templates.find_count.unwrap().0,
        first,
        "round once, back to the start"
    );
    assert!(
        s.toasts
            .iter()
            .any(|t| t.text.contains("wrapped to the first")),
        "{:?}",
        s.toasts
    );
    // No match: said in the prompt as it is typed.
    press(&mut s, [ctrl('f')]);
    press(&mut s, typed("zzqq"));
    assert!(draw_text(&s, 120, 40).contains("no match"));
}

#[test]
fn the_terminal_cursor_sits_at_the_edit_point() {
    let mut s = demo();
    edit_user_at_end(&mut s);
    press(&mut s, typed("@"));
    let mut t = drawn(&s, 120, 40);
    let pos = t.get_cursor_position().unwrap();
    // Just after the "@" typed at the end of the first line.
    let buf = t.backend().buffer();
    assert_eq!(buf[(pos.x - 1, pos.y)].symbol(), "@", "{pos:?}");
    t.backend_mut().assert_cursor_position(pos);
}
