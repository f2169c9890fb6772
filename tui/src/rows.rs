//! The rows each table shows, in order, after filtering and sorting.
//! Key handling and drawing use the same functions, so "the selected row"
//! means the same thing to both.

use std::cmp::Ordering;

use opsdeck_agent::api::{AlertState, AlertSummary, ShardState, ShardStats};

use crate::fleet::summary::NodeSummary;
use crate::fleet::{AgentEntry, AgentId, FleetState};

/// The fleet table's columns, in display order; each can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetColumn {
    Node,
    Status,
    Cpu,
    Heap,
    Rss,
    Pools,
    Shards,
    Alerts,
    Updated,
}

impl FleetColumn {
    pub const ALL: [FleetColumn; 9] = [
        FleetColumn::Node,
        FleetColumn::Status,
        FleetColumn::Cpu,
        FleetColumn::Heap,
        FleetColumn::Rss,
        FleetColumn::Pools,
        FleetColumn::Shards,
        FleetColumn::Alerts,
        FleetColumn::Updated,
    ];

    pub fn title(self) -> &'static str {
        match self {
            FleetColumn::Node => "NODE",
            FleetColumn::Status => "STATUS",
            FleetColumn::Cpu => "CPU",
            FleetColumn::Heap => "HEAP",
            FleetColumn::Rss => "RSS",
            FleetColumn::Pools => "POOLS",
            FleetColumn::Shards => "SHARDS",
            FleetColumn::Alerts => "ALERTS",
            FleetColumn::Updated => "UPDATED",
        }
    }

    fn index(self) -> usize {
        FleetColumn::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or(0)
    }

    /// The next (or previous) column, wrapping around.
    pub fn step(self, forward: bool) -> FleetColumn {
        let n = FleetColumn::ALL.len();
        let i = self.index();
        FleetColumn::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSort {
    pub column: FleetColumn,
    pub descending: bool,
}

impl Default for FleetSort {
    fn default() -> Self {
        FleetSort {
            column: FleetColumn::Node,
            descending: false,
        }
    }
}

/// Shard states to show in the shards view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StateFilter {
    #[default]
    All,
    NotReady,
    Draining,
    Ready,
}

impl StateFilter {
    pub fn parse(text: &str) -> Option<StateFilter> {
        match text
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "")
            .as_str()
        {
            "all" | "" => Some(StateFilter::All),
            "notready" | "!ready" => Some(StateFilter::NotReady),
            "draining" | "drain" => Some(StateFilter::Draining),
            "ready" => Some(StateFilter::Ready),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StateFilter::All => "all",
            StateFilter::NotReady => "not ready",
            StateFilter::Draining => "draining",
            StateFilter::Ready => "ready",
        }
    }

    pub fn next(self) -> StateFilter {
        match self {
            StateFilter::All => StateFilter::NotReady,
            StateFilter::NotReady => StateFilter::Draining,
            StateFilter::Draining => StateFilter::Ready,
            StateFilter::Ready => StateFilter::All,
        }
    }

    pub fn admits(self, state: ShardState) -> bool {
        match self {
            StateFilter::All => true,
            StateFilter::NotReady => state != ShardState::Ready,
            // "Draining" covers shards on their way out and already out.
            StateFilter::Draining => matches!(state, ShardState::Draining | ShardState::Drained),
            StateFilter::Ready => state == ShardState::Ready,
        }
    }
}

pub fn shard_state_name(state: ShardState) -> &'static str {
    match state {
        ShardState::Starting => "starting",
        ShardState::Ready => "ready",
        ShardState::Draining => "draining",
        ShardState::Drained => "drained",
        ShardState::Disconnected => "disconnected",
        ShardState::Dead => "dead",
        ShardState::Unknown => "unknown",
    }
}

/// Case-insensitive substring match; an empty filter matches everything.
pub struct TextFilter(String);

impl TextFilter {
    pub fn new(text: &str) -> Self {
        TextFilter(text.trim().to_lowercase())
    }

    pub fn matches(&self, fields: &[&str]) -> bool {
        self.0.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(&self.0))
    }
}

/// Fleet rows: agents with their summary, filtered and sorted.
pub fn fleet_rows(
    fleet: &FleetState,
    now_ms: i64,
    filter: &str,
    sort: FleetSort,
) -> Vec<(AgentId, NodeSummary)> {
    let filter = TextFilter::new(filter);
    let mut rows: Vec<(AgentId, NodeSummary)> = fleet
        .agents
        .iter()
        .enumerate()
        .map(|(id, agent)| (id, NodeSummary::of(agent, now_ms)))
        .filter(|(id, summary)| {
            let agent = &fleet.agents[*id];
            filter.matches(&[agent.name(), &agent.url, summary.health.label()])
        })
        .collect();
    rows.sort_by(|(a_id, a), (b_id, b)| {
        let ordering = compare_fleet(
            sort.column,
            (&fleet.agents[*a_id], a),
            (&fleet.agents[*b_id], b),
        )
        .then_with(|| fleet.agents[*a_id].name().cmp(fleet.agents[*b_id].name()));
        if sort.descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
    rows
}

fn compare_fleet(
    column: FleetColumn,
    (a_agent, a): (&AgentEntry, &NodeSummary),
    (b_agent, b): (&AgentEntry, &NodeSummary),
) -> Ordering {
    fn opt<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
        // Unknown sorts before any value.
        match (a, b) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    match column {
        FleetColumn::Node => natural_cmp(a_agent.name(), b_agent.name()),
        FleetColumn::Status => a.health.cmp(&b.health),
        FleetColumn::Cpu => opt(a.cpu_percent, b.cpu_percent),
        FleetColumn::Heap => opt(a.heap_used_bytes, b.heap_used_bytes),
        FleetColumn::Rss => opt(a.rss_bytes, b.rss_bytes),
        FleetColumn::Pools => opt(a.pool_utilization, b.pool_utilization)
            .then_with(|| opt(a.pool_waiting, b.pool_waiting)),
        FleetColumn::Shards => (a.shards_total - a.shards_ready)
            .cmp(&(b.shards_total - b.shards_ready))
            .then_with(|| a.shards_total.cmp(&b.shards_total)),
        FleetColumn::Alerts => a.alerts.cmp(&b.alerts),
        FleetColumn::Updated => opt(a.age_seconds, b.age_seconds),
    }
}

/// Orders `node-2` before `node-10` and `shard 9` before `shard 10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let digits_at = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (head, tail) = s.split_at(digits_at);
        (head.to_string(), tail.parse::<u64>().ok())
    };
    let (a_head, a_num) = split(a);
    let (b_head, b_num) = split(b);
    a_head
        .cmp(&b_head)
        .then_with(|| a_num.cmp(&b_num))
        .then_with(|| a.cmp(b))
}

/// One shard somewhere in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRef {
    pub agent: AgentId,
    pub shard: usize,
}

impl ShardRef {
    pub fn resolve<'a>(&self, fleet: &'a FleetState) -> Option<(&'a AgentEntry, &'a ShardStats)> {
        let agent = fleet.agents.get(self.agent)?;
        let shard = agent.snapshot.as_ref()?.shards.get(self.shard)?;
        Some((agent, shard))
    }
}

/// Every shard on every node (or on one node), in node then shard order.
/// Returns references only; the view builds rows for the visible ones.
pub fn shard_rows(
    fleet: &FleetState,
    only_agent: Option<AgentId>,
    filter: &str,
    states: StateFilter,
) -> Vec<ShardRef> {
    let filter = TextFilter::new(filter);
    let mut rows = Vec::new();
    for (agent_id, agent) in fleet.agents.iter().enumerate() {
        if only_agent.is_some_and(|only| only != agent_id) {
            continue;
        }
        let Some(snapshot) = &agent.snapshot else {
            continue;
        };
        for (index, shard) in snapshot.shards.iter().enumerate() {
            if states.admits(shard.state)
                && filter.matches(&[agent.name(), &shard.id, shard_state_name(shard.state)])
            {
                rows.push(ShardRef {
                    agent: agent_id,
                    shard: index,
                });
            }
        }
    }
    rows
}

/// One alert somewhere in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRef {
    pub agent: AgentId,
    pub alert: usize,
}

impl AlertRef {
    pub fn resolve<'a>(&self, fleet: &'a FleetState) -> Option<(&'a AgentEntry, &'a AlertSummary)> {
        let agent = fleet.agents.get(self.agent)?;
        let alert = agent.snapshot.as_ref()?.alerts.get(self.alert)?;
        Some((agent, alert))
    }
}

/// Lower is more severe.
pub fn severity_rank(severity: Option<&str>) -> u8 {
    match severity {
        Some("critical") | Some("page") => 0,
        Some("error") => 1,
        Some("warning") => 2,
        Some("info") => 3,
        _ => 4,
    }
}

/// Firing and pending alerts across the fleet (or one node): most severe
/// first, firing before pending, then newest first.
pub fn alert_rows(fleet: &FleetState, only_agent: Option<AgentId>, filter: &str) -> Vec<AlertRef> {
    let filter = TextFilter::new(filter);
    let mut rows: Vec<(AlertRef, &AlertSummary)> = Vec::new();
    for (agent_id, agent) in fleet.agents.iter().enumerate() {
        if only_agent.is_some_and(|only| only != agent_id) {
            continue;
        }
        let Some(snapshot) = &agent.snapshot else {
            continue;
        };
        for (index, alert) in snapshot.alerts.iter().enumerate() {
            let severity = alert.severity.as_deref().unwrap_or("");
            let summary = alert.annotations.get("summary").map_or("", String::as_str);
            if filter.matches(&[agent.name(), &alert.name, severity, summary]) {
                rows.push((
                    AlertRef {
                        agent: agent_id,
                        alert: index,
                    },
                    alert,
                ));
            }
        }
    }
    rows.sort_by(|(_, a), (_, b)| {
        severity_rank(a.severity.as_deref())
            .cmp(&severity_rank(b.severity.as_deref()))
            .then_with(|| firing_first(a.state).cmp(&firing_first(b.state)))
            .then_with(|| b.active_at_ms.cmp(&a.active_at_ms))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows.into_iter().map(|(r, _)| r).collect()
}

fn firing_first(state: AlertState) -> u8 {
    match state {
        AlertState::Firing => 0,
        AlertState::Pending => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_of_names() {
        let mut names = vec!["node-10", "node-2", "node-1", "api"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, vec!["api", "node-1", "node-2", "node-10"]);
    }

    #[test]
    fn state_filter_parses_user_spellings() {
        assert_eq!(StateFilter::parse("not-ready"), Some(StateFilter::NotReady));
        assert_eq!(StateFilter::parse("NotReady"), Some(StateFilter::NotReady));
        assert_eq!(StateFilter::parse("draining"), Some(StateFilter::Draining));
        assert_eq!(StateFilter::parse("bogus"), None);
        assert!(StateFilter::Draining.admits(ShardState::Drained));
        assert!(!StateFilter::NotReady.admits(ShardState::Ready));
    }
}
