//! Firing and pending alerts across the fleet, with the selected alert's
//! labels, value, summary and runbook below the table.

use opsdeck_agent::api::{AlertState, AlertSummary};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::format::{age_ms, truncate};
use super::theme::Theme;
use super::{empty_line, health_row_style, panel};
use crate::app::view::ViewKind;
use crate::app::App;
use crate::fleet::{AgentEntry, FleetState};
use crate::rows::{alert_rows, severity_rank};

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) {
    let filter = app.filter(ViewKind::Alerts).to_string();
    let rows = alert_rows(fleet, None, &filter);
    let detail_height = if area.height >= 40 { 10 } else { 7 };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(detail_height)]).areas(area);

    let mut title = format!(" Alerts ({}) · severity, then newest ", rows.len());
    if !filter.is_empty() {
        title.push_str(&format!("· /{filter} "));
    }
    let block = panel(title, theme);
    let inner = block.inner(table_area);
    frame.render_widget(block, table_area);
    app.table_body = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    let body_height = app.table_body.height as usize;
    let cursor = app.cursor_mut(ViewKind::Alerts);
    let visible = cursor.visible(rows.len(), body_height);
    let selected = cursor.selected;

    let header = Row::new([
        "SEVERITY", "STATE", "ALERT", "NODE", "SHARD", "AGE", "VALUE",
    ])
    .style(theme.header_row);
    let body = rows[visible.clone()]
        .iter()
        .enumerate()
        .filter_map(|(i, alert_ref)| {
            let (agent, alert) = alert_ref.resolve(fleet)?;
            let row = alert_row(agent, alert, theme, now_ms);
            Some(if visible.start + i == selected {
                row.style(theme.selected)
            } else {
                row
            })
        });
    let widths = [
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Min(14),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(8),
    ];
    frame.render_widget(Table::new(body, widths).header(header), inner);
    if rows.is_empty() {
        let text = if filter.is_empty() {
            " No alerts firing or pending."
        } else {
            " No alert matches the filter."
        };
        frame.render_widget(empty_line(text, theme), inner);
    }

    let selected_alert = rows.get(selected).and_then(|r| r.resolve(fleet));
    draw_detail(frame, detail_area, selected_alert, theme);
}

fn alert_row<'a>(
    agent: &'a AgentEntry,
    alert: &'a AlertSummary,
    theme: &Theme,
    now_ms: i64,
) -> Row<'a> {
    let severity = alert.severity.as_deref().unwrap_or("-");
    let severity_style = match severity_rank(Some(severity)) {
        0 => theme.critical,
        1 | 2 => theme.warn,
        _ => theme.text,
    };
    let state = match (alert.state, alert.silenced) {
        (_, true) => Span::styled("silenced", theme.muted),
        (AlertState::Firing, false) => Span::styled("firing", severity_style),
        (AlertState::Pending, false) => Span::styled("pending", theme.muted),
    };
    Row::new(vec![
        Cell::from(Span::styled(severity, severity_style)),
        Cell::from(state),
        Cell::from(alert.name.as_str()),
        Cell::from(agent.name()),
        Cell::from(alert.labels.get("shard").map_or("-", String::as_str)),
        Cell::from(age_ms(alert.active_at_ms, now_ms)),
        Cell::from(format_value(alert.value)),
    ])
    .style(health_row_style(agent.health(now_ms), theme))
}

/// Fits the 8-wide VALUE column: `0.930`, `42`, `18.6M`.
fn format_value(value: f64) -> String {
    const SI: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    if let Some((scale, unit)) = SI.iter().find(|(scale, _)| value.abs() >= scale * 10.0) {
        return format!("{:.1}{unit}", value / scale);
    }
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

fn draw_detail(
    frame: &mut Frame,
    area: Rect,
    selected: Option<(&AgentEntry, &AlertSummary)>,
    theme: &Theme,
) {
    let block = panel(" Detail ", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some((agent, alert)) = selected else {
        return;
    };
    let labels = alert
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let annotation = |key: &str| alert.annotations.get(key).map(String::as_str);
    let runbook = annotation("runbook_url")
        .or_else(|| annotation("runbook"))
        .unwrap_or("-");
    let field = |name: &'static str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<8} "), theme.key),
            Span::styled(value, theme.text),
        ])
    };
    let lines = vec![
        field(
            "alert",
            format!(
                "{} on {} = {}",
                alert.name,
                agent.name(),
                format_value(alert.value)
            ),
        ),
        field("summary", annotation("summary").unwrap_or("-").to_string()),
        field("labels", truncate(&labels, 400)),
        field("runbook", runbook.to_string()),
        Line::styled(
            "<enter> jump to the node and shard · <s> silence",
            theme.muted,
        ),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn values_fit_the_column() {
        assert_eq!(format_value(0.93), "0.930");
        assert_eq!(format_value(42.0), "42");
        assert_eq!(format_value(9999.0), "9999");
        assert_eq!(format_value(18_621_120.0), "18.6M");
        assert_eq!(format_value(-25_000.0), "-25.0k");
    }
}
