//! Drawing. Every function here reads the app and the fleet state and
//! writes to the frame; none does I/O or keeps time of its own ("now" is
//! an argument, so the same state always draws the same screen).

mod alerts;
mod fleet;
pub mod format;
mod help;
mod node;
mod runbook;
mod shard_table;
mod shards;
mod silence;
pub mod theme;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::app::action::ACTIONS;
use crate::app::view::View;
use crate::app::{App, Mode};
use crate::fleet::{FleetState, Health};
use theme::Theme;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &mut App, fleet: &FleetState, theme: &Theme, now_ms: i64) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, fleet, theme, now_ms);
    match app.view() {
        View::Fleet => fleet::draw(frame, body, app, fleet, theme, now_ms),
        View::Node(agent) => node::draw(frame, body, app, fleet, agent, theme, now_ms),
        View::Shards => shards::draw(frame, body, app, fleet, theme, now_ms),
        View::Alerts => alerts::draw(frame, body, app, fleet, theme, now_ms),
    }
    draw_footer(frame, footer, app, theme);
    match &app.mode {
        Mode::Help => help::draw(frame, app, theme),
        Mode::Silence(form) => silence::draw(frame, form, theme),
        Mode::Runbook(flow) => runbook::draw_flow(frame, flow, theme),
        Mode::Progress(pane) => runbook::draw_progress(frame, pane, fleet, theme, now_ms),
        Mode::Audit(pane) => runbook::draw_audit(frame, pane, theme, now_ms),
        Mode::Normal | Mode::Command(_) | Mode::Filter => {}
    }
}

fn draw_header(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) {
    let mut counts = [0usize; 4];
    let mut critical = 0;
    let mut warning = 0;
    let mut undelivered = 0;
    for agent in &fleet.agents {
        counts[agent.health(now_ms) as usize] += 1;
        if let Some(snapshot) = &agent.snapshot {
            let firing = crate::fleet::summary::firing_counts(snapshot);
            critical += firing.critical;
            warning += firing.warning;
            let failing = snapshot
                .receivers
                .iter()
                .any(|r| node::delivery_problem(r, now_ms).is_some());
            undelivered += usize::from(failing);
        }
    }
    let mut spans = vec![
        Span::styled(" opsdeck ", theme.title),
        Span::styled(format!("‹{}› ", view_label(app, fleet)), theme.key),
        Span::styled(format!("nodes {}: ", fleet.agents.len()), theme.text),
        Span::styled(
            format!("{} live", counts[Health::Live as usize]),
            theme.good,
        ),
    ];
    for (health, word, style) in [
        (Health::Stale, "stale", theme.warn),
        (Health::Unreachable, "down", theme.bad),
        (Health::Connecting, "connecting", theme.muted),
    ] {
        let n = counts[health as usize];
        if n > 0 {
            spans.push(Span::styled(format!(" {n} {word}"), style));
        }
    }
    spans.push(Span::styled(" │ alerts ", theme.text));
    spans.push(Span::styled(
        format!("{critical} crit"),
        if critical > 0 {
            theme.critical
        } else {
            theme.muted
        },
    ));
    spans.push(Span::styled(
        format!(" {warning} warn"),
        if warning > 0 { theme.warn } else { theme.muted },
    ));
    if undelivered > 0 {
        // Nodes whose pages do not arrive (kept short for 80 columns);
        // the node view says which receiver and why.
        spans.push(Span::styled(format!(" │ ✉✕{undelivered}"), theme.bad));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn view_label(app: &App, fleet: &FleetState) -> String {
    match app.view() {
        View::Node(agent) => format!("node {}", fleet.agents.get(agent).map_or("?", |a| a.name())),
        other => other.kind().title().to_string(),
    }
}

/// The bottom line: the command or filter being typed, else a message,
/// else the hint bar built from the action table.
fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match &app.mode {
        Mode::Command(input) => Line::from(vec![
            Span::styled(":", theme.key),
            Span::styled(input.clone(), theme.text),
            Span::styled("█", theme.muted),
        ]),
        Mode::Filter => Line::from(vec![
            Span::styled("/", theme.key),
            Span::styled(app.filter(app.view().kind()).to_string(), theme.text),
            Span::styled("█", theme.muted),
        ]),
        _ => match &app.message {
            Some(message) => Line::styled(
                format!(" {}", message.text),
                if message.is_error {
                    theme.bad
                } else {
                    theme.good
                },
            ),
            None => hint_line(app, theme),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hint_line(app: &App, theme: &Theme) -> Line<'static> {
    let kind = app.view().kind();
    let mut spans = vec![Span::raw(" ")];
    let shown = |s: &&crate::app::action::ActionSpec| {
        s.scope.includes(kind) && !(s.mutates && app.read_only)
    };
    for spec in ACTIONS.iter().filter(shown) {
        let (Some(hint), Some(key)) = (spec.hint, app.keymap.keys_of(spec.action).first()) else {
            continue;
        };
        let key_style = if spec.mutates {
            theme.mutating_key
        } else {
            theme.key
        };
        spans.push(Span::styled(format!("<{key}>"), key_style));
        spans.push(Span::styled(format!("{hint} "), theme.muted));
    }
    Line::from(spans)
}

/// A bordered block with a title, the frame of every table and panel.
fn panel<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title.into().style(theme.title))
}

/// The style a row gets from its agent's health: stale and unreachable
/// data stays visible but dimmed.
fn health_row_style(health: Health, theme: &Theme) -> Style {
    match health {
        Health::Live => theme.text,
        Health::Connecting | Health::Stale | Health::Unreachable => theme.muted,
    }
}

fn health_style(health: Health, theme: &Theme) -> Style {
    match health {
        Health::Live => theme.good,
        Health::Connecting => theme.muted,
        Health::Stale => theme.warn,
        Health::Unreachable => theme.bad,
    }
}

/// A centered rectangle for dialogs, clamped to the screen.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// A one-line placeholder for an empty table.
fn empty_line<'a>(text: &'a str, theme: &Theme) -> Paragraph<'a> {
    Paragraph::new(Line::styled(text, theme.muted))
}
