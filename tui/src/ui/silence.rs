//! The silence dialog.

use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::format::truncate;
use super::theme::Theme;
use super::{centered, panel};
use crate::app::silence::{SilenceField, SilenceForm};

pub fn draw(frame: &mut Frame, form: &SilenceForm, theme: &Theme) {
    let area = centered(frame.area(), 72, 11);
    let width = area.width.saturating_sub(14) as usize;
    let matchers = form
        .matchers
        .iter()
        .map(|m| format!("{}=\"{}\"", m.name, m.value))
        .collect::<Vec<_>>()
        .join(", ");
    let input = |label: &'static str, value: &str, field: SilenceField| {
        let focused = form.focus == field;
        let cursor = if focused { "█" } else { "" };
        Line::from(vec![
            Span::styled(
                format!(" {label:<10} "),
                if focused { theme.key } else { theme.text },
            ),
            Span::styled(format!("{}{cursor}", truncate(value, width)), theme.input),
        ])
    };
    let button = |label: &'static str, field: SilenceField, style| {
        Span::styled(
            label,
            if form.focus == field {
                theme.button_focused
            } else {
                style
            },
        )
    };
    let lines = vec![
        Line::styled(
            format!(" matches  {}", truncate(&matchers, width + 2)),
            theme.muted,
        ),
        Line::raw(""),
        input("duration", &form.duration, SilenceField::Duration),
        input("comment", &form.comment, SilenceField::Comment),
        Line::raw(""),
        Line::from(vec![
            Span::raw("            "),
            button("[ Cancel ]", SilenceField::Cancel, theme.text),
            Span::raw("  "),
            button("[ Silence ]", SilenceField::Confirm, theme.mutating_key),
        ]),
        Line::styled(
            form.error
                .as_deref()
                .map_or_else(String::new, |e| format!(" {e}")),
            theme.bad,
        ),
        Line::styled(
            " tab: next field · enter: next / press · esc: cancel",
            theme.muted,
        ),
    ];
    let title = format!(" Silence {} on {} ", form.alert_name, form.node);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title, theme))
            .wrap(Wrap { trim: false }),
        area,
    );
}
