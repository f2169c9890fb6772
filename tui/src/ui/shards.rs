//! Every shard on every node, with state filters.

use ratatui::layout::Rect;
use ratatui::Frame;

use super::panel;
use super::shard_table::{self, ShardTable};
use super::theme::Theme;
use crate::app::view::ViewKind;
use crate::app::App;
use crate::fleet::FleetState;
use crate::rows::{shard_rows, StateFilter};

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &mut App,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) {
    let filter = app.filter(ViewKind::Shards).to_string();
    let states = app.state_filter;
    let rows = shard_rows(fleet, None, &filter, states);
    let mut title = format!(" Shards ({}) · state: {} ", rows.len(), states.label());
    if !filter.is_empty() {
        title.push_str(&format!("· /{filter} "));
    }
    let empty_text = if states == StateFilter::All && filter.is_empty() {
        " No shards reported yet."
    } else {
        " No shard matches the filter."
    };
    let table = ShardTable {
        rows: &rows,
        with_node: true,
        block: panel(title, theme),
        empty_text,
    };
    let mut cursor = app.cursor(ViewKind::Shards);
    app.table_body = shard_table::draw(frame, area, table, &mut cursor, fleet, theme, now_ms);
    *app.cursor_mut(ViewKind::Shards) = cursor;
}
