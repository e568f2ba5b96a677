//! Colours and text attributes, from YAML themes.
//!
//! The built-in themes are compiled in. A user theme is `<dir>/<name>.yaml`; it sets only
//! the fields it wants and takes the rest from the theme it `inherits:` (a built-in or
//! another user theme; by default the built-in of the same name, else `dark`). A style
//! field is either a colour (the foreground) or `{ fg, bg, modifiers }`, and replaces the
//! inherited style as a whole. Colours are `"#rrggbb"` (quoted: a bare `#` starts a YAML
//! comment), ratatui colour names (`light-blue`), a 256-colour index, or names from the
//! `palette:` section, which win over colour names: in the built-ins `red` is the theme's
//! red. A child's palette entries re-colour the styles it inherits. Modifiers: `bold`,
//! `dim`, `italic`, `underlined`, `reversed`, `crossed_out`, `hidden`, `slow_blink`,
//! `rapid_blink`.
//! Problems never stop the TUI: they become warnings and a fallback theme.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

pub const DEFAULT_THEME: &str = "dark";

const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.yaml")),
];

// Inheritance deeper than this is a cycle or a mistake, not a design.
const MAX_DEPTH: usize = 8;

/// Declares the style fields once: `Theme`'s public fields, the YAML file's optional
/// fields, and the code that merges and resolves them.
macro_rules! theme_fields {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            /// The name it was loaded as.
            pub name: String,
            $($(#[doc = $doc])* pub $field: Style,)*
        }

        impl Theme {
            /// Every style passed through `f`.
            fn map_styles(mut self, f: impl Fn(Style) -> Style) -> Theme {
                $(self.$field = f(self.$field);)*
                self
            }

            /// Every style, for tests that look at all of them.
            #[cfg(test)]
            fn styles(&self) -> Vec<Style> {
                vec![$(self.$field,)*]
            }
        }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemeFile {
            inherits: Option<String>,
            #[serde(default)]
            palette: BTreeMap<String, ColorRef>,
            $(#[serde(default, deserialize_with = "style_field")]
            $field: Option<StyleSpec>,)*
        }

        impl ThemeFile {
            /// `top`'s fields and palette entries win over this file's.
            fn overlay(mut self, top: ThemeFile) -> ThemeFile {
                self.palette.extend(top.palette);
                $(if top.$field.is_some() {
                    self.$field = top.$field;
                })*
                self
            }

            fn resolve(&self, name: &str, warnings: &mut Vec<String>) -> Theme {
                Theme {
                    name: name.to_owned(),
                    $($field: self.style(name, stringify!($field), self.$field.as_ref(), warnings),)*
                }
            }

            #[cfg(test)]
            fn unset(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$field.is_none() {
                    out.push(stringify!($field));
                })*
                out
            }
        }
    };
}

theme_fields! {
    /// Body text and the screen's background.
    text,
    /// Secondary text: metadata, placeholders, idle states.
    muted,
    border,
    /// The border of the pane that has the keys.
    border_focused,
    /// Pane titles and headings.
    title,
    /// The highlighted row of a list or table.
    selection,
    status_bar,
    /// Key names in the status bar and the help overlay.
    status_key,
    toast_error,
    toast_info,
    /// Text only the right-hand output has.
    diff_insert,
    /// Text only the left-hand output has.
    diff_delete,
    pass,
    fail,
    warn,
    /// Labels, gauges and other emphasis.
    accent,
    /// The screen tabs line and table headers.
    header,
    tab_active,
    tab_inactive,
    /// The line with the cursor in the template editor.
    cursor_line,
}

impl Default for Theme {
    fn default() -> Self {
        built_in(DEFAULT_THEME, &mut Vec::new())
    }
}

impl Theme {
    /// The built-in theme names, default first.
    pub fn names() -> Vec<&'static str> {
        BUILT_IN.iter().map(|(n, _)| *n).collect()
    }

    /// Loads theme `name` (a built-in, `<dir>/<name>.yaml` in the first of `user_dirs`
    /// that has it, or a path to a `.yaml` file), honouring `NO_COLOR` from this
    /// process's environment. Never fails: problems come back as warnings.
    pub fn load(name: &str, user_dirs: &[PathBuf]) -> (Theme, Vec<String>) {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::load_with(name, user_dirs, no_color)
    }

    /// As [`Theme::load`], with `NO_COLOR` given rather than read: over SSH it is the
    /// client's environment that counts, not the server's.
    pub fn load_with(name: &str, user_dirs: &[PathBuf], no_color: bool) -> (Theme, Vec<String>) {
        let mut warnings = Vec::new();
        if no_color {
            // NO_COLOR means no colour at all, so a user override cannot bring it back.
            let theme = built_in("monochrome", &mut warnings);
            return (theme, warnings);
        }
        if let Ok(file) = user_chain(name, user_dirs, 0, &mut warnings) {
            let shown = Path::new(name)
                .file_stem()
                .filter(|_| is_path(name))
                .map_or(name.to_owned(), |s| s.to_string_lossy().into_owned());
            let theme = file.resolve(&shown, &mut warnings);
            return (with_diff_marks(theme), warnings);
        }
        let fallback = if is_built_in(name) {
            name
        } else {
            DEFAULT_THEME
        };
        warnings.push(format!("using the built-in `{fallback}` theme"));
        let theme = built_in(fallback, &mut warnings);
        (theme, warnings)
    }

    /// The theme as a terminal of `depth` can show it: 24-bit colours become the nearest
    /// of the 256-colour palette or of the 16 ANSI colours (named and indexed colours within
    /// the depth are kept).
    #[must_use]
    pub fn for_depth(self, depth: ColorDepth) -> Theme {
        if depth == ColorDepth::TrueColor {
            return self;
        }
        let map = |c: Option<Color>| c.map(|c| reduce(c, depth));
        self.map_styles(|st| Style {
            fg: map(st.fg),
            bg: map(st.bg),
            underline_color: map(st.underline_color),
            ..st
        })
    }

    /// Every style empty: the last resort if even a built-in failed (tests forbid that).
    fn plain(name: &str) -> Theme {
        ThemeFile::default().resolve(name, &mut Vec::new())
    }
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
}

impl ColorDepth {
    /// From `COLORTERM` and `TERM`: 24-bit only when `COLORTERM` says `truecolor` or
    /// `24bit` (or `TERM` names a direct-colour terminal); 256 colours when `TERM` says
    /// `256color`; else the 16 ANSI colours (`xterm`, `linux`, `screen`, `vt100`...), which
    /// every colour terminal draws correctly.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> ColorDepth {
        let colorterm = colorterm.unwrap_or_default().to_ascii_lowercase();
        let term = term.unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" || term.contains("direct") {
            ColorDepth::TrueColor
        } else if term.contains("256color") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }

    /// [`ColorDepth::detect`] on this process's environment.
    pub fn from_env() -> ColorDepth {
        let var = |k: &str| std::env::var(k).ok();
        Self::detect(var("COLORTERM").as_deref(), var("TERM").as_deref())
    }
}

/// `c` as a terminal of `depth` can show it.
fn reduce(colour: Color, depth: ColorDepth) -> Color {
    match (colour, depth) {
        (Color::Rgb(r, g, b), ColorDepth::Ansi256) => Color::Indexed(nearest_256(r, g, b)),
        (Color::Rgb(r, g, b), ColorDepth::Ansi16) => nearest_16(r, g, b),
        (Color::Indexed(index), ColorDepth::Ansi16) if index >= 16 => {
            let (r, g, b) = rgb_of_256(index);
            nearest_16(r, g, b)
        }
        (kept, _) => kept,
    }
}

/// The 16 ANSI colours as xterm draws them, in index order.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn distance((r1, g1, b1): (u8, u8, u8), (r2, g2, b2): (u8, u8, u8)) -> u32 {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).unsigned_abs();
    // Weighted roughly as the eye is: green counts most, blue least.
    3 * d(r1, r2).pow(2) + 4 * d(g1, g2).pow(2) + 2 * d(b1, b2).pow(2)
}

fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, rgb)| distance(*rgb, (r, g, b)))
        .map_or(Color::Reset, |(c, _)| *c)
}

/// The levels of the xterm 256-colour palette's 6x6x6 cube.
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

fn rgb_of_256(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = i - 16;
            (
                CUBE[usize::from(n / 36)],
                CUBE[usize::from(n / 6 % 6)],
                CUBE[usize::from(n % 6)],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// The nearest colour of the cube or the grey ramp (16-255; terminals draw the first 16
/// each their own way, so a 24-bit colour never maps there).
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    (16..=255u8)
        .min_by_key(|&i| distance(rgb_of_256(i), (r, g, b)))
        .unwrap_or(16)
}

/// Box-drawing borders, or `+`, `-` and `|` for `--ascii` (terminals and fonts without
/// the line-drawing characters, and logs that must stay 7-bit).
pub fn border_set(ascii: bool) -> border::Set<'static> {
    if ascii {
        border::Set {
            top_left: "+",
            top_right: "+",
            bottom_left: "+",
            bottom_right: "+",
            vertical_left: "|",
            vertical_right: "|",
            horizontal_top: "-",
            horizontal_bottom: "-",
        }
    } else {
        border::PLAIN
    }
}

fn built_in(name: &str, warnings: &mut Vec<String>) -> Theme {
    with_diff_marks(
        built_in_chain(name, 0, warnings)
            .map_or_else(|()| Theme::plain(name), |f| f.resolve(name, warnings)),
    )
}

/// Inserted and deleted words are told apart by more than colour in every theme (a
/// colour-blind reader, a terminal that maps colours away): a theme that gives them no
/// text modifier gets underline for inserted text and strikethrough for deleted.
fn with_diff_marks(mut t: Theme) -> Theme {
    if t.diff_insert.add_modifier.is_empty() {
        t.diff_insert = t.diff_insert.add_modifier(Modifier::UNDERLINED);
    }
    if t.diff_delete.add_modifier.is_empty() {
        t.diff_delete = t.diff_delete.add_modifier(Modifier::CROSSED_OUT);
    }
    if t.diff_insert.add_modifier == t.diff_delete.add_modifier {
        t.diff_delete = t.diff_delete.add_modifier(Modifier::CROSSED_OUT);
    }
    t
}

fn is_built_in(name: &str) -> bool {
    BUILT_IN.iter().any(|(n, _)| *n == name)
}

fn is_path(name: &str) -> bool {
    let ext = Path::new(name)
        .extension()
        .map(std::ffi::OsStr::to_ascii_lowercase);
    name.contains(['/', '\\']) || ext.is_some_and(|e| e == "yaml" || e == "yml")
}

fn built_in_chain(name: &str, depth: usize, warnings: &mut Vec<String>) -> Result<ThemeFile, ()> {
    let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) else {
        warnings.push(format!(
            "no built-in theme `{name}` (built-in: {})",
            Theme::names().join(", ")
        ));
        return Err(());
    };
    let file: ThemeFile = serde_yaml::from_str(text).map_err(|e| {
        warnings.push(yaml_error(&format!("built-in theme {name}"), &e));
    })?;
    match &file.inherits {
        Some(parent) if depth < MAX_DEPTH => {
            Ok(built_in_chain(parent, depth + 1, warnings)?.overlay(file))
        }
        Some(_) => {
            warnings.push(format!(
                "theme `{name}`: inherits nest deeper than {MAX_DEPTH}"
            ));
            Err(())
        }
        None => Ok(file),
    }
}

/// The merged file for `name`: user file over whatever it inherits, or a built-in.
fn user_chain(
    name: &str,
    dirs: &[PathBuf],
    depth: usize,
    warnings: &mut Vec<String>,
) -> Result<ThemeFile, ()> {
    if depth > MAX_DEPTH {
        warnings.push(format!(
            "theme `{name}`: inherits nest deeper than {MAX_DEPTH} (a cycle?)"
        ));
        return Err(());
    }
    let path = if is_path(name) {
        let p = PathBuf::from(name);
        if !p.is_file() {
            warnings.push(format!("theme file {} not found", p.display()));
            return Err(());
        }
        Some(p)
    } else {
        dirs.iter()
            .map(|d| d.join(format!("{name}.yaml")))
            .find(|p| p.is_file())
    };
    let Some(path) = path else {
        if is_built_in(name) {
            return built_in_chain(name, depth, warnings);
        }
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        warnings.push(format!(
            "unknown theme `{name}`: not built in ({}) and no {name}.yaml in {}",
            Theme::names().join(", "),
            if looked.is_empty() {
                "any theme directory".to_owned()
            } else {
                looked.join(", ")
            }
        ));
        return Err(());
    };
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(&path).map_err(|e| warnings.push(format!("{shown}: {e}")))?;
    let file: ThemeFile = if text.trim().is_empty() {
        ThemeFile::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| warnings.push(yaml_error(&shown, &e)))?
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = file.inherits.clone().unwrap_or_else(|| {
        if is_built_in(&stem) {
            stem.clone()
        } else {
            DEFAULT_THEME.to_owned()
        }
    });
    // `dark.yaml` inheriting `dark` means the built-in one, not itself.
    let base = if parent == stem {
        built_in_chain(&parent, depth + 1, warnings)
    } else {
        user_chain(&parent, dirs, depth + 1, warnings)
    }?;
    Ok(base.overlay(file))
}

/// `file:line:col: message` for a YAML error (`serde_yaml` puts the place at the end).
pub(crate) fn yaml_error(file: &str, err: &serde_yaml::Error) -> String {
    let message = err.to_string();
    match err.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            format!("{file}:{}:{}: {message}", loc.line(), loc.column())
        }
        None => format!("{file}: {message}"),
    }
}

impl ThemeFile {
    fn style(
        &self,
        theme: &str,
        field: &str,
        spec: Option<&StyleSpec>,
        warnings: &mut Vec<String>,
    ) -> Style {
        let Some(spec) = spec else {
            return Style::default();
        };
        let mut style = Style::default();
        if let Some(c) = spec
            .fg
            .as_ref()
            .and_then(|c| self.color(theme, &format!("{field}.fg"), c, warnings))
        {
            style = style.fg(c);
        }
        if let Some(c) = spec
            .bg
            .as_ref()
            .and_then(|c| self.color(theme, &format!("{field}.bg"), c, warnings))
        {
            style = style.bg(c);
        }
        for m in &spec.modifiers {
            style = style.add_modifier(m.0);
        }
        style
    }

    fn color(
        &self,
        theme: &str,
        at: &str,
        c: &ColorRef,
        warnings: &mut Vec<String>,
    ) -> Option<Color> {
        let value = self.palette.get(&c.0).unwrap_or(c);
        match Color::from_str(&value.0) {
            Ok(color) => Some(color),
            Err(_) if value.0 == c.0 => {
                warnings.push(format!(
                    "theme `{theme}`: {at}: `{}` is neither a palette name nor a colour (#rrggbb or a name like light-blue)",
                    c.0
                ));
                None
            }
            Err(_) => {
                warnings.push(format!(
                    "theme `{theme}`: palette `{}` = `{}` is not a colour",
                    c.0, value.0
                ));
                None
            }
        }
    }
}

/// A colour as written: a palette name, `#rrggbb` or a colour name; checked when the
/// palette is known, except a `#` form, which is checked here to point at its line.
#[derive(Debug, Clone, PartialEq)]
struct ColorRef(String);

// An unquoted `#rrggbb` starts a YAML comment and leaves the value empty: the commonest
// mistake in a theme file, so it gets its own message instead of a silent default.
const EMPTY_VALUE: &str =
    "empty value (an unquoted #rrggbb starts a YAML comment: write \"#rrggbb\")";

impl<'de> Deserialize<'de> for ColorRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ColorRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a colour: \"#rrggbb\", a colour name or a palette name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ColorRef, E> {
                if s.starts_with('#') && Color::from_str(s).is_err() {
                    return Err(E::custom(format!("`{s}` is not a #rrggbb colour")));
                }
                Ok(ColorRef(s.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ColorRef, E> {
                // An indexed colour: `fg: 208`.
                self.visit_str(&n.to_string())
            }
            fn visit_unit<E: de::Error>(self) -> Result<ColorRef, E> {
                Err(E::custom(EMPTY_VALUE))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ModifierName(Modifier);

const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("slow_blink", Modifier::SLOW_BLINK),
    ("rapid_blink", Modifier::RAPID_BLINK),
    ("reversed", Modifier::REVERSED),
    ("hidden", Modifier::HIDDEN),
    ("crossed_out", Modifier::CROSSED_OUT),
];

impl<'de> Deserialize<'de> for ModifierName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let key = match s.as_str() {
            "underline" => "underlined",
            "reverse" => "reversed",
            "strikethrough" => "crossed_out",
            other => other,
        };
        MODIFIERS
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, m)| ModifierName(*m))
            .ok_or_else(|| {
                let names: Vec<&str> = MODIFIERS.iter().map(|(n, _)| *n).collect();
                de::Error::custom(format!(
                    "unknown modifier `{s}`, expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// A style field: `{ fg, bg, modifiers }`, or just a colour, short for `{ fg: colour }`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    #[serde(default, deserialize_with = "some")]
    fg: Option<ColorRef>,
    #[serde(default, deserialize_with = "some")]
    bg: Option<ColorRef>,
    #[serde(default)]
    modifiers: Vec<ModifierName>,
}

/// A present key must have a value: `key:` with nothing after it is an error, not "unset".
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Deserialises a style field from a colour string or a map.
fn style_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StyleSpec>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = StyleSpec;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a colour, or a map with fg, bg and modifiers")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<StyleSpec, E> {
            let fg = ColorRef::deserialize(de::value::StrDeserializer::<E>::new(s))?;
            Ok(StyleSpec {
                fg: Some(fg),
                ..StyleSpec::default()
            })
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<StyleSpec, E> {
            self.visit_str(&n.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<StyleSpec, E> {
            Err(E::custom(EMPTY_VALUE))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StyleSpec, A::Error> {
            StyleSpec::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V).map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn colour_depth_comes_from_colorterm_and_term() {
        use ColorDepth::*;
        for (colorterm, term, want) in [
            (Some("truecolor"), Some("xterm-256color"), TrueColor),
            (Some("24bit"), Some("xterm"), TrueColor),
            (None, Some("xterm-direct"), TrueColor),
            (None, Some("xterm-256color"), Ansi256),
            (None, Some("screen-256color"), Ansi256),
            (None, Some("xterm"), Ansi16),
            (None, Some("linux"), Ansi16),
            (None, None, Ansi16),
        ] {
            assert_eq!(
                ColorDepth::detect(colorterm, term),
                want,
                "{colorterm:?} {term:?}"
            );
        }
    }

    #[test]
    fn colours_map_to_the_nearest_of_the_palette() {
        // Exact cube and grey entries map to themselves.
        assert_eq!(nearest_256(255, 0, 0), 196);
        assert_eq!(nearest_256(0, 135, 175), 31);
        assert_eq!(nearest_256(128, 128, 128), 244);
        assert_eq!(rgb_of_256(31), (0, 135, 175));
        assert_eq!(nearest_16(250, 10, 10), Color::LightRed);
        assert_eq!(nearest_16(10, 10, 10), Color::Black);
        assert_eq!(
            reduce(Color::Indexed(196), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(reduce(Color::Green, ColorDepth::Ansi16), Color::Green);
    }

    #[test]
    fn every_built_in_theme_at_each_depth_uses_only_that_depths_colours() {
        for name in Theme::names() {
            let (theme, _) = Theme::load_with(name, &[], false);
            let colours = |t: &Theme| -> Vec<Color> {
                t.styles()
                    .iter()
                    .flat_map(|s| [s.fg, s.bg, s.underline_color])
                    .flatten()
                    .collect()
            };
            let c256 = colours(&theme.clone().for_depth(ColorDepth::Ansi256));
            assert!(
                c256.iter().all(|c| !matches!(c, Color::Rgb(..))),
                "{name}: {c256:?}"
            );
            let c16 = colours(&theme.clone().for_depth(ColorDepth::Ansi16));
            assert!(
                c16.iter()
                    .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(16..))),
                "{name}: {c16:?}"
            );
            assert_eq!(theme.clone().for_depth(ColorDepth::TrueColor), theme);
        }
    }

    /// A temporary theme directory (removed when the guard drops) holding `files`.
    fn dir_with(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        let dir = tmp.path().to_owned();
        (tmp, dir)
    }

    fn load(name: &str, dirs: &[PathBuf]) -> (Theme, Vec<String>) {
        Theme::load_with(name, dirs, false)
    }

    #[test]
    fn every_built_in_loads_cleanly_and_sets_every_field() {
        assert_eq!(Theme::names()[0], DEFAULT_THEME);
        for name in Theme::names() {
            let mut warnings = Vec::new();
            let file = built_in_chain(name, 0, &mut warnings).unwrap();
            assert_eq!(
                file.unset(),
                Vec::<&str>::new(),
                "{name} leaves fields unset"
            );
            let theme = file.resolve(name, &mut warnings);
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert_eq!(load(name, &[]), (theme, Vec::new()));
        }
        assert_eq!(Theme::default().name, "dark");
    }

    #[test]
    fn built_ins_keep_diff_and_selection_apart() {
        for name in Theme::names() {
            let t = load(name, &[]).0;
            let styles = [t.text, t.diff_insert, t.diff_delete];
            for (i, a) in styles.iter().enumerate() {
                for b in &styles[i + 1..] {
                    assert_ne!(a, b, "{name}: two of text / insert / delete look alike");
                }
            }
            assert_ne!(t.selection, t.text, "{name}");
        }
    }

    #[test]
    fn every_theme_marks_insertions_and_deletions_besides_colour() {
        for name in Theme::names() {
            let (t, _) = Theme::load_with(name, &[], false);
            assert!(!t.diff_insert.add_modifier.is_empty(), "{name}");
            assert!(!t.diff_delete.add_modifier.is_empty(), "{name}");
            assert_ne!(
                t.diff_insert.add_modifier, t.diff_delete.add_modifier,
                "{name}: told apart without colour"
            );
        }
        // A user theme that sets colours only gets the marks too.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("mine.yaml"),
            "inherits: dark\ndiff_insert: { fg: blue }\ndiff_delete: { fg: yellow }\n",
        )
        .expect("write");
        let (t, _) = Theme::load_with("mine", &[dir.path().to_owned()], false);
        assert!(t.diff_insert.add_modifier.contains(Modifier::UNDERLINED));
        assert!(t.diff_delete.add_modifier.contains(Modifier::CROSSED_OUT));
    }

    #[test]
    fn monochrome_has_no_colour() {
        let t = load("monochrome", &[]).0;
        let all = [
            t.text,
            t.muted,
            t.border,
            t.border_focused,
            t.title,
            t.selection,
            t.status_bar,
            t.status_key,
            t.toast_error,
            t.toast_info,
            t.diff_insert,
            t.diff_delete,
            t.pass,
            t.fail,
            t.warn,
            t.accent,
            t.header,
            t.tab_active,
            t.tab_inactive,
            t.cursor_line,
        ];
        assert!(all.iter().all(|s| s.fg.is_none() && s.bg.is_none()));
    }

    #[test]
    fn no_color_forces_monochrome_even_over_user_files() {
        let (_tmp, dir) = dir_with(&[("mine.yaml", "text: red\n")]);
        let (t, warnings) = Theme::load_with("mine", &[dir], true);
        assert_eq!(t, load("monochrome", &[]).0);
        assert!(warnings.is_empty());
        let (t, _) = Theme::load_with("light", &[], true);
        assert_eq!(t.name, "monochrome");
    }

    #[test]
    fn user_theme_overrides_only_what_it_sets() {
        let (_tmp, dir) = dir_with(&[(
            "mine.yaml",
            "inherits: light\nselection: { fg: \"#102030\", modifiers: [underline] }\n",
        )]);
        let (t, warnings) = load("mine", &[dir]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let light = load("light", &[]).0;
        assert_eq!(t.name, "mine");
        assert_eq!(
            t.selection,
            Style::default()
                .fg(Color::Rgb(0x10, 0x20, 0x30))
                .add_modifier(Modifier::UNDERLINED)
        );
        assert_eq!(t.text, light.text);
        assert_eq!(t.diff_insert, light.diff_insert);
    }

    #[test]
    fn without_inherits_a_user_theme_builds_on_dark_or_its_namesake() {
        let (_tmp, dir) = dir_with(&[
            ("mine.yaml", "fail: lightmagenta\n"),
            ("light.yaml", "pass: lightblue\n"),
        ]);
        let dirs = [dir];
        let dark = load("dark", &[]).0;
        let mine = load("mine", &dirs).0;
        assert_eq!(mine.fail, Style::default().fg(Color::LightMagenta));
        assert_eq!(mine.text, dark.text);
        let light = load("light", &dirs).0;
        assert_eq!(light.pass, Style::default().fg(Color::LightBlue));
        assert_eq!(light.text, load("light", &[]).0.text);
    }

    #[test]
    fn a_child_palette_recolours_inherited_styles() {
        let (_tmp, dir) = dir_with(&[("teal.yaml", "palette: { blue: \"#008080\" }\n")]);
        let t = load("teal", &[dir]).0;
        assert_eq!(t.border_focused.fg, Some(Color::Rgb(0, 0x80, 0x80)));
        assert_eq!(
            t.title,
            Style::default()
                .fg(Color::Rgb(0, 0x80, 0x80))
                .add_modifier(Modifier::BOLD)
        );
    }

    #[test]
    fn user_themes_can_inherit_user_themes_and_cycles_fall_back() {
        let (_tmp, dir) = dir_with(&[
            ("base.yaml", "inherits: light\naccent: \"#ff0000\"\n"),
            ("child.yaml", "inherits: base\nwarn: 4\n"),
            ("a.yaml", "inherits: b\n"),
            ("b.yaml", "inherits: a\n"),
        ]);
        let dirs = [dir];
        let t = load("child", &dirs).0;
        assert_eq!(
            (t.accent.fg, t.warn.fg),
            (Some(Color::Rgb(255, 0, 0)), Some(Color::Indexed(4)))
        );
        assert_eq!(t.text, load("light", &[]).0.text);
        let (t, warnings) = load("a", &dirs);
        assert_eq!(t.name, "dark");
        assert!(warnings[0].contains("deeper"), "{warnings:?}");
    }

    #[test]
    fn unknown_theme_falls_back_to_dark_with_a_warning() {
        let (t, warnings) = load("solarized", &[PathBuf::from("/nonexistent")]);
        assert_eq!(t, load("dark", &[]).0);
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].contains("unknown theme `solarized`"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("/nonexistent"));
    }

    #[test]
    fn malformed_user_theme_names_file_line_and_column() {
        let (_tmp, dir) = dir_with(&[
            (
                "typo.yaml",
                "palette:\n  x: red\nselection:\n  fg: x\n  bgg: blue\n",
            ),
            ("hex.yaml", "text:\n  fg: \"#12345\"\n"),
            ("comment.yaml", "text:\n  fg: #123456\n"),
            ("modifier.yaml", "title: { modifiers: [blinking] }\n"),
            ("light.yaml", "text: [\n"),
        ]);
        let dirs = [dir.clone()];
        for (name, line, col, needle) in [
            ("typo", 5, 3, "unknown field `bgg`"),
            ("hex", 2, 7, "not a #rrggbb"),
            ("comment", 2, 6, "YAML comment"),
            ("modifier", 1, 21, "unknown modifier `blinking`"),
        ] {
            let (t, warnings) = load(name, &dirs);
            let at = format!(
                "{}:{line}:{col}: ",
                dir.join(format!("{name}.yaml")).display()
            );
            assert!(
                warnings[0].starts_with(&at) && warnings[0].contains(needle),
                "{name}: {warnings:?}"
            );
            assert_eq!(t, load("dark", &[]).0);
        }
        // A broken override of a built-in falls back to that built-in.
        let (t, warnings) = load("light", &dirs);
        assert_eq!(t, load("light", &[]).0);
        assert!(warnings[0].contains("light.yaml:"), "{warnings:?}");
    }

    #[test]
    fn unknown_colour_names_the_field_and_keeps_the_rest() {
        let (_tmp, dir) = dir_with(&[("odd.yaml", "pass: blu\nfail: lightmagenta\n")]);
        let (t, warnings) = load("odd", &[dir]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("pass.fg") && warnings[0].contains("`blu`"),
            "{warnings:?}"
        );
        assert_eq!(t.fail.fg, Some(Color::LightMagenta));
    }

    #[test]
    fn a_theme_may_be_a_path() {
        let (_tmp, dir) = dir_with(&[("team.yaml", "accent: 208\n")]);
        let (t, warnings) = load(&dir.join("team.yaml").display().to_string(), &[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            (t.name.as_str(), t.accent.fg),
            ("team", Some(Color::Indexed(208)))
        );
    }

    #[test]
    fn ascii_borders_are_ascii() {
        let s = border_set(true);
        for part in [
            s.top_left,
            s.top_right,
            s.bottom_left,
            s.bottom_right,
            s.vertical_left,
            s.horizontal_top,
        ] {
            assert!(part.is_ascii());
        }
        assert!(!border_set(false).top_left.is_ascii());
    }
}
