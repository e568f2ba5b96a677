//! The whole App headless: `run_app` on a shared `TestBackend`, keys through a channel,
//! a scripted OpenAI-compatible server as the model. What a user would see, asserted on
//! the screen buffer; what they would keep, asserted on the store.

#![allow(clippy::unwrap_used)]

mod common;

use common::workbench::{self, Fixture, config};
use common::{mock_script, tui_harness};

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use loupe::tui::input::KeyCode;
use loupe::tui::theme::Theme;
use mock_script::{Asked, Reply, Script};
use ratatui::buffer::{Buffer, CellWidth};
use ratatui::style::Style;
use tempfile::TempDir;
use tui_harness::{App, buffer_text, find, row_text};

const SESSION: &str = "headless";

/// Its model takes four requests at once.
async fn fixture(script: Script, cases: &[(&str, &str)]) -> Fixture {
    workbench::fixture_as(SESSION, 4, script, cases).await
}

/// True when the cell carries every colour and modifier `style` sets.
fn styled(buffer: &Buffer, (x, y): (u16, u16), style: Style) -> bool {
    let cell = &buffer[(x, y)];
    style.fg.is_none_or(|c| cell.fg == c)
        && style.bg.is_none_or(|c| cell.bg == c)
        && cell.modifier.contains(style.add_modifier)
}

/// The case ids of the Results grid's rows, top to bottom.
fn grid(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.contains("Cases × variants"))
        .expect("the grid");
    lines[header + 2..]
        .iter()
        .map(|l| {
            l.trim_start_matches('│')
                .split_whitespace()
                .next()
                .unwrap_or("")
        })
        .take_while(|id| !id.is_empty() && !id.starts_with(['└', '│']))
        .map(str::to_owned)
        .collect()
}

/// The screen after every frame must be free of control characters.
fn assert_no_controls(buffer: &Buffer) {
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let sym = buffer[(x, y)].symbol();
            assert!(
                !sym.chars().any(char::is_control),
                "control character {sym:?} reached cell ({x}, {y}):\n{}",
                buffer_text(buffer)
            );
        }
    }
}

// ---- run, stream, results, compare ----

/// On case `first`, `terse` answers `alpha beta gamma` and `wordy` `alpha DELTA gamma`; on
/// `second` wordy's JSON is cut short (it fails `json_valid`); on `third` both say the same.
/// Every answer sends its first chunk and then waits for the test.
fn held_verdicts() -> Script {
    Arc::new(|asked: &Asked| {
        let terse = asked.user.starts_with("T:");
        let (middle, end) = match (asked.user.contains("rename"), asked.user.contains("drop")) {
            (true, _) => (if terse { "beta" } else { "DELTA" }, "\"}"),
            (_, true) => ("omega", if terse { "\"}" } else { "\"" }),
            _ => ("same", "\"}"),
        };
        Reply {
            chunks: vec![
                "{\"answer\": \"alpha ".into(),
                format!("{middle} gamma{end}"),
            ],
            ..Reply::default()
        }
        .held()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_streams_into_panes_then_shows_results_and_the_diff() {
    let fx = fixture(
        held_verdicts(),
        &[
            ("first", "rename a field"),
            ("second", "drop a table"),
            ("third", "add a column"),
        ],
    )
    .await;
    let mut app = App::spawn(fx.store.clone(), fx.session.clone(), config(), 120, 40);
    let s = &app.screen;
    s.wait_for("no run yet").await;

    // `r` on Templates starts the run of every variant x case and shows the Run screen.
    app.char('r');
    let text = s
        .wait_text("the first chunk in both panes", |t| {
            t.matches("{\"answer\": \"alpha").count() == 2
        })
        .await;
    assert!(text.contains("running 0/6"), "{text}");
    assert!(text.contains("terse · first") && text.contains("wordy · first"));
    assert!(
        !text.contains("gamma"),
        "the rest was held back, yet it shows:\n{text}"
    );

    fx.server.release();
    let text = s.wait_for("complete").await;
    let run = fx.store.latest_run(Some(SESSION), true).unwrap().unwrap();
    assert!(text.contains(&format!("run {}", run.id)), "{text}");
    let text = s
        .wait_text("the whole answers in the panes", |t| {
            t.contains("alpha beta gamma") && t.contains("alpha DELTA gamma")
        })
        .await;
    assert!(!text.contains("running"), "{text}");

    // Results: one row per variant, and the case x variant grid with a pass mark per cell.
    app.char('4');
    let text = s.wait_for("Cases × variants (3 shown)").await;
    for needle in ["Variants (sorted by variant)", "terse", "wordy"] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert_eq!(grid(&text), ["first", "second", "third"], "{text}");
    assert_eq!(text.matches("✓ 1/1").count(), 5, "{text}");
    assert_eq!(text.matches("✗ 0/1").count(), 1, "{text}");
    assert_eq!(text.matches("100% [").count(), 1, "{text}");
    assert_eq!(text.matches(" 67% [").count(), 1, "{text}");
    // Filters: failed only, then differing only.
    app.char('f');
    let text = s.wait_for("(1 shown, failed)").await;
    assert_eq!(grid(&text), ["second"], "{text}");
    app.char('f');
    app.char('D');
    let text = s.wait_for("(2 shown, differing)").await;
    assert_eq!(grid(&text), ["first", "second"], "{text}");
    app.char('D');
    s.wait_for("(3 shown)").await;

    // Compare: the word that differs is marked on each side; the shared ones are not.
    app.char('3');
    let theme = Theme::default();
    let buffer = s
        .wait_until("the diff", |b| {
            (find(b, "DELTA").is_some() && find(b, "beta").is_some()).then(|| b.clone())
        })
        .await;
    let text = buffer_text(&buffer);
    assert!(text.contains("Case 1/3 first · word diff"), "{text}");
    let delta = find(&buffer, "DELTA").unwrap();
    let beta = find(&buffer, "beta").unwrap();
    let alpha = find(&buffer, "alpha").unwrap();
    assert!(beta.0 < delta.0, "terse is on the left: {beta:?} {delta:?}");
    assert!(
        styled(&buffer, delta, theme.diff_insert),
        "DELTA not marked"
    );
    assert!(styled(&buffer, beta, theme.diff_delete), "beta not marked");
    assert!(
        !styled(&buffer, alpha, theme.diff_insert) && !styled(&buffer, alpha, theme.diff_delete),
        "a shared word is marked"
    );
    assert!(text.contains("✓ json_valid"), "{text}");

    // Next case shows the second case's outputs.
    app.char('n');
    s.wait_for("Case 2/3 second").await;

    app.char('q');
    app.finished().await.unwrap();
    assert_eq!(fx.server.requests(), 6);
    let outputs: Vec<_> = fx.store.outputs(&run.id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 6);
    let failed: Vec<_> = outputs.iter().filter(|o| !o.passed()).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0].variant.as_str(), failed[0].case_id.as_str()),
        ("wordy", "second")
    );
}

// ---- two Apps, one store ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_share_one_store_and_work_independently() {
    let asked = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = asked.clone();
    let script: Script = Arc::new(move |a: &Asked| {
        seen.lock().unwrap().push(a.user.clone());
        Reply::split("{\"ok\": true}", 3).every(std::time::Duration::from_millis(20))
    });
    let fx = fixture(script, &[("one", "first change"), ("two", "second change")]).await;
    let mut editor = App::spawn(fx.store.clone(), fx.session.clone(), config(), 80, 24);
    let mut runner = App::spawn(fx.store.clone(), fx.session.clone(), config(), 120, 40);
    editor.screen.wait_for("no run yet").await;
    runner.screen.wait_for("no run yet").await;

    let edit = async {
        let s = &editor.screen;
        editor.char('e');
        s.wait_for("editing").await;
        editor.edit_user_section();
        editor.key(KeyCode::End);
        editor.type_text(" Be brief.");
        s.wait_for("{{ text }} Be brief.").await;
        editor.key(KeyCode::Esc);
        s.wait_text("the editor closed", |t| !t.contains("editing"))
            .await;
        // Saved once the run has started, so the run (which records the version it ran,
        // the unedited one) cannot come after the save in the template's history.
        runner
            .screen
            .wait_text("the run started", |t| {
                t.contains("running") || t.contains("complete")
            })
            .await;
        editor.ctrl('s');
        s.wait_for("saved terse as version").await
    };
    let run = async {
        let s = &runner.screen;
        runner.char('r');
        s.wait_for("running").await;
        s.wait_for("complete").await
    };
    let (edited, ran) = tokio::join!(edit, run);

    // Each App shows only its own work: the run's progress and end are news to the runner
    // only, the save to the editor only. (The editor may well show the run itself, if its
    // first load of the newest run came after the runner had started it.)
    let edited_now = editor.screen.text();
    for screen in [&edited, &edited_now] {
        assert!(
            !screen.contains("running ") && !screen.contains("complete"),
            "{screen}"
        );
    }
    assert!(!ran.contains("saved terse"), "{ran}");
    let run = fx.store.latest_run(Some(SESSION), true).unwrap().unwrap();
    assert!(ran.contains(&format!("run {}", run.id)), "{ran}");
    editor.char('q');
    runner.char('q');
    editor.finished().await.unwrap();
    runner.finished().await.unwrap();

    // The store has both: the new template version and every output of the run.
    let history = fx.store.template_history(SESSION, "terse").unwrap();
    let newest = history.last().expect("a saved version");
    assert_eq!(
        newest.content["user"], "T: {{ text }} Be brief.",
        "{:?}",
        newest.content
    );
    let outputs: Vec<_> = fx.store.outputs(&run.id).map(Result::unwrap).collect();
    assert_eq!(outputs.len(), 4);
    assert!(
        outputs
            .iter()
            .all(|o| o.error.is_none() && o.text == "{\"ok\": true}")
    );
    // The running App used its own templates: the other App's unsaved-then-saved edit was
    // never sent.
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 4);
    assert!(asked.iter().all(|u| !u.contains("Be brief")), "{asked:?}");
}

// ---- untrusted output ----

const HOSTILE: &str = "before\x1b[2Jafter\nclip \x1b]52;c;SGVsbG8=\x07 done\nbell\x07 nul\0 c1\u{9b}31m end\ncol\tumn";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_in_outputs_show_as_harmless_text() {
    // The escape is split over chunks, as a stream may well split it.
    let script: Script = Arc::new(|_: &Asked| {
        let (a, b) = HOSTILE.split_at(7);
        Reply {
            chunks: vec![a.into(), b.into()],
            ..Reply::default()
        }
        .held()
    });
    let fx = fixture(script, &[("evil", "hi \u{1b}[31mred\u{7} there")]).await;
    let mut app = App::spawn(fx.store.clone(), fx.session.clone(), config(), 160, 40);
    let s = &app.screen;

    // The case's own text is untrusted too (Templates shows its variables).
    let buffer = s
        .wait_until("the case variables", |b| {
            buffer_text(b)
                .contains("hi ␛[31mred␇ there")
                .then(|| b.clone())
        })
        .await;
    assert_no_controls(&buffer);

    app.char('r');
    // While streaming: the half-sent escape is already visible text.
    let buffer = s
        .wait_until("the first chunk", |b| {
            (buffer_text(b).matches("before␛").count() == 2).then(|| b.clone())
        })
        .await;
    assert_no_controls(&buffer);
    fx.server.release();
    let buffer = s
        .wait_until("the whole outputs", |b| {
            let t = buffer_text(b);
            (t.contains("complete") && t.matches("␇ nul␀ c1␛[31m end").count() == 2)
                .then(|| b.clone())
        })
        .await;
    assert_no_controls(&buffer);
    let text = buffer_text(&buffer);
    // A tab expands to its tab stop; it does not vanish.
    for needle in [
        "before␛[2Jafter",
        "clip ␛]52;c;SGVsbG8=␇ done",
        "bell␇",
        "col     umn",
    ] {
        assert_eq!(text.matches(needle).count(), 2, "{needle:?}:\n{text}");
    }

    // Compare diffs the sanitised texts: same visible text, no controls.
    app.char('3');
    let buffer = s
        .wait_until("the compare panes", |b| {
            let t = buffer_text(b);
            (t.contains("word diff") && t.matches("clip ␛]52;c;SGVsbG8=␇ done").count() == 2)
                .then(|| b.clone())
        })
        .await;
    assert_no_controls(&buffer);
    let text = buffer_text(&buffer);
    assert!(text.contains("hi ␛[31mred␇ there"), "{text}");

    // The store keeps what the model said, byte for byte; only the display is defused.
    app.char('q');
    app.finished().await.unwrap();
    let run = fx.store.latest_run(Some(SESSION), true).unwrap().unwrap();
    let outputs: Vec<_> = fx.store.outputs(&run.id).map(Result::unwrap).collect();
    assert!(outputs.iter().all(|o| o.text == HOSTILE), "{outputs:?}");
}

// ---- wide characters, emoji, right-to-left ----

const WIDE: &str = "日本語のテキストはとても長い行になりますので折り返されるはずです。全角文字が続きます。\n\
🚀🎉👍 emoji in a row 🚀🎉👍 and more 🚀🎉👍🚀🎉👍🚀🎉👍🚀🎉👍🚀🎉👍🚀🎉👍\n\
שלום עולם, זהו טקסט מימין לשמאל — مرحبا بالعالم، هذا نص من اليمين إلى اليسار\n\
mixed abc日本def 한국어 텍스트 ｆｕｌｌｗｉｄｔｈ end";

const ASCII: &str = "The quick brown fox jumps over the lazy dog and keeps running for a while.\n\
emoji free row with plain words only and nothing else to see here at all\n\
left to right text in a single script that wraps the way you would expect\n\
mixed abcdef plain text end";

/// Per row, where the box-drawing corners and vertical sides are. A cell under the second
/// half of a wide character is skipped: the terminal shows the wide character there (the
/// `TestBackend` keeps whatever the cell held before, since nothing is sent for it).
fn border_columns(buffer: &Buffer) -> Vec<BTreeSet<u16>> {
    (0..buffer.area.height)
        .map(|y| {
            let mut cols = BTreeSet::new();
            let mut hidden = 0u16;
            for x in 0..buffer.area.width {
                let sym = buffer[(x, y)].symbol();
                if hidden == 0 && matches!(sym, "│" | "┌" | "┐" | "└" | "┘") {
                    cols.insert(x);
                }
                hidden = hidden.max(sym.cell_width()).saturating_sub(1);
            }
            cols
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_emoji_and_rtl_text_keep_borders_aligned() {
    let script: Script = Arc::new(|a: &Asked| {
        let text = if a.user.contains("wide") { WIDE } else { ASCII };
        // The wordy side differs by one word, so Compare has something to mark.
        let text = if a.user.starts_with("W:") {
            text.replacen("end", "fin", 1)
        } else {
            text.to_owned()
        };
        Reply::split(&text, 5)
    });
    let (wide_case, plain_case) = (
        ("wide", "wide: 日本語 🚀 שלום"),
        ("plain", "plain: ascii only"),
    );
    let fx = fixture(script, &[wide_case, plain_case]).await;
    // The same session with the cases the other way round: an App on it shows the plain case
    // first, on a screen that never held wide text, which is what a layout should look like.
    let ref_dir = TempDir::new().unwrap();
    let reference_session = workbench::write_session_as(
        ref_dir.path(),
        SESSION,
        4,
        &fx.server.base_url(),
        &[plain_case, wide_case],
    );

    let mut app = App::spawn(fx.store.clone(), fx.session.clone(), config(), 120, 40);
    app.screen.wait_for("no run yet").await;
    app.char('r');
    app.screen.wait_for("complete").await;
    app.char('q');
    app.finished().await.unwrap();

    for (width, height) in [(120, 40), (80, 24)] {
        let mut app = App::spawn(
            fx.store.clone(),
            fx.session.clone(),
            config(),
            width,
            height,
        );
        let mut reference = App::spawn(
            fx.store.clone(),
            reference_session.clone(),
            config(),
            width,
            height,
        );
        let s = &app.screen;
        s.wait_for(" run 20").await;
        reference.screen.wait_for(" run 20").await;
        for (screen, wide_title, plain_title) in [
            ('1', "Case 1/2 wide", "2 plain"),
            ('2', "terse · wide", "terse · plain"),
            ('3', "Case 1/2 wide ·", "2 plain ·"),
        ] {
            app.char(screen);
            reference.char(screen);
            let wide = s
                .wait_until("the wide case", |b| {
                    let t = buffer_text(b);
                    (t.contains(wide_title) && t.contains("日本語") && t.contains("🚀"))
                        .then(|| b.clone())
                })
                .await;
            let clean = reference
                .screen
                .wait_until("the plain case, first", |b| {
                    let t = buffer_text(b);
                    (t.contains(&plain_title.replace('2', "1/2"))
                        && t.contains("plain")
                        && !t.contains("computing diff"))
                    .then(|| b.clone())
                })
                .await;
            app.char('n');
            let after = s
                .wait_until("the plain case after the wide one", |b| {
                    let t = buffer_text(b);
                    (t.contains(plain_title) && !t.contains("🚀") && !t.contains("computing diff"))
                        .then(|| b.clone())
                })
                .await;
            let want = border_columns(&clean);
            for (what, got) in [("wide text", &wide), ("plain text after wide", &after)] {
                let cols = border_columns(got);
                for y in 0..got.area.height {
                    assert_eq!(
                        cols[y as usize],
                        want[y as usize],
                        "{width}x{height}, screen {screen}, {what}, row {y}:\n{}\n{}\n--- screen:\n{}",
                        row_text(got, y),
                        row_text(&clean, y),
                        buffer_text(got)
                    );
                }
            }
            assert!(
                want.iter().filter(|cols| cols.len() >= 2).count() > usize::from(height / 2),
                "too few borders on screen {screen}"
            );
            if screen != '1' {
                let t = buffer_text(&wide);
                assert!(
                    t.contains("שלום עולם") && t.contains("ｆｕｌｌｗｉｄｔｈ"),
                    "{t}"
                );
            }
            // Back to case 1 for the next screen.
            app.char('p');
        }
        app.char('q');
        reference.char('q');
        app.finished().await.unwrap();
        reference.finished().await.unwrap();
    }
}
