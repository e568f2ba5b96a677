//! Which key does what, per context, from YAML.
//!
//! The defaults (`keymaps/default.yaml`) are compiled in. A user keymap has the same
//! shape and changes only the keys it names: `key: action` binds (replacing the default
//! for that key in that context), `key: null` unbinds (outside `global` the key then
//! falls through to its global binding, if it has one). A key is looked up in the current
//! context first, then in `global`; the editor passes only keys that cannot be typed
//! text (ctrl, alt, function keys, esc) on to `global`.
//!
//! Key names: a character (`q`, `?`, `N`, `]`), or `space`, `enter`, `esc`, `tab`,
//! `shift-tab`, `backspace`, `delete`, `insert`, `home`, `end`, `pgup`, `pgdn`, `up`,
//! `down`, `left`, `right`, `f1`..`f24`; with any of the prefixes `ctrl-`, `alt-`,
//! `shift-` (`ctrl-s`, `alt-x`, `shift-up`). An upper-case letter already means shift.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::action::Action;
use super::input::{Key, KeyCode, Modifiers};
use super::theme::yaml_error;

const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.yaml");

/// Where the keys are going: the screen or overlay that has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    Global,
    Templates,
    /// The template editor has the keys: printable keys are text.
    Editor,
    Run,
    Compare,
    Results,
    Rate,
    Help,
    Palette,
}

impl Context {
    pub const ALL: [Context; 9] = [
        Context::Global,
        Context::Templates,
        Context::Editor,
        Context::Run,
        Context::Compare,
        Context::Results,
        Context::Rate,
        Context::Help,
        Context::Palette,
    ];

    /// The section name in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Templates => "templates",
            Context::Editor => "editor",
            Context::Run => "run",
            Context::Compare => "compare",
            Context::Results => "results",
            Context::Rate => "rate",
            Context::Help => "help",
            Context::Palette => "palette",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `file:line:col: what is wrong`.
    #[error("{0}")]
    Invalid(String),
}

/// How the keymap reads and writes keys: parsing a key's name, and its label.
trait KeyName: Sized {
    fn parse(s: &str) -> Result<Self, String>;
    fn label(self) -> String;
}

/// Keys the editor hands on to `global`: ones that cannot be typed text.
fn is_command(key: Key) -> bool {
    key.mods
        .intersects(Modifiers::CTRL | Modifiers::ALT | Modifiers::SUPER)
        || matches!(key.code, KeyCode::F(_) | KeyCode::Esc)
}

impl KeyName for Key {
    fn parse(s: &str) -> Result<Key, String> {
        let mut mods = Modifiers::NONE;
        let mut rest = s;
        // "ctrl--" is ctrl and '-': a prefix only counts if something follows it.
        loop {
            let lower = rest.to_ascii_lowercase();
            let Some((prefix, m)) = MODIFIER_NAMES
                .iter()
                .find(|(p, _)| lower.starts_with(p) && rest.len() > p.len())
            else {
                break;
            };
            mods |= *m;
            rest = &rest[prefix.len()..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => named_key(&rest.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "unknown key `{s}`: expected a character, or a name like enter, esc, tab, space, pgup, f1, \
                     optionally after ctrl-, alt- or shift-"
                )
            })?,
        };
        Ok(Key::new(code, mods))
    }

    fn label(self) -> String {
        let mut out = String::new();
        for (prefix, m) in MODIFIER_NAMES {
            if self.mods.contains(*m) {
                out.push_str(prefix);
            }
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::F(n) => {
                out.push('f');
                out.push_str(&n.to_string());
            }
            code => match NAMED_KEYS.iter().find(|(_, k)| *k == code) {
                Some((name, _)) => out.push_str(name),
                None => out.push_str(&format!("{code:?}").to_lowercase()),
            },
        }
        out
    }
}

/// Label order, too: `ctrl-alt-shift-x`.
const MODIFIER_NAMES: &[(&str, Modifiers)] = &[
    ("ctrl-", Modifiers::CTRL),
    ("alt-", Modifiers::ALT),
    ("shift-", Modifiers::SHIFT),
    ("super-", Modifiers::SUPER),
    ("hyper-", Modifiers::HYPER),
    ("meta-", Modifiers::META),
];

/// The first name of a key is its label; later ones are accepted aliases.
const NAMED_KEYS: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("shift-tab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("space", KeyCode::Char(' ')),
    ("backtab", KeyCode::BackTab),
    ("return", KeyCode::Enter),
    ("escape", KeyCode::Esc),
    ("del", KeyCode::Delete),
    ("ins", KeyCode::Insert),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
];

fn named_key(name: &str) -> Option<KeyCode> {
    if let Some(n) = name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        return (1..=24).contains(&n).then_some(KeyCode::F(n));
    }
    NAMED_KEYS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Parses a key name as written in a keymap (`ctrl-s`, `shift-tab`, `N`, `f5`).
pub fn parse_key(s: &str) -> Result<Key, String> {
    Key::parse(s)
}

/// The canonical name of a key, as the help overlay and status bar show it.
pub fn key_label(key: &Key) -> String {
    key.label()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    maps: HashMap<Context, HashMap<Key, Action>>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut keymap = Keymap {
            maps: HashMap::new(),
        };
        keymap
            .apply(DEFAULT_KEYMAP, "keymaps/default.yaml")
            .expect("the built-in keymap parses (tested)");
        keymap
    }
}

impl Keymap {
    /// The defaults with the user keymap file at `path` applied.
    pub fn load(path: &Path) -> Result<Keymap, KeymapError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeymapError::Read {
            file: file.clone(),
            source,
        })?;
        Keymap::default().with_overrides(&text, &file)
    }

    /// This keymap with the bindings of a keymap file's text applied; `file` names it
    /// in errors.
    pub fn with_overrides(mut self, yaml: &str, file: &str) -> Result<Keymap, KeymapError> {
        self.apply(yaml, file)?;
        Ok(self)
    }

    fn apply(&mut self, yaml: &str, file: &str) -> Result<(), KeymapError> {
        let parsed: Option<BTreeMap<Context, Bindings>> =
            serde_yaml::from_str(yaml).map_err(|e| KeymapError::Invalid(yaml_error(file, &e)))?;
        for (context, bindings) in parsed.unwrap_or_default() {
            let map = self.maps.entry(context).or_default();
            for (key, action) in bindings.0 {
                match action {
                    Some(a) => map.insert(key, a),
                    None => map.remove(&key),
                };
            }
        }
        Ok(())
    }

    /// What `key` does in `context`: the context's own binding, else the global one
    /// (in the editor, only for keys that cannot be typed text).
    pub fn lookup(&self, context: Context, key: &Key) -> Option<Action> {
        self.resolve(context, *key)
    }

    fn resolve(&self, context: Context, key: Key) -> Option<Action> {
        if let Some(a) = self.maps.get(&context).and_then(|m| m.get(&key)) {
            return Some(*a);
        }
        if context == Context::Global || (context == Context::Editor && !is_command(key)) {
            return None;
        }
        self.maps
            .get(&Context::Global)
            .and_then(|m| m.get(&key))
            .copied()
    }

    /// The context's own bindings (not the global ones it falls back to), grouped by
    /// action in `Action::ALL` order, shorter keys first: the help overlay's rows.
    pub fn bindings(&self, context: Context) -> Vec<(String, Action)> {
        let mut out: Vec<(String, Action)> = self
            .maps
            .get(&context)
            .into_iter()
            .flatten()
            .map(|(k, a)| (k.label(), *a))
            .collect();
        out.sort_by(|(ka, a), (kb, b)| {
            action_rank(*a)
                .cmp(&action_rank(*b))
                .then_with(|| key_order(ka, kb))
        });
        out
    }

    /// Every key that does `action` in `context`, counting global keys the context
    /// does not shadow; shorter first. Empty when the action has no key there.
    pub fn keys_for(&self, context: Context, action: Action) -> Vec<String> {
        let mut keys: Vec<Key> = Vec::new();
        for c in [context, Context::Global] {
            for (k, a) in self.maps.get(&c).into_iter().flatten() {
                if *a == action && !keys.contains(k) && self.resolve(context, *k) == Some(action) {
                    keys.push(*k);
                }
            }
        }
        let mut labels: Vec<String> = keys.into_iter().map(Key::label).collect();
        labels.sort_by(|a, b| key_order(a, b));
        labels
    }
}

fn action_rank(a: Action) -> usize {
    Action::ALL
        .iter()
        .position(|x| *x == a)
        .unwrap_or(usize::MAX)
}

/// Shorter first, then alphabetical with `r` before `R`.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .count()
        .cmp(&b.chars().count())
        .then_with(|| a.to_lowercase().cmp(&b.to_lowercase()))
        .then_with(|| b.cmp(a))
}

/// One context's section of a keymap file, in file order.
struct Bindings(Vec<(Key, Option<Action>)>);

impl<'de> Deserialize<'de> for Bindings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bindings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from key names to action names (or null to unbind)")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bindings, E> {
                Ok(Bindings(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bindings, A::Error> {
                let mut seen: Vec<(Key, String)> = Vec::new();
                let mut out = Vec::new();
                while let Some((key, name)) = map.next_key_seed(KeySeed { seen: &seen })? {
                    let action: Option<Action> = map.next_value()?;
                    out.push((key, action));
                    seen.push((key, name));
                }
                Ok(Bindings(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads one key name of a section and checks it against the section's earlier keys,
/// so both a bad name and a second spelling of one key (`pgdn`, `pagedown`) are
/// reported at the key's own line. YAML reads `1` as a number: any scalar is its text.
struct KeySeed<'a> {
    seen: &'a [(Key, String)],
}

impl<'de> de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = (Key, String);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = (Key, String);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        let key = Key::parse(s).map_err(E::custom)?;
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == key) {
            return Err(E::custom(format!(
                "`{s}` is the same key as `{first}` above"
            )));
        }
        Ok((key, s.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        self.visit_str(&n.to_string())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        self.visit_str(&n.to_string())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "`{b}` reads as a boolean: quote the key name"
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(
            "empty key name (`#` starts a YAML comment: write \"#\")",
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        parse_key(s).unwrap()
    }

    fn ev(code: KeyCode, mods: Modifiers) -> Key {
        Key::new(code, mods)
    }

    #[test]
    fn labels_round_trip() {
        let forms = [
            "q",
            "?",
            ":",
            "ctrl-s",
            "tab",
            "shift-tab",
            "enter",
            "esc",
            "up",
            "down",
            "pgup",
            "pgdn",
            "left",
            "right",
            "j",
            "k",
            "n",
            "N",
            "]",
            "[",
            "space",
            "1",
            "9",
            "alt-x",
            "ctrl-alt-x",
            "-",
            "ctrl--",
            "backspace",
            "delete",
            "home",
            "end",
            "insert",
            "shift-up",
            "ctrl-f5",
            "W",
            "D",
            "E",
            "R",
        ];
        for s in forms.iter().copied().chain(
            (1..=12)
                .map(|n| format!("f{n}"))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        ) {
            assert_eq!(key_label(&key(s)), s, "round trip of {s}");
        }
    }

    #[test]
    fn aliases_and_terminal_quirks_fold_together() {
        assert_eq!(key("pagedown"), key("pgdn"));
        assert_eq!(key("CTRL-s"), key("ctrl-s"));
        assert_eq!(key("backtab"), key("shift-tab"));
        assert_eq!(key("shift-n"), key("N"));
        assert_eq!(key(" "), key("space"));
        let km = Keymap::default();
        // Terminals send shift with upper-case letters and symbols, and BackTab with shift.
        assert_eq!(key_label(&ev(KeyCode::Char('N'), Modifiers::SHIFT)), "N");
        assert_eq!(key_label(&ev(KeyCode::Char('?'), Modifiers::SHIFT)), "?");
        assert_eq!(
            key_label(&ev(KeyCode::BackTab, Modifiers::SHIFT)),
            "shift-tab"
        );
        assert_eq!(
            km.lookup(
                Context::Templates,
                &ev(KeyCode::Char('?'), Modifiers::SHIFT)
            ),
            Some(Action::Help)
        );
        assert_eq!(
            km.lookup(Context::Run, &ev(KeyCode::BackTab, Modifiers::SHIFT)),
            Some(Action::PrevScreen)
        );
        for bad in ["", "foo", "ctrl-", "ctrl-foo", "f0", "f25"] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn context_first_then_global() {
        let km = Keymap::default();
        assert_eq!(
            km.lookup(Context::Compare, &key("d")),
            Some(Action::CycleDiffMode)
        );
        assert_eq!(km.lookup(Context::Results, &key("d")), None);
        assert_eq!(km.lookup(Context::Compare, &key("q")), Some(Action::Quit));
        assert_eq!(km.lookup(Context::Global, &key("d")), None);
        let km = km
            .with_overrides("compare:\n  q: next_case\n", "test.yaml")
            .unwrap();
        assert_eq!(
            km.lookup(Context::Compare, &key("q")),
            Some(Action::NextCase)
        );
        assert_eq!(km.lookup(Context::Run, &key("q")), Some(Action::Quit));
    }

    #[test]
    fn the_editor_keeps_printable_keys_as_text() {
        let km = Keymap::default();
        for typed in ["q", "?", ":", "1", "j", "space", "enter", "tab", "up"] {
            assert_eq!(km.lookup(Context::Editor, &key(typed)), None, "{typed}");
        }
        assert_eq!(km.lookup(Context::Editor, &key("esc")), Some(Action::Back));
        assert_eq!(
            km.lookup(Context::Editor, &key("ctrl-s")),
            Some(Action::Save)
        );
        assert_eq!(
            km.lookup(Context::Editor, &key("f3")),
            Some(Action::GotoCompare)
        );
        let km = km
            .with_overrides("global:\n  alt-q: quit\n", "t.yaml")
            .unwrap();
        assert_eq!(
            km.lookup(Context::Editor, &key("alt-q")),
            Some(Action::Quit)
        );
    }

    #[test]
    fn user_file_overrides_and_unbinds_only_what_it_names() {
        let km = Keymap::default()
            .with_overrides(
                "global:\n  q: null\n  ctrl-q: quit\nresults:\n  '1': sort_next\n",
                "mine.yaml",
            )
            .unwrap();
        assert_eq!(km.lookup(Context::Templates, &key("q")), None);
        assert_eq!(
            km.lookup(Context::Templates, &key("ctrl-q")),
            Some(Action::Quit)
        );
        assert_eq!(
            km.lookup(Context::Results, &key("1")),
            Some(Action::SortNext)
        );
        assert_eq!(
            km.lookup(Context::Run, &key("1")),
            Some(Action::GotoTemplates)
        );
        assert_eq!(km.lookup(Context::Templates, &key("e")), Some(Action::Edit));
        // Unquoted numbers and an empty section are fine.
        let km = Keymap::default()
            .with_overrides("compare:\n  7: next_case\nrate:\n", "t.yaml")
            .unwrap();
        assert_eq!(
            km.lookup(Context::Compare, &key("7")),
            Some(Action::NextCase)
        );
        assert!(Keymap::default().with_overrides("", "t.yaml").is_ok());
        assert!(
            Keymap::default()
                .with_overrides("# nothing yet\n", "t.yaml")
                .is_ok()
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        for (yaml, at, needle) in [
            (
                "global:\n  q: quitt\n",
                "k.yaml:2:6: ",
                "unknown variant `quitt`",
            ),
            (
                "global:\n  q: quit\nrates:\n  a: help\n",
                "k.yaml:3:1: ",
                "unknown variant `rates`",
            ),
            (
                "run:\n  ctrl-foo: help\n",
                "k.yaml:2:3: ",
                "unknown key `ctrl-foo`",
            ),
            (
                "run:\n  pgdn: help\n  pagedown: quit\n",
                "k.yaml:3:3: ",
                "same key as `pgdn`",
            ),
            ("run: [\n", "k.yaml:", ""),
        ] {
            let err = Keymap::default()
                .with_overrides(yaml, "k.yaml")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(at) && err.contains(needle),
                "{yaml:?}: {err}"
            );
        }
        let err = Keymap::load(Path::new("/nonexistent/keys.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/nonexistent/keys.yaml: "), "{err}");
    }

    #[test]
    fn defaults_parse_every_context_and_name_real_actions() {
        // Parsing already rejects unknown actions, contexts and same-key duplicates; this
        // checks the defaults against the YAML text itself so nothing was dropped.
        let raw: BTreeMap<String, Option<BTreeMap<String, String>>> =
            serde_yaml::from_str(DEFAULT_KEYMAP).unwrap();
        let km = Keymap::default();
        for c in Context::ALL {
            assert!(
                raw.contains_key(c.name()),
                "default keymap lacks a `{}` section",
                c.name()
            );
        }
        let mut count = 0;
        for (ctx, bindings) in &raw {
            let c: Context = serde_yaml::from_str(ctx).unwrap();
            for (k, a) in bindings.iter().flatten() {
                let action: Action = serde_yaml::from_str(a).unwrap();
                assert!(Action::ALL.contains(&action));
                assert_eq!(
                    km.maps[&c].get(&Key::parse(k).unwrap()),
                    Some(&action),
                    "{ctx}.{k}"
                );
                count += 1;
            }
        }
        assert_eq!(
            count,
            Context::ALL
                .iter()
                .map(|c| km.bindings(*c).len())
                .sum::<usize>()
        );
    }

    #[test]
    fn no_key_means_two_things_in_one_context() {
        // Effective bindings per context (own keys plus reachable global ones): each key
        // resolves to one action, and no context's own key silently repeats a global one.
        let km = Keymap::default();
        for c in Context::ALL {
            let mut seen: HashMap<String, Action> = HashMap::new();
            for (label, action) in km.bindings(c) {
                assert!(
                    seen.insert(label.clone(), action).is_none(),
                    "{c:?}: {label} bound twice"
                );
                if c != Context::Global {
                    let global = km.lookup(Context::Global, &key(&label));
                    assert!(
                        global.is_none() || global == Some(action),
                        "{c:?}: {label} shadows global {global:?} with {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn defaults_reach_the_screens_and_the_basics() {
        let km = Keymap::default();
        for (keys, action) in [
            (["1", "f1"], Action::GotoTemplates),
            (["2", "f2"], Action::GotoRun),
            (["3", "f3"], Action::GotoCompare),
            (["4", "f4"], Action::GotoResults),
            (["5", "f5"], Action::GotoRate),
        ] {
            for k in keys {
                assert_eq!(km.lookup(Context::Results, &key(k)), Some(action));
            }
        }
        assert_eq!(km.lookup(Context::Run, &key("u")), Some(Action::ResumeRun));
        assert_eq!(
            km.lookup(Context::Results, &key("R")),
            Some(Action::PickRun)
        );
        assert_eq!(km.lookup(Context::Run, &key("r")), Some(Action::StartRun));
        assert_eq!(
            km.lookup(Context::Run, &key("space")),
            Some(Action::ToggleVariant)
        );
        assert_eq!(
            km.lookup(Context::Compare, &key("]")),
            Some(Action::NextDiffering)
        );
        assert_eq!(
            km.lookup(Context::Results, &key("D")),
            Some(Action::FilterDiffering)
        );
        assert_eq!(
            km.lookup(Context::Templates, &key("ctrl-s")),
            Some(Action::Save)
        );
        assert_eq!(km.lookup(Context::Rate, &key("h")), Some(Action::RateLeft));
        assert_eq!(
            km.lookup(Context::Rate, &key("[")),
            Some(Action::LabelsLeft)
        );
        assert_eq!(km.lookup(Context::Rate, &key("left")), Some(Action::Left));
    }

    #[test]
    fn bindings_are_grouped_by_action_and_keys_for_respects_shadowing() {
        let km = Keymap::default();
        let g = km.bindings(Context::Global);
        let ranks: Vec<usize> = g.iter().map(|(_, a)| action_rank(*a)).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(g[0], ("q".to_owned(), Action::Quit));
        assert_eq!(
            km.keys_for(Context::Run, Action::GotoTemplates),
            vec!["1", "f1"]
        );
        assert_eq!(
            km.keys_for(Context::Editor, Action::GotoTemplates),
            vec!["f1"]
        );
        assert_eq!(
            km.keys_for(Context::Editor, Action::Help),
            Vec::<String>::new()
        );
        let km = km
            .with_overrides("run:\n  '1': cancel_run\n", "t.yaml")
            .unwrap();
        assert_eq!(km.keys_for(Context::Run, Action::GotoTemplates), vec!["f1"]);
        assert_eq!(km.keys_for(Context::Run, Action::CancelRun), vec!["1", "x"]);
    }
}
