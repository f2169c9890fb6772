//! Keys to actions: the defaults from the action table, with the config's
//! `keys:` section replacing an action's keys.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, ACTIONS};

/// A key with its modifiers, normalized so `G` and `shift-g` are one chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    code: KeyCode,
    modifiers: KeyModifiers,
}

impl KeyChord {
    pub fn from_event(event: &KeyEvent) -> Self {
        Self::normalized(event.code, event.modifiers)
    }

    fn normalized(code: KeyCode, modifiers: KeyModifiers) -> Self {
        let mut modifiers =
            modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        // A character already carries its shift; BackTab carries its own too.
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers.remove(KeyModifiers::SHIFT);
        }
        KeyChord { code, modifiers }
    }

    /// Parses `q`, `G`, `ctrl-c`, `alt-x`, `F1`, `enter`, `pgdn`, `space`….
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, flag) = if lower.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if lower.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            if rest.len() == prefix.len() {
                break;
            }
            modifiers |= flag;
            rest = &rest[prefix.len()..];
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            lower => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => {
                        let c = if modifiers.contains(KeyModifiers::SHIFT) {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        };
                        KeyCode::Char(c)
                    }
                    _ => match lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                        Some(n @ 1..=12) => KeyCode::F(n),
                        _ => return Err(format!("unknown key {text:?}")),
                    },
                }
            }
        };
        Ok(Self::normalized(code, modifiers))
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A `keys:` entry that cannot be used, named as `keys.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keys.{action}: {message}")]
pub struct KeymapError {
    pub action: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    by_chord: HashMap<KeyChord, Action>,
    by_action: HashMap<Action, Vec<KeyChord>>,
}

impl Default for Keymap {
    fn default() -> Self {
        // The action table's defaults are constants; `defaults_are_valid` pins them.
        Keymap::with_overrides(&BTreeMap::new()).expect("default key bindings are valid")
    }
}

impl Keymap {
    /// The default keys, with each action named in `overrides` given the
    /// listed keys instead. A key bound to two actions is an error.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        for name in overrides.keys() {
            if !ACTIONS.iter().any(|spec| spec.name == name) {
                let known: Vec<&str> = ACTIONS.iter().map(|s| s.name).collect();
                return Err(KeymapError {
                    action: name.clone(),
                    message: format!("unknown action; known actions: {}", known.join(", ")),
                });
            }
        }
        let mut keymap = Keymap {
            by_chord: HashMap::new(),
            by_action: HashMap::new(),
        };
        for spec in ACTIONS {
            let keys: Vec<String> = match overrides.get(spec.name) {
                Some(keys) => keys.clone(),
                None => spec.default_keys.iter().map(|k| k.to_string()).collect(),
            };
            let error = |message: String| KeymapError {
                action: spec.name.to_string(),
                message,
            };
            for key in keys {
                let chord = KeyChord::parse(&key).map_err(error)?;
                if let Some(other) = keymap.by_chord.insert(chord, spec.action) {
                    let other_name = super::action::spec_of(other).map_or("?", |s| s.name);
                    return Err(error(format!(
                        "key {key:?} is already bound to {other_name}"
                    )));
                }
                keymap.by_action.entry(spec.action).or_default().push(chord);
            }
        }
        Ok(keymap)
    }

    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        self.by_chord.get(&KeyChord::from_event(key)).copied()
    }

    /// The keys bound to an action, for help and hints.
    pub fn keys_of(&self, action: Action) -> &[KeyChord] {
        self.by_action.get(&action).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Keymap::with_overrides(&BTreeMap::new()).is_ok());
    }

    #[test]
    fn defaults_cover_vim_and_arrows() {
        let keymap = Keymap::default();
        assert_eq!(
            keymap.action_for(&key(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            keymap.action_for(&key(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            keymap.action_for(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            keymap.action_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn override_replaces_the_defaults() {
        let overrides = BTreeMap::from([("quit".to_string(), vec!["ctrl-q".to_string()])]);
        let keymap = Keymap::with_overrides(&overrides).unwrap();
        assert_eq!(
            keymap.action_for(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            keymap.action_for(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn function_keys_and_names_parse() {
        assert_eq!(KeyChord::parse("F1").unwrap().to_string(), "F1");
        assert_eq!(
            KeyChord::parse("shift-g").unwrap(),
            KeyChord::parse("G").unwrap()
        );
        assert_eq!(KeyChord::parse("ctrl-f").unwrap().to_string(), "ctrl-f");
        assert!(KeyChord::parse("F13").is_err());
        assert!(KeyChord::parse("hyper").is_err());
    }

    #[test]
    fn errors_name_the_action() {
        let unknown = BTreeMap::from([("flet".to_string(), vec!["x".to_string()])]);
        assert_eq!(Keymap::with_overrides(&unknown).unwrap_err().action, "flet");
        let clash = BTreeMap::from([("fleet".to_string(), vec!["j".to_string()])]);
        let err = Keymap::with_overrides(&clash).unwrap_err().to_string();
        assert!(err.starts_with("keys."), "{err}");
        assert!(err.contains("already bound"), "{err}");
        let bad = BTreeMap::from([("help".to_string(), vec!["F99".to_string()])]);
        assert!(Keymap::with_overrides(&bad)
            .unwrap_err()
            .to_string()
            .contains("keys.help"));
    }
}
