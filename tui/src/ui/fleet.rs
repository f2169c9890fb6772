//! The fleet view: one row per node, sortable by any column, filterable.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::format::{age, bytes, opt_bytes, percent, sparkline};
use super::theme::Theme;
use super::{empty_line, health_row_style, health_style, panel};
use crate::app::view::ViewKind;
use crate::app::App;
use crate::fleet::summary::NodeSummary;
use crate::fleet::{AgentEntry, FleetState, Health};
use crate::rows::{fleet_rows, FleetColumn};

/// Widths of every column but the sparkline; the sparkline takes what is left.
const WIDTHS: [u16; 9] = [12, 7, 4, 10, 6, 8, 6, 7, 7];
const MAX_SPARK: u16 = 40;

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) {
    let filter = app.filter(ViewKind::Fleet).to_string();
    let sort = app.fleet_sort;
    let rows = fleet_rows(fleet, now_ms, &filter, sort);
    let mut title = format!(
        " Fleet ({}) · sort {}{} ",
        rows.len(),
        sort.column.title(),
        if sort.descending { "↓" } else { "↑" }
    );
    if !filter.is_empty() {
        title.push_str(&format!("· /{filter} "));
    }
    let block = panel(title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if fleet.agents.is_empty() {
        frame.render_widget(
            empty_line(
                " No agents configured: pass --agent URL or list agents in the config file.",
                theme,
            ),
            inner,
        );
        return;
    }

    // Inner width less the column gaps and the fixed columns.
    let fixed: u16 = WIDTHS.iter().sum::<u16>() + WIDTHS.len() as u16;
    let wide = inner.width.saturating_sub(fixed);
    let spark_width = wide.min(MAX_SPARK);
    let node_width = WIDTHS[0] + wide.saturating_sub(spark_width).min(24);

    let body_height = inner.height.saturating_sub(1) as usize;
    app.table_body = Rect {
        y: inner.y + 1,
        height: body_height as u16,
        ..inner
    };
    let cursor = app.cursor_mut(ViewKind::Fleet);
    let visible = cursor.visible(rows.len(), body_height);
    let selected = cursor.selected;

    let header = Row::new(FleetColumn::ALL.iter().map(|column| {
        let mut title = column.title().to_string();
        if *column == sort.column {
            title.push(if sort.descending { '↓' } else { '↑' });
        }
        Cell::from(title)
    }))
    .style(theme.header_row);
    let body = rows[visible.clone()]
        .iter()
        .enumerate()
        .map(|(i, (agent, summary))| {
            let row = row(&fleet.agents[*agent], summary, spark_width as usize, theme);
            if visible.start + i == selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let widths = [
        Constraint::Length(node_width),
        Constraint::Length(WIDTHS[1]),
        Constraint::Length(WIDTHS[2] + if spark_width > 0 { spark_width + 1 } else { 0 }),
        Constraint::Length(WIDTHS[3]),
        Constraint::Length(WIDTHS[4]),
        Constraint::Length(WIDTHS[5]),
        Constraint::Length(WIDTHS[6]),
        Constraint::Length(WIDTHS[7]),
        Constraint::Length(WIDTHS[8]),
    ];
    frame.render_widget(Table::new(body, widths).header(header), inner);
    if rows.is_empty() {
        let below_header = Rect {
            y: inner.y + 1,
            height: 1,
            ..inner
        };
        frame.render_widget(
            empty_line(" No node matches the filter.", theme),
            below_header,
        );
    }
}

fn row<'a>(agent: &'a AgentEntry, s: &NodeSummary, spark_width: usize, theme: &Theme) -> Row<'a> {
    let base = health_row_style(s.health, theme);
    let status = match s.health {
        Health::Live => "● live",
        Health::Connecting => "… conn",
        Health::Stale => "◐ STALE",
        Health::Unreachable => "✕ DOWN",
    };
    let mut cpu = vec![Span::raw(format!("{:>4}", percent(s.cpu_percent)))];
    if spark_width > 0 {
        let tail = agent.history.cpu_tail(spark_width);
        let max = tail.iter().copied().max().unwrap_or(0).max(100);
        cpu.push(Span::raw(" "));
        cpu.push(Span::styled(
            format!("{:<spark_width$}", sparkline(&tail, max)),
            theme.chart_cpu,
        ));
    }
    let heap = match (s.heap_used_bytes, s.heap_limit_bytes) {
        (Some(used), Some(limit)) => format!("{}/{}", bytes(used), bytes(limit)),
        (used, _) => opt_bytes(used),
    };
    let pools = match (s.pool_utilization, s.pool_waiting) {
        (None, _) => "-".to_string(),
        (Some(u), Some(w)) if w > 0.0 => format!("{:.0}% w{w:.0}", u * 100.0),
        (Some(u), _) => format!("{:.0}%", u * 100.0),
    };
    let pools_style = match s.pool_utilization {
        Some(u) if u >= 0.9 || s.pool_waiting.unwrap_or(0.0) > 0.0 => theme.warn,
        _ => base,
    };
    let shards = if s.shards_total == 0 {
        "-".to_string()
    } else {
        format!("{}/{}", s.shards_ready, s.shards_total)
    };
    let shards_style = if s.shards_ready < s.shards_total {
        theme.warn
    } else {
        base
    };
    let mut alert_spans = Vec::new();
    if s.alerts.critical > 0 {
        alert_spans.push(Span::styled(
            format!("{}c ", s.alerts.critical),
            theme.critical,
        ));
    }
    if s.alerts.warning > 0 {
        alert_spans.push(Span::styled(format!("{}w ", s.alerts.warning), theme.warn));
    }
    if s.alerts.other > 0 {
        alert_spans.push(Span::styled(format!("{}i", s.alerts.other), base));
    }
    if alert_spans.is_empty() {
        alert_spans.push(Span::styled("-", theme.muted));
    }
    let updated = match s.age_seconds {
        Some(seconds) => format!("{} ago", age(seconds)),
        None => "never".into(),
    };
    let updated_style = match s.health {
        Health::Live => base,
        other => health_style(other, theme),
    };
    Row::new(vec![
        Cell::from(agent.name()),
        Cell::from(Span::styled(status, health_style(s.health, theme))),
        Cell::from(Line::from(cpu)),
        Cell::from(heap),
        Cell::from(s.rss_bytes.map_or_else(|| "-".into(), |b| bytes(b as f64))),
        Cell::from(Span::styled(pools, pools_style)),
        Cell::from(Span::styled(shards, shards_style)),
        Cell::from(Line::from(alert_spans)),
        Cell::from(Span::styled(updated, updated_style)),
    ])
    .style(base)
}
