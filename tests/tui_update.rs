//! `update` unit tests: keys and messages in, state changes and effects out, no terminal.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use loupe::runner::RunEvent;
use loupe::store::{CellKey, RunStatus};
use loupe::tui::input::{Key, KeyCode, Modifiers};
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::{Effect, Msg};
use loupe::tui::state::{Overlay, Screen, Section, State};
use loupe::tui::update::update;

fn demo() -> State {
    let session = loupe::session::load(std::path::Path::new("sessions/demo.yaml")).unwrap();
    State::new(Arc::new(session))
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(Key::new(code, Modifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(Key::new(KeyCode::Char(c), Modifiers::CTRL))
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

#[test]
fn typing_edits_the_template_and_the_preview_follows_after_a_pause() {
    let mut s = demo();
    assert_eq!(s.templates.part, Section::User);
    let before = user_text(&s);
    press(&mut s, [key(KeyCode::Char('e'))]);
    assert!(s.templates.editor.is_some(), "e opens the editor");
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
        matches!(&effects[..], [Effect::RenderPreview { generation: g, template, .. }]
            if *g == generation && template == "zero-shot"),
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

    // Esc leaves the editor, keeping the text; q now quits.
    press(&mut s, [key(KeyCode::Esc)]);
    assert!(s.templates.editor.is_none());
    assert!(user_text(&s).contains(" q?"));
    press(&mut s, [key(KeyCode::Char('q'))]);
    assert!(s.quit);
}

#[test]
fn undo_redo_find_copy_and_paste_in_the_editor() {
    let mut s = demo();
    let before = user_text(&s);
    press(&mut s, [key(KeyCode::Char('e')), key(KeyCode::End)]);
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
    press(&mut s, [key(KeyCode::Char('e')), key(KeyCode::End)]);
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
    press(&mut s, [key(KeyCode::Char('e')), key(KeyCode::End)]);
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
    let cell = |variant: &str| CellKey {
        run_id: "r1".into(),
        variant: variant.into(),
        case_id: first_case.clone(),
        repeat: 0,
    };
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
    assert_eq!(s.run.live["strict"], "{\"title\"");
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
    assert_eq!(s.run.live["strict"], "{\"title\" \u{241b}[2J");
    // A retry or a schema repair voids what streamed so far.
    press(
        &mut s,
        [Msg::Run(RunEvent::Restart {
            key: cell("strict"),
        })],
    );
    assert!(!s.run.live.contains_key("strict"));

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
    press(&mut s, [key(KeyCode::Char('e')), key(KeyCode::End)]);
    press(&mut s, typed("x"));
    assert_eq!(
        s.next_due_ms(),
        Some(until + loupe::tui::update::PREVIEW_DEBOUNCE_MS)
    );
}
