//! The shard table shared by the node view and the shards view. Only the
//! rows inside the visible window are built, so thousands of shards cost
//! what a screenful costs.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Row, Table};
use ratatui::Frame;

use opsdeck_agent::api::ShardState;

use super::format::{age_ms, count, latency};
use super::theme::Theme;
use super::{empty_line, health_row_style};
use crate::app::view::TableCursor;
use crate::fleet::FleetState;
use crate::rows::{shard_state_name, ShardRef};
use ratatui::style::Style;

pub struct ShardTable<'a> {
    pub rows: &'a [ShardRef],
    /// Adds a NODE column (the fleet-wide view).
    pub with_node: bool,
    pub block: Block<'a>,
    pub empty_text: &'a str,
}

/// Draws the table; returns where its body rows are, for the mouse.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    table: ShardTable<'_>,
    cursor: &mut TableCursor,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) -> Rect {
    let inner = table.block.inner(area);
    frame.render_widget(table.block, area);
    let body_area = Rect {
        y: inner.y.saturating_add(1),
        height: inner.height.saturating_sub(1),
        ..inner
    };
    if table.rows.is_empty() {
        frame.render_widget(empty_line(table.empty_text, theme), inner);
        return body_area;
    }
    let visible = cursor.visible(table.rows.len(), body_area.height as usize);
    let mut titles = vec!["SHARD", "STATE", "LOAD", "LATENCY", "HEARTBEAT", "RESTARTS"];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(8),
    ];
    if table.with_node {
        titles.insert(0, "NODE");
        widths.insert(0, Constraint::Length(14));
    }
    let header = Row::new(titles).style(theme.header_row);
    let rows = table.rows[visible.clone()]
        .iter()
        .enumerate()
        .filter_map(|(i, shard_ref)| {
            let (agent, shard) = shard_ref.resolve(fleet)?;
            let mut cells = Vec::with_capacity(7);
            if table.with_node {
                cells.push(Cell::from(agent.name()));
            }
            cells.push(Cell::from(shard.id.as_str()));
            cells.push(Cell::from(Span::styled(
                shard_state_name(shard.state),
                state_style(shard.state, theme),
            )));
            cells.push(Cell::from(count(shard.load)));
            cells.push(Cell::from(latency(shard.latency_seconds)));
            cells.push(Cell::from(shard.last_heartbeat_ms.map_or_else(
                || "-".into(),
                |at| format!("{} ago", age_ms(at, now_ms)),
            )));
            cells.push(Cell::from(count(shard.restarts)));
            let row = Row::new(cells).style(health_row_style(agent.health(now_ms), theme));
            Some(if visible.start + i == cursor.selected {
                row.style(theme.selected)
            } else {
                row
            })
        });
    frame.render_widget(Table::new(rows, widths).header(header), inner);
    body_area
}

pub fn state_style(state: ShardState, theme: &Theme) -> Style {
    match state {
        ShardState::Ready => theme.good,
        ShardState::Starting | ShardState::Draining | ShardState::Drained => theme.warn,
        ShardState::Disconnected | ShardState::Dead => theme.bad,
        ShardState::Unknown => theme.muted,
    }
}
