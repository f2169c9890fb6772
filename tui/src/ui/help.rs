//! The `?` overlay: every action with its keys, from the action table.

use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use super::{centered, panel};
use crate::app::action::ACTIONS;
use crate::app::App;

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let mut lines: Vec<Line> = ACTIONS
        .iter()
        .map(|spec| {
            let keys = app
                .keymap
                .keys_of(spec.action)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let key_style = if spec.mutates {
                theme.mutating_key
            } else {
                theme.key
            };
            Line::from(vec![
                Span::styled(format!(" {keys:<14}"), key_style),
                Span::styled(spec.help, theme.text),
            ])
        })
        .collect();
    lines.push(Line::styled(
        " :fleet  :shards [not-ready|draining|ready|all]  :alerts  :node NAME  :q",
        theme.muted,
    ));
    let height = lines.len() as u16 + 2;
    let area = centered(frame.area(), 80, height);
    let block = panel(" Help ", theme).title_bottom(Line::styled(
        " mouse: click selects, again opens, wheel scrolls · any key closes ",
        theme.muted,
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
