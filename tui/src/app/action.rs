//! The action table: every key action as a record, after k9s's
//! `internal/ui/action.go`. Default keys, help text, where it applies and
//! whether it changes something on an agent all live here; the keymap, the
//! help overlay and the hint bar are built from this one table.

use super::view::ViewKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Command,
    Filter,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    SortNext,
    SortPrev,
    SortReverse,
    StateFilter,
    ViewFleet,
    ViewShards,
    ViewAlerts,
    Silence,
    Runbook,
}

/// Where an action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Only(&'static [ViewKind]),
}

impl Scope {
    pub fn includes(self, view: ViewKind) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Only(views) => views.contains(&view),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub action: Action,
    /// The name used in the config's `keys:` section.
    pub name: &'static str,
    pub default_keys: &'static [&'static str],
    pub help: &'static str,
    /// Short label for the hint bar; `None` keeps it out of the bar (it is
    /// still in the help overlay).
    pub hint: Option<&'static str>,
    pub scope: Scope,
    /// Changes state on an agent; drawn as a warning in the hint bar.
    pub mutates: bool,
}

const TABLES: &[ViewKind] = &[
    ViewKind::Fleet,
    ViewKind::Node,
    ViewKind::Shards,
    ViewKind::Alerts,
];

pub const ACTIONS: &[ActionSpec] = &[
    spec(
        Action::Command,
        "command",
        &[":"],
        "command mode (:fleet :shards :alerts :node N :audit [N] :q)",
        Some("cmd"),
        Scope::Everywhere,
    ),
    spec(
        Action::Filter,
        "filter",
        &["/"],
        "filter the rows",
        Some("filter"),
        Scope::Everywhere,
    ),
    spec(
        Action::Help,
        "help",
        &["?"],
        "this help",
        Some("help"),
        Scope::Everywhere,
    ),
    spec(
        Action::Back,
        "back",
        &["esc"],
        "back to the previous view; clear the filter",
        Some("back"),
        Scope::Everywhere,
    ),
    spec(
        Action::Open,
        "open",
        &["enter"],
        "open the node (or jump to the alert's node and shard)",
        Some("open"),
        Scope::Only(&[ViewKind::Fleet, ViewKind::Shards, ViewKind::Alerts]),
    ),
    spec(
        Action::SortNext,
        "sort_next",
        &[">"],
        "sort by the next column",
        Some("sort"),
        Scope::Only(&[ViewKind::Fleet]),
    ),
    spec(
        Action::SortPrev,
        "sort_prev",
        &["<"],
        "sort by the previous column",
        None,
        Scope::Only(&[ViewKind::Fleet]),
    ),
    spec(
        Action::SortReverse,
        "sort_reverse",
        &["r"],
        "reverse the sort order",
        Some("reverse"),
        Scope::Only(&[ViewKind::Fleet]),
    ),
    spec(
        Action::StateFilter,
        "state_filter",
        &["t"],
        "cycle the shard state filter (all, not ready, draining, ready)",
        Some("state"),
        Scope::Only(&[ViewKind::Shards, ViewKind::Node]),
    ),
    ActionSpec {
        mutates: true,
        ..spec(
            Action::Silence,
            "silence",
            &["s"],
            "silence the selected alert",
            Some("silence"),
            Scope::Only(&[ViewKind::Alerts]),
        )
    },
    ActionSpec {
        mutates: true,
        ..spec(
            Action::Runbook,
            "runbook",
            &["R"],
            "run a runbook on the selected shard or its node",
            Some("runbook"),
            Scope::Only(&[ViewKind::Node, ViewKind::Shards]),
        )
    },
    spec(
        Action::ViewFleet,
        "fleet",
        &["1"],
        "fleet view",
        None,
        Scope::Everywhere,
    ),
    spec(
        Action::ViewShards,
        "shards",
        &["2"],
        "shards across the fleet",
        None,
        Scope::Everywhere,
    ),
    spec(
        Action::ViewAlerts,
        "alerts",
        &["3"],
        "alerts across the fleet",
        None,
        Scope::Everywhere,
    ),
    spec(
        Action::Up,
        "up",
        &["k", "up"],
        "move up",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::Down,
        "down",
        &["j", "down"],
        "move down",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::PageUp,
        "page_up",
        &["ctrl-b", "pgup"],
        "page up",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::PageDown,
        "page_down",
        &["ctrl-f", "pgdn"],
        "page down",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::Top,
        "top",
        &["g", "home"],
        "first row",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::Bottom,
        "bottom",
        &["G", "end"],
        "last row",
        None,
        Scope::Only(TABLES),
    ),
    spec(
        Action::Quit,
        "quit",
        &["q", "ctrl-c"],
        "quit",
        Some("quit"),
        Scope::Everywhere,
    ),
];

const fn spec(
    action: Action,
    name: &'static str,
    default_keys: &'static [&'static str],
    help: &'static str,
    hint: Option<&'static str>,
    scope: Scope,
) -> ActionSpec {
    ActionSpec {
        action,
        name,
        default_keys,
        help,
        hint,
        scope,
        mutates: false,
    }
}

pub fn spec_of(action: Action) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|spec| spec.action == action)
}
