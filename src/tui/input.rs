//! Loupe's own input events: what `update`, the keymap and every screen read.
//!
//! Terminal input becomes these once, at the edge: [`from_crossterm`] for a local terminal
//! (crossterm's `EventStream`), and the SSH server builds the same events from the bytes a
//! client sends. Tests script them directly. Nothing past the edge knows which terminal
//! library, if any, produced a key.
//!
//! A [`Key`] is normalised when it is made: shift with a character is the upper-case
//! character (`shift-n` is `N`), shift-tab is [`KeyCode::BackTab`]. So a keymap's `N` and
//! a terminal's "shift + n" are one key, however the terminal reported it.

use std::fmt;
use std::ops::{BitOr, BitOrAssign, Sub};

/// One input event, as the App takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// A key press (or auto-repeat); releases never reach the App.
    Key(Key),
    /// Text pasted at once (bracketed paste): inserted as typed text, never run as keys.
    Paste(String),
    /// The terminal's new size, columns and rows.
    Resize { width: u16, height: u16 },
    /// A mouse action at a cell (0-based column and row).
    Mouse(Mouse),
}

/// A key with its modifiers, normalised (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: Modifiers,
}

/// Which key, whatever the modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Home,
    End,
    PageUp,
    PageDown,
    Up,
    Down,
    Left,
    Right,
    /// F1 to F24.
    F(u8),
}

/// Modifier keys held with a key: a small set of flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Modifiers(u8);

impl Modifiers {
    pub const NONE: Modifiers = Modifiers(0);
    pub const SHIFT: Modifiers = Modifiers(1);
    pub const CTRL: Modifiers = Modifiers(1 << 1);
    pub const ALT: Modifiers = Modifiers(1 << 2);
    pub const SUPER: Modifiers = Modifiers(1 << 3);
    pub const HYPER: Modifiers = Modifiers(1 << 4);
    pub const META: Modifiers = Modifiers(1 << 5);

    /// Every flag of `other` is set here.
    pub fn contains(self, other: Modifiers) -> bool {
        self.0 & other.0 == other.0
    }

    /// Some flag of `other` is set here.
    pub fn intersects(self, other: Modifiers) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Modifiers {
    type Output = Modifiers;
    fn bitor(self, rhs: Modifiers) -> Modifiers {
        Modifiers(self.0 | rhs.0)
    }
}

impl BitOrAssign for Modifiers {
    fn bitor_assign(&mut self, rhs: Modifiers) {
        self.0 |= rhs.0;
    }
}

impl Sub for Modifiers {
    type Output = Modifiers;
    fn sub(self, rhs: Modifiers) -> Modifiers {
        Modifiers(self.0 & !rhs.0)
    }
}

impl fmt::Debug for Modifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Modifiers::SHIFT, "SHIFT"),
            (Modifiers::CTRL, "CTRL"),
            (Modifiers::ALT, "ALT"),
            (Modifiers::SUPER, "SUPER"),
            (Modifiers::HYPER, "HYPER"),
            (Modifiers::META, "META"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(m, _)| self.contains(*m))
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&set.join(" | "))
        }
    }
}

impl Key {
    /// A key as pressed, normalised: shift folds into an upper-case character, shift-tab
    /// is back-tab.
    pub fn new(code: KeyCode, mods: Modifiers) -> Key {
        match code {
            KeyCode::Char(c) if mods.contains(Modifiers::SHIFT) => {
                let mut upper = c.to_uppercase();
                let c = match (upper.next(), upper.next()) {
                    (Some(u), None) => u,
                    _ => c,
                };
                Key {
                    code: KeyCode::Char(c),
                    mods: mods - Modifiers::SHIFT,
                }
            }
            KeyCode::Tab if mods.contains(Modifiers::SHIFT) => Key {
                code: KeyCode::BackTab,
                mods: mods - Modifiers::SHIFT,
            },
            KeyCode::BackTab => Key {
                code,
                mods: mods - Modifiers::SHIFT,
            },
            _ => Key { code, mods },
        }
    }

    /// A key without modifiers.
    pub fn plain(code: KeyCode) -> Key {
        Key::new(code, Modifiers::NONE)
    }

    /// A character typed without modifiers (an upper-case one is shift + the letter).
    pub fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    /// Control + a character.
    pub fn ctrl(c: char) -> Key {
        Key::new(KeyCode::Char(c), Modifiers::CTRL)
    }

    /// The character this key types as text, if it types one (no control, alt or super).
    pub fn typed_char(self) -> Option<char> {
        match self.code {
            KeyCode::Char(c)
                if !self
                    .mods
                    .intersects(Modifiers::CTRL | Modifiers::ALT | Modifiers::SUPER) =>
            {
                Some(c)
            }
            _ => None,
        }
    }

    pub fn is_ctrl(self, c: char) -> bool {
        self.code == KeyCode::Char(c) && self.mods.contains(Modifiers::CTRL)
    }
}

/// A mouse action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mouse {
    pub kind: MouseKind,
    pub column: u16,
    pub row: u16,
    pub mods: Modifiers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseKind {
    Down,
    Up,
    Drag,
    Moved,
    ScrollUp,
    ScrollDown,
    ScrollLeft,
    ScrollRight,
}

/// The key as the template editor's text area takes it.
pub fn textarea_input(key: Key) -> ratatui_textarea::Input {
    use ratatui_textarea::Key as T;
    let k = match key.code {
        KeyCode::Char(c) => T::Char(c),
        KeyCode::Enter => T::Enter,
        KeyCode::Esc => T::Esc,
        KeyCode::Tab | KeyCode::BackTab => T::Tab,
        KeyCode::Backspace => T::Backspace,
        KeyCode::Delete => T::Delete,
        KeyCode::Insert => T::Null,
        KeyCode::Home => T::Home,
        KeyCode::End => T::End,
        KeyCode::PageUp => T::PageUp,
        KeyCode::PageDown => T::PageDown,
        KeyCode::Up => T::Up,
        KeyCode::Down => T::Down,
        KeyCode::Left => T::Left,
        KeyCode::Right => T::Right,
        KeyCode::F(n) => T::F(n),
    };
    ratatui_textarea::Input {
        key: k,
        ctrl: key.mods.contains(Modifiers::CTRL),
        alt: key.mods.contains(Modifiers::ALT),
        // Shift was folded into upper-case characters and back-tab; the text area reads it
        // back from there as crossterm's own conversion would give it.
        shift: key.mods.contains(Modifiers::SHIFT)
            || key.code == KeyCode::BackTab
            || matches!(key.code, KeyCode::Char(c) if c.is_uppercase()),
    }
}

/// A crossterm event as Loupe's own, or `None` for what the App does not use (key
/// releases, focus changes). The only place crossterm's event types are read.
pub fn from_crossterm(event: crossterm::event::Event) -> Option<InputEvent> {
    use crossterm::event::Event as E;
    match event {
        E::Key(k) => key_from_crossterm(k).map(InputEvent::Key),
        E::Paste(text) => Some(InputEvent::Paste(text)),
        E::Resize(width, height) => Some(InputEvent::Resize { width, height }),
        E::Mouse(m) => Some(InputEvent::Mouse(mouse_from_crossterm(m))),
        E::FocusGained | E::FocusLost => None,
    }
}

/// A stream of crossterm events (a local terminal's `EventStream`, or events parsed from
/// an SSH client's bytes) as Loupe's own, ending at the first read error: the terminal is
/// gone.
pub fn from_crossterm_stream<S>(events: S) -> impl futures::Stream<Item = InputEvent> + Unpin
where
    S: futures::Stream<Item = std::io::Result<crossterm::event::Event>> + Unpin,
{
    use futures::StreamExt;
    events
        .take_while(|ev| std::future::ready(ev.is_ok()))
        .filter_map(|ev| std::future::ready(ev.ok().and_then(from_crossterm)))
}

/// A crossterm key press as a [`Key`]; `None` for a release or a key Loupe has no name
/// for (media keys, lone modifiers, caps lock, ...).
pub fn key_from_crossterm(k: crossterm::event::KeyEvent) -> Option<Key> {
    use crossterm::event::{KeyCode as C, KeyEventKind};
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let code = match k.code {
        C::Char(c) => KeyCode::Char(c),
        C::Enter => KeyCode::Enter,
        C::Esc => KeyCode::Esc,
        C::Tab => KeyCode::Tab,
        C::BackTab => KeyCode::BackTab,
        C::Backspace => KeyCode::Backspace,
        C::Delete => KeyCode::Delete,
        C::Insert => KeyCode::Insert,
        C::Home => KeyCode::Home,
        C::End => KeyCode::End,
        C::PageUp => KeyCode::PageUp,
        C::PageDown => KeyCode::PageDown,
        C::Up => KeyCode::Up,
        C::Down => KeyCode::Down,
        C::Left => KeyCode::Left,
        C::Right => KeyCode::Right,
        C::F(n) => KeyCode::F(n),
        _ => return None,
    };
    Some(Key::new(code, mods_from_crossterm(k.modifiers)))
}

fn mods_from_crossterm(m: crossterm::event::KeyModifiers) -> Modifiers {
    use crossterm::event::KeyModifiers as M;
    let mut out = Modifiers::NONE;
    for (theirs, ours) in [
        (M::SHIFT, Modifiers::SHIFT),
        (M::CONTROL, Modifiers::CTRL),
        (M::ALT, Modifiers::ALT),
        (M::SUPER, Modifiers::SUPER),
        (M::HYPER, Modifiers::HYPER),
        (M::META, Modifiers::META),
    ] {
        if m.contains(theirs) {
            out |= ours;
        }
    }
    out
}

fn mouse_from_crossterm(m: crossterm::event::MouseEvent) -> Mouse {
    use crossterm::event::MouseEventKind as K;
    let kind = match m.kind {
        K::Down(_) => MouseKind::Down,
        K::Up(_) => MouseKind::Up,
        K::Drag(_) => MouseKind::Drag,
        K::Moved => MouseKind::Moved,
        K::ScrollUp => MouseKind::ScrollUp,
        K::ScrollDown => MouseKind::ScrollDown,
        K::ScrollLeft => MouseKind::ScrollLeft,
        K::ScrollRight => MouseKind::ScrollRight,
    };
    Mouse {
        kind,
        column: m.column,
        row: m.row,
        mods: mods_from_crossterm(m.modifiers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{
        Event as CEvent, KeyCode as CCode, KeyEvent, KeyEventKind, KeyModifiers as CMods,
    };

    #[test]
    fn shift_folds_into_the_character_and_into_back_tab() {
        assert_eq!(
            Key::new(KeyCode::Char('n'), Modifiers::SHIFT),
            Key::char('N')
        );
        assert_eq!(
            Key::new(KeyCode::Tab, Modifiers::SHIFT),
            Key::plain(KeyCode::BackTab)
        );
        assert_eq!(
            Key::new(KeyCode::BackTab, Modifiers::SHIFT),
            Key::plain(KeyCode::BackTab)
        );
        assert_eq!(
            Key::new(KeyCode::Up, Modifiers::SHIFT).mods,
            Modifiers::SHIFT,
            "shift stays on keys it cannot fold into"
        );
    }

    #[test]
    fn crossterm_events_convert_once_at_the_edge() {
        let key = |code, mods| CEvent::Key(KeyEvent::new(code, mods));
        assert_eq!(
            from_crossterm(key(CCode::Char('s'), CMods::CONTROL)),
            Some(InputEvent::Key(Key::ctrl('s')))
        );
        assert_eq!(
            from_crossterm(key(CCode::Char('n'), CMods::SHIFT)),
            Some(InputEvent::Key(Key::char('N')))
        );
        let mut release = KeyEvent::new(CCode::Char('x'), CMods::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(from_crossterm(CEvent::Key(release)), None);
        assert_eq!(
            from_crossterm(CEvent::Paste("a\nb".into())),
            Some(InputEvent::Paste("a\nb".into()))
        );
        assert_eq!(
            from_crossterm(CEvent::Resize(100, 30)),
            Some(InputEvent::Resize {
                width: 100,
                height: 30
            })
        );
        assert_eq!(from_crossterm(CEvent::FocusLost), None);
    }

    #[test]
    fn typed_characters_are_those_without_command_modifiers() {
        assert_eq!(Key::char('x').typed_char(), Some('x'));
        assert_eq!(Key::char('X').typed_char(), Some('X'));
        assert_eq!(Key::ctrl('x').typed_char(), None);
        assert_eq!(Key::plain(KeyCode::Enter).typed_char(), None);
    }

    #[test]
    fn the_editor_gets_the_key_with_its_modifiers() {
        let input = textarea_input(Key::ctrl('z'));
        assert_eq!(input.key, ratatui_textarea::Key::Char('z'));
        assert!(input.ctrl && !input.alt);
        let back = textarea_input(Key::plain(KeyCode::BackTab));
        assert!(back.shift);
    }
}
