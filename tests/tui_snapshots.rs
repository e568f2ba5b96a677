//! Every screen drawn on a `TestBackend` at 80x24 and 120x40 in two themes, as insta
//! snapshots of the text and, for the colours, of the styles of a few telling cells.
//!
//! The data is synthetic and fixed (three variants of the demo session, outputs that differ
//! by a few words, one error, one output with control characters), so the pictures only
//! change when the drawing does.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::checks::with_checks;
use common::records;
use common::tui_harness::demo_session;
use loupe::diff::diff;
use loupe::providers::Usage;
use loupe::store::{OutputRecord, RunRecord};
use loupe::tui::draw::{View, draw};
use loupe::tui::input::{Key, KeyCode, Modifiers};
use loupe::tui::keymap::Keymap;
use loupe::tui::msg::{Effect, Msg};
use loupe::tui::state::{CaseFilter, State};
use loupe::tui::theme::Theme;
use loupe::tui::update::update;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const VARIANTS: [&str; 3] = ["zero-shot", "few-shot", "strict"];

fn output(
    session: &loupe::session::Session,
    variant: &str,
    case: usize,
    case_id: &str,
) -> OutputRecord {
    let risk = ["low", "medium", "high"][(case + variant.len()) % 3];
    // Texts chosen so the checks, computed from them as a run computes them, give every
    // kind of cell: prose that is not JSON (zero-shot on every third case), an error, JSON
    // outside the schema (few-shot on some cases), and valid answers.
    let (text, error) = match (variant, case) {
        ("zero-shot", 0) => (
            "The change looks safe.\u{1b}[2J Risk: low.\u{7} Deploy after hours.".to_owned(),
            None,
        ),
        ("zero-shot", 2) => (String::new(), Some("HTTP 503 after 3 attempts".to_owned())),
        ("zero-shot", c) if c % 3 == 0 => (format!("Risk is {risk}; change {c} looks fine."), None),
        ("few-shot", c) => (
            format!(
                "{{\"title\":\"Change {c}\",\"risk\":\"{}\",\"rationale\":\"Touches one service; easy to roll back.\"}}",
                if c % 4 == 1 { "unknown" } else { risk }
            ),
            None,
        ),
        (_, c) => (
            format!(
                "{{\"title\":\"Change {c}\",\"risk\":\"{risk}\",\"rationale\":\"Touches one service; rollback is simple.\"}}"
            ),
            None,
        ),
    };
    let out = OutputRecord {
        usage: Usage {
            input_tokens: 90 + case as u64,
            output_tokens: 30 + (case as u64 % 7),
            estimated: false,
        },
        latency_ms: 900 + 37 * case as u64 + 100 * variant.len() as u64,
        ttft_ms: Some(200 + case as u64),
        cost_usd: Some(0.000_012),
        cached: case.is_multiple_of(5),
        finished_ms: 1_795_000_000_000 + case as u64,
        finish_reason: Some("stop".into()),
        error,
        request_hash: format!("{variant}{case}"),
        ..records::output("20261129-120000-abcd", variant, case_id, text)
    };
    with_checks(session, variant, out, &["json_valid", "json_schema"])
}

/// The demo session's State with a finished run loaded, as the App has it after start.
fn loaded_state() -> State {
    let session = demo_session();
    let run = RunRecord {
        created_ms: 1_795_000_000_000,
        finished_ms: Some(1_795_000_090_000),
        ..records::complete_run(
            &session,
            "20261129-120000-abcd",
            &VARIANTS,
            session.cases.iter().map(|c| c.id.clone()).collect(),
        )
    };
    let outputs: Vec<OutputRecord> = session
        .cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let session = &session;
            VARIANTS.iter().map(move |v| output(session, v, i, &c.id))
        })
        .collect();
    let report = loupe::report::build(&run, &outputs);
    let mut state = State::new(session);
    let km = Keymap::default();
    let effects = update(
        &mut state,
        &km,
        Msg::RunLoaded {
            run,
            outputs,
            earlier: vec!["20261128-090000-0001".into()],
        },
    );
    settle(&mut state, effects);
    update(&mut state, &km, Msg::ReportReady(report));
    state
}

/// Does synchronously what the host would do for the effects a snapshot needs.
fn settle(state: &mut State, effects: Vec<Effect>) {
    let km = Keymap::default();
    for effect in effects {
        let msg = match effect {
            Effect::ComputeDiff {
                key,
                left,
                right,
                mode,
            } => Msg::DiffReady {
                key,
                diff: Arc::new(diff(&left, &right, mode)),
            },
            Effect::RenderPreview {
                generation,
                template,
                specs,
                case,
            } => {
                loupe::tui::app::render_preview(&state.session, &specs, &template, case, generation)
            }
            _ => continue,
        };
        let more = update(state, &km, msg);
        settle(state, more);
    }
}

fn keys(state: &mut State, codes: &[KeyCode]) {
    let km = Keymap::default();
    for code in codes {
        let effects = update(state, &km, Msg::Key(Key::new(*code, Modifiers::NONE)));
        settle(state, effects);
    }
    // Let the preview debounce pass.
    let effects = update(state, &km, Msg::Tick(10_000));
    settle(state, effects);
}

fn render(state: &State, theme: &str, w: u16, h: u16) -> Buffer {
    let (theme, warnings) = Theme::load(theme, &[]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let keymap = Keymap::default();
    let view = View {
        theme: &theme,
        keymap: &keymap,
        ascii: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(state, &view, f)).unwrap();
    terminal.backend().buffer().clone()
}

fn text_of(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every cell's symbol is printable: nothing a terminal would act on.
fn assert_harmless(buf: &Buffer) {
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(char::is_control),
            "control character drawn: {:?}",
            cell.symbol()
        );
    }
}

/// Each screen a snapshot is taken of: its name, and the state after its keys are pressed
/// on [`loaded_state`].
fn screens() -> Vec<(&'static str, State)> {
    let chars = |text: &str| text.chars().map(KeyCode::Char).collect::<Vec<_>>();
    // A missing variable is shown on the part it is in, with its line.
    let mut error = vec![
        KeyCode::Left,
        KeyCode::Char('e'),
        KeyCode::Down,
        KeyCode::End,
    ];
    error.extend(chars(" {{ nope }}"));
    let shots: Vec<(&'static str, Vec<KeyCode>)> = vec![
        ("templates", Vec::new()),
        // Left: from the first section (System) back to User, then edit it.
        (
            "templates-editing",
            vec![
                KeyCode::Left,
                KeyCode::Char('e'),
                KeyCode::End,
                KeyCode::Char('!'),
            ],
        ),
        ("templates-error", error),
        ("run", chars("2")),
        ("compare-word", chars("3")),
        ("compare-line", chars("3nd")),
        ("results", chars("4")),
        ("results-failed", chars("4f")),
        ("help", chars("?")),
        ("palette", chars(":di")),
    ];
    shots
        .into_iter()
        .map(|(name, codes)| {
            let mut s = loaded_state();
            keys(&mut s, &codes);
            (name, s)
        })
        .collect()
}

#[test]
fn every_screen_at_two_sizes_in_two_themes() {
    for (name, state) in screens() {
        for (w, h) in [(80, 24), (120, 40)] {
            let dark = render(&state, "dark", w, h);
            let mono = render(&state, "monochrome", w, h);
            assert_harmless(&dark);
            // The text is the same in every theme; only the styles differ.
            assert_eq!(text_of(&dark), text_of(&mono), "{name} {w}x{h}");
            insta::assert_snapshot!(format!("{name}-{w}x{h}"), text_of(&dark));
            let colours = |buf: &Buffer| {
                let mut seen: Vec<String> = buf
                    .content()
                    .iter()
                    .map(|c| format!("{:?}/{:?}", c.fg, c.bg))
                    .collect();
                seen.sort();
                seen.dedup();
                seen
            };
            assert!(
                colours(&mono).len() < colours(&dark).len(),
                "{name} {w}x{h}: the monochrome theme uses fewer colours"
            );
        }
    }
}

#[test]
fn compare_highlights_the_words_that_differ() {
    let mut s = loaded_state();
    keys(&mut s, &[KeyCode::Char('3'), KeyCode::Char('n')]);
    let buf = render(&s, "dark", 120, 40);
    let text = text_of(&buf);
    // few-shot says "easy to roll back", strict "rollback is simple": the differing words
    // are styled differently from the words both share.
    let style_of = |word: &str| {
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect();
            if let Some(x) = row.find(word) {
                let x = row[..x].chars().count() as u16;
                return buf[(x, y)].style();
            }
        }
        panic!("{word} not on screen:\n{text}");
    };
    let shared = style_of("Touches");
    assert_ne!(style_of("easy"), shared);
    assert_ne!(style_of("simple"), shared);
    assert_ne!(
        style_of("easy"),
        style_of("simple"),
        "removed and added differ"
    );
}

#[test]
fn a_template_error_is_shown_where_it_is() {
    let mut s = loaded_state();
    let mut typing = vec![
        KeyCode::Left,
        KeyCode::Char('e'),
        KeyCode::Down,
        KeyCode::End,
    ];
    typing.extend(" {{ nope }}".chars().map(KeyCode::Char));
    keys(&mut s, &typing);
    let text = text_of(&render(&s, "dark", 80, 24));
    assert!(
        text.contains("✗ line 2: undefined variable `nope`"),
        "on the editor's border:\n{text}"
    );
    // Cut after a whole word, never mid-word into the corner.
    let border = text.lines().find(|l| l.contains("✗ line 2")).unwrap();
    assert!(border.contains("case… ─"), "{border}");
    assert!(
        text.contains("template `zero-shot` (user), line 2"),
        "{text}"
    );
}

#[test]
fn hostile_output_is_drawn_as_harmless_text() {
    let mut s = loaded_state();
    keys(&mut s, &[KeyCode::Char('3')]);
    for (w, h) in [(80, 24), (120, 40)] {
        let buf = render(&s, "dark", w, h);
        assert_harmless(&buf);
        let text = text_of(&buf);
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
        if w >= 120 {
            // Side by side (narrower terminals interleave the two outputs inline).
            assert!(text.contains("The change looks safe."), "{text}");
        }
    }
}

#[test]
fn while_the_newest_run_is_read_screens_say_so_not_no_run_yet() {
    let km = Keymap::default();
    let mut s = State::new(demo_session());
    s.data.loading = true;
    keys(&mut s, &[KeyCode::Char('4')]);
    let text = text_of(&render(&s, "dark", 120, 40));
    assert!(text.contains("reading the newest run..."), "{text}");
    assert!(text.contains("Reading the newest run..."), "{text}");
    assert!(!text.contains("no run yet"), "{text}");

    // The store has none: now it says so.
    update(&mut s, &km, Msg::NoRun);
    let text = text_of(&render(&s, "dark", 120, 40));
    assert!(
        text.contains("no run yet") && text.contains("No run yet"),
        "{text}"
    );

    // A failed read ends the loading too, with the error shown.
    s.data.loading = true;
    update(&mut s, &km, Msg::Error("cannot read the store".into()));
    assert!(!s.data.loading);
}

#[test]
fn the_run_screen_selects_errored_cases_apart_from_those_that_failed_a_check() {
    let mut s = loaded_state();
    let ids_where = |pred: &dyn Fn(&OutputRecord) -> bool| -> Vec<String> {
        s.session
            .cases
            .iter()
            .filter(|c| {
                s.data
                    .outputs
                    .values()
                    .flatten()
                    .any(|o| o.case_id == c.id && pred(o))
            })
            .map(|c| c.id.clone())
            .collect()
    };
    let errored = ids_where(&|o| o.error.is_some());
    let failed_check = ids_where(&|o| o.error.is_none() && !o.passed());
    // The fixture's texts give both kinds, on different cases.
    assert_eq!(errored, [s.session.cases[2].id.clone()]);
    assert!(failed_check.len() > 2 && failed_check.len() < s.session.cases.len());
    assert!(!failed_check.contains(&errored[0]));

    for (filter, want, words) in [
        (CaseFilter::Errored, &errored, "errored"),
        (CaseFilter::FailedCheck, &failed_check, "failed a check"),
    ] {
        s.run.filter = filter;
        assert_eq!(&loupe::tui::screens::run::update::selected_cases(&s), want);
        keys(&mut s, &[KeyCode::Char('2')]);
        let text = text_of(&render(&s, "dark", 120, 40));
        assert!(
            text.contains(&format!("{words} ({})", want.len())),
            "{text}"
        );
    }
}
