//! One node: CPU and heap charts from the fleet state's history, pool
//! gauges, the shard table, and the node's alerts and actions.

use opsdeck_agent::api::{AlertState, PoolStats, ReceiverSummary, Snapshot};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LineGauge, Paragraph};
use ratatui::Frame;

use super::format::{age, age_ms, bytes, count, percent, truncate};
use super::shard_table::{self, ShardTable};
use super::theme::Theme;
use super::{empty_line, health_style, panel};
use crate::app::view::ViewKind;
use crate::app::App;
use crate::fleet::{AgentEntry, AgentId, FleetState, Health, Link};
use crate::rows::shard_rows;

/// The charts show at most this much history.
const CHART_WINDOW_S: f64 = 300.0;

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    fleet: &FleetState,
    agent_id: AgentId,
    theme: &Theme,
    now_ms: i64,
) {
    let Some(agent) = fleet.agents.get(agent_id) else {
        frame.render_widget(empty_line(" This node is not in the fleet.", theme), area);
        return;
    };
    let tall = area.height >= 40;
    let chart_height = if tall { 12 } else { 6 };
    let pool_count = agent.snapshot.as_ref().map_or(0, |s| s.pools.len()) as u16;
    let lower_height = if tall {
        (pool_count.max(4) + 2).min(12)
    } else {
        5
    };
    let [status, charts, lower, shards] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(chart_height),
        Constraint::Length(lower_height),
        Constraint::Min(3),
    ])
    .areas(area);

    draw_status(frame, status, agent, theme, now_ms);
    let [cpu_area, heap_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    draw_cpu_chart(frame, cpu_area, agent, theme, now_ms);
    draw_heap_chart(frame, heap_area, agent, theme, now_ms);
    let [pools_area, alerts_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(lower);
    draw_pools(frame, pools_area, agent.snapshot.as_ref(), theme);
    draw_alerts_and_actions(frame, alerts_area, agent.snapshot.as_ref(), theme, now_ms);

    let filter = app.filter(ViewKind::Node).to_string();
    let rows = shard_rows(fleet, Some(agent_id), &filter, app.state_filter);
    let mut title = format!(
        " Shards ({}) · state: {} ",
        rows.len(),
        app.state_filter.label()
    );
    if !filter.is_empty() {
        title.push_str(&format!("· /{filter} "));
    }
    let table = ShardTable {
        rows: &rows,
        with_node: false,
        block: panel(title, theme),
        empty_text: " No shards.",
    };
    let mut cursor = app.cursor(ViewKind::Node);
    app.table_body = shard_table::draw(frame, shards, table, &mut cursor, fleet, theme, now_ms);
    *app.cursor_mut(ViewKind::Node) = cursor;
}

/// Two lines: identity and freshness, then host load and process facts.
/// Stale and unreachable states are spelled out with the data's age.
fn draw_status(frame: &mut Frame, area: Rect, agent: &AgentEntry, theme: &Theme, now_ms: i64) {
    let health = agent.health(now_ms);
    let updated = agent.age_seconds(now_ms).map_or_else(
        || "no data yet".to_string(),
        |s| format!("updated {} ago", age(s)),
    );
    let mut first = vec![
        Span::styled(format!(" {} ", agent.name()), theme.title),
        Span::styled(format!("{} ", agent.url), theme.muted),
        Span::styled(health.label(), health_style(health, theme)),
        Span::styled(format!(" · {updated}"), theme.text),
    ];
    match (&agent.link, health) {
        (Link::Unreachable { error, since_ms }, _) => first.push(Span::styled(
            format!(
                " · down {}: {} · showing last data",
                age_ms(*since_ms, now_ms),
                error
            ),
            theme.bad,
        )),
        (_, Health::Stale) => first.push(Span::styled(" · showing last data", theme.warn)),
        _ => {}
    }
    let second = match &agent.snapshot {
        Some(snapshot) => {
            let mut facts = Vec::new();
            if let Some(host) = &snapshot.host {
                facts.push(format!(
                    "load {:.2} {:.2} {:.2}",
                    host.load[0], host.load[1], host.load[2]
                ));
                facts.push(format!(
                    "mem {}/{}",
                    bytes(host.memory_used_bytes as f64),
                    bytes(host.memory_total_bytes as f64)
                ));
            }
            if let Some(process) = &snapshot.process {
                facts.push(format!("restarts {}", process.restarts_seen));
                if let Some(rss) = process.rss_bytes {
                    facts.push(format!("rss {}", bytes(rss as f64)));
                }
                if let Some(lag) = process.event_loop_lag_seconds {
                    facts.push(format!("loop lag {:.0}ms", lag * 1000.0));
                }
            }
            facts.push(format!("host {}", snapshot.node.hostname));
            facts.push(format!("agent {}", snapshot.node.agent_version));
            Line::styled(format!(" {}", facts.join(" · ")), theme.muted)
        }
        None => Line::styled(" Waiting for the first snapshot.", theme.muted),
    };
    frame.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

/// (seconds before now, value) points within the chart window.
fn points(
    agent: &AgentEntry,
    now_ms: i64,
    value: impl Fn(&crate::fleet::Sample) -> Option<f64>,
) -> Vec<(f64, f64)> {
    agent
        .history
        .samples()
        .filter_map(|s| {
            let x = (s.at_ms - now_ms) as f64 / 1000.0;
            (x >= -CHART_WINDOW_S).then_some(())?;
            Some((x, value(s)?))
        })
        .collect()
}

fn draw_cpu_chart(frame: &mut Frame, area: Rect, agent: &AgentEntry, theme: &Theme, now_ms: i64) {
    let data = points(agent, now_ms, |s| s.cpu_percent);
    let current = data.last().map(|p| p.1);
    let top = data.iter().map(|p| p.1).fold(100.0, f64::max);
    let title = format!(" CPU {} ", percent(current));
    draw_chart(
        frame,
        area,
        &data,
        title,
        [0.0, top],
        [String::from("0"), format!("{top:.0}%")],
        theme.chart_cpu,
        theme,
    );
}

fn draw_heap_chart(frame: &mut Frame, area: Rect, agent: &AgentEntry, theme: &Theme, now_ms: i64) {
    let data = points(agent, now_ms, |s| s.heap_used_bytes);
    let limit = agent
        .snapshot
        .as_ref()
        .and_then(|s| s.process.as_ref())
        .and_then(|p| p.heap_limit_bytes.or(p.heap_total_bytes));
    let top = data
        .iter()
        .map(|p| p.1)
        .fold(limit.unwrap_or(0.0), f64::max)
        .max(1.0);
    let current = data.last().map(|p| p.1);
    let title = match (current, limit) {
        (Some(used), Some(limit)) => format!(" Heap {} / {} ", bytes(used), bytes(limit)),
        (Some(used), None) => format!(" Heap {} ", bytes(used)),
        _ => " Heap - ".to_string(),
    };
    draw_chart(
        frame,
        area,
        &data,
        title,
        [0.0, top],
        [String::from("0"), bytes(top)],
        theme.chart_heap,
        theme,
    );
}

#[allow(clippy::too_many_arguments)]
fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    data: &[(f64, f64)],
    title: String,
    y_bounds: [f64; 2],
    y_labels: [String; 2],
    style: ratatui::style::Style,
    theme: &Theme,
) {
    let block = panel(title, theme);
    if data.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(empty_line(" no history yet", theme), inner);
        return;
    }
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(style)
        .data(data);
    let chart = Chart::new(vec![dataset])
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([-CHART_WINDOW_S, 0.0])
                .labels(["-5m", "now"])
                .style(theme.muted),
        )
        .y_axis(
            Axis::default()
                .bounds(y_bounds)
                .labels(y_labels)
                .style(theme.muted),
        );
    frame.render_widget(chart, area);
}

fn draw_pools(frame: &mut Frame, area: Rect, snapshot: Option<&Snapshot>, theme: &Theme) {
    let block = panel(" Pools ", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let pools = snapshot.map_or(&[][..], |s| s.pools.as_slice());
    if pools.is_empty() {
        frame.render_widget(empty_line(" no pools", theme), inner);
        return;
    }
    for (i, pool) in pools.iter().take(inner.height as usize).enumerate() {
        let line = Rect {
            y: inner.y + i as u16,
            height: 1,
            ..inner
        };
        frame.render_widget(pool_gauge(pool, line.width, theme), line);
    }
}

/// `db ━━━━━━── 14a 6i 1w /20`: active against max, with idle and waiting.
fn pool_gauge<'a>(pool: &'a PoolStats, width: u16, theme: &Theme) -> LineGauge<'a> {
    let ratio = pool
        .utilization
        .or_else(|| Some(pool.active? / pool.max.filter(|m| *m > 0.0)?))
        .unwrap_or(0.0)
        .clamp(0.0, 1.0);
    let waiting = pool.waiting.unwrap_or(0.0);
    let style = if waiting > 0.0 || ratio >= 0.9 {
        theme.warn
    } else {
        theme.gauge
    };
    let detail = format!(
        "{}a {}i {}w /{}",
        count(pool.active),
        count(pool.idle),
        count(pool.waiting),
        count(pool.max)
    );
    let name_width = (width as usize / 4).clamp(4, 10);
    LineGauge::default()
        .ratio(ratio)
        .filled_style(style)
        .unfilled_style(theme.muted)
        .label(Line::from(vec![
            Span::styled(
                format!("{:<name_width$} ", truncate(&pool.name, name_width)),
                theme.text,
            ),
            Span::styled(format!("{detail} "), style),
        ]))
}

fn draw_alerts_and_actions(
    frame: &mut Frame,
    area: Rect,
    snapshot: Option<&Snapshot>,
    theme: &Theme,
    now_ms: i64,
) {
    let block = panel(" Alerts & actions ", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(snapshot) = snapshot else {
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    // Healthy receivers stay quiet; a page that cannot be delivered must
    // not, and it goes first: the panel may be too short for the rest.
    for receiver in &snapshot.receivers {
        if let Some((text, permanent)) = delivery_problem(receiver, now_ms) {
            let style = if permanent { theme.bad } else { theme.warn };
            lines.push(Line::styled(truncate(&text, width), style));
        }
    }
    let mut alerts: Vec<_> = snapshot.alerts.iter().collect();
    alerts.sort_by_key(|a| {
        (
            crate::rows::severity_rank(a.severity.as_deref()),
            a.state != AlertState::Firing,
        )
    });
    for alert in alerts {
        let severity = alert.severity.as_deref().unwrap_or("-");
        let style = match (alert.state, crate::rows::severity_rank(Some(severity))) {
            (AlertState::Pending, _) => theme.muted,
            (_, 0) => theme.critical,
            (_, 1 | 2) => theme.warn,
            _ => theme.text,
        };
        let state = match alert.state {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
        };
        let text = format!(
            "{severity:<8} {} {state} {}",
            alert.name,
            age_ms(alert.active_at_ms, now_ms)
        );
        lines.push(Line::styled(truncate(&text, width), style));
    }
    for action in &snapshot.actions {
        let text = format!(
            "▶ {} {} {} by {}",
            action.runbook,
            action.status,
            action.step.as_deref().unwrap_or(""),
            action.requested_by
        );
        lines.push(Line::styled(truncate(&text, width), theme.key));
    }
    if lines.is_empty() {
        lines.push(Line::styled("no alerts, no actions", theme.muted));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// How long a dropped notification stays on screen after it was dropped.
const DROPPED_SHOWN_MS: i64 = 3_600_000;

/// `✉ discord-ops: dropped [FIRING:1] ShardDown: 404 Unknown Webhook 2m`
/// for a receiver whose last delivery failed, and whether it was given up
/// on (shown for an hour even if later ones went through: that page was
/// lost); `None` when deliveries are going through.
pub(super) fn delivery_problem(receiver: &ReceiverSummary, now_ms: i64) -> Option<(String, bool)> {
    let error = receiver.last_error.as_ref()?;
    let recovered = receiver
        .last_delivered_ms
        .is_some_and(|delivered| delivered > error.at_ms)
        && receiver.pending == 0;
    let shown = if error.permanent {
        now_ms - error.at_ms < DROPPED_SHOWN_MS
    } else {
        !recovered
    };
    if !shown {
        return None;
    }
    let status = error.status.map(|s| format!("{s} ")).unwrap_or_default();
    let what = if error.permanent {
        format!("dropped {}", error.notification)
    } else {
        format!("retrying, {} waiting", receiver.pending)
    };
    let text = format!(
        "✉ {}: {what}: {status}{} {}",
        receiver.name,
        error.message,
        age_ms(error.at_ms, now_ms)
    );
    Some((text, error.permanent))
}
