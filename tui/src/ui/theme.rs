//! Colours. Every style the views use comes from here, so a theme is one
//! value and `NO_COLOR` (or `theme: mono`) turns colour off everywhere,
//! leaving bold, reverse and dim to carry meaning.

use ratatui::style::{Color, Modifier, Style};

use crate::config::ThemeName;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub text: Style,
    pub muted: Style,
    pub border: Style,
    pub title: Style,
    pub header_row: Style,
    pub selected: Style,
    pub good: Style,
    pub warn: Style,
    pub bad: Style,
    pub critical: Style,
    pub key: Style,
    pub mutating_key: Style,
    pub chart_cpu: Style,
    pub chart_heap: Style,
    pub gauge: Style,
    pub input: Style,
    pub button_focused: Style,
}

impl Theme {
    /// The configured theme, or `mono` when `NO_COLOR` is set and non-empty
    /// (<https://no-color.org>).
    pub fn resolve(name: ThemeName, no_color: bool) -> Theme {
        if no_color {
            return Theme::mono();
        }
        match name {
            ThemeName::Dark => Theme::colored(Color::White, Color::Cyan),
            ThemeName::Light => Theme::colored(Color::Black, Color::Blue),
            ThemeName::Mono => Theme::mono(),
        }
    }

    fn colored(text: Color, accent: Color) -> Theme {
        let plain = Style::new().fg(text);
        Theme {
            text: plain,
            muted: Style::new().fg(Color::DarkGray),
            border: Style::new().fg(accent),
            title: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            header_row: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            bad: Style::new().fg(Color::Red),
            critical: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            key: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            mutating_key: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            chart_cpu: Style::new().fg(Color::Green),
            chart_heap: Style::new().fg(Color::Magenta),
            gauge: Style::new().fg(accent),
            input: Style::new().fg(text).add_modifier(Modifier::UNDERLINED),
            button_focused: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }

    fn mono() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            text: plain,
            muted: Style::new().add_modifier(Modifier::DIM),
            border: plain,
            title: bold,
            header_row: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            good: plain,
            warn: bold,
            bad: bold,
            critical: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            key: bold,
            mutating_key: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            chart_cpu: plain,
            chart_heap: plain,
            gauge: plain,
            input: Style::new().add_modifier(Modifier::UNDERLINED),
            button_focused: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }
}

/// True when the `NO_COLOR` convention asks for no colour.
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
