//! The application state and everything keys and the mouse do to it.
//! No I/O happens here: an action that must reach an agent comes back as
//! an [`Effect`] for the runtime to carry out.

pub mod action;
pub mod command;
pub mod keymap;
pub mod runbook;
pub mod silence;
pub mod view;

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use opsdeck_agent::api::SilenceRequest;
use opsdeck_runbooks::ActionStatus;
use ratatui::layout::{Position, Rect};

use crate::fleet::{AgentId, FleetState};
use crate::rows::{self, FleetSort, StateFilter};
use action::Action;
use command::Command;
use keymap::Keymap;
use runbook::{
    AuditPane, FlowOutcome, ProgressPane, RunbookFlow, RunbookReply, RunbookTarget, Stage,
};
use silence::{FormOutcome, SilenceForm};
use view::{TableCursor, View, ViewKind};

/// What the keyboard is doing right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    /// Typing a `:` command.
    Command(String),
    /// Typing a `/` filter; the rows follow as you type.
    Filter,
    Help,
    Silence(Box<SilenceForm>),
    /// Picking a runbook and confirming its plan.
    Runbook(Box<RunbookFlow>),
    /// Following an action started from here.
    Progress(ProgressPane),
    Audit(Box<AuditPane>),
}

/// Work for the runtime: the only way the app reaches an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    CreateSilence {
        agent: AgentId,
        node: String,
        request: SilenceRequest,
    },
    LoadRunbooks {
        agent: AgentId,
    },
    DryRun {
        agent: AgentId,
        runbook: String,
        params: BTreeMap<String, String>,
    },
    /// Starts the action and follows it into the fleet state.
    StartAction {
        agent: AgentId,
        node: String,
        runbook: String,
        params: BTreeMap<String, String>,
    },
    CancelAction {
        agent: AgentId,
        action: String,
    },
    /// Runs an interrupted action's rollback and follows it.
    RollbackAction {
        agent: AgentId,
        node: String,
        action: String,
    },
    LoadAudit {
        agent: AgentId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMessage {
    pub text: String,
    pub is_error: bool,
}

#[derive(Debug)]
pub struct App {
    stack: Vec<View>,
    pub mode: Mode,
    pub keymap: Keymap,
    cursors: HashMap<ViewKind, TableCursor>,
    filters: HashMap<ViewKind, String>,
    pub fleet_sort: FleetSort,
    pub state_filter: StateFilter,
    pub message: Option<StatusMessage>,
    pub should_quit: bool,
    /// Where the current table's rows were last drawn, for mouse clicks
    /// and page sizes. Set by the renderer.
    pub table_body: Rect,
    /// Recorded on silences as `created_by`.
    created_by: String,
    /// Refuses every action that changes an agent (the config's
    /// `read_only: true`); they leave the hint bar too.
    pub read_only: bool,
}

impl App {
    pub fn new(keymap: Keymap, created_by: String) -> Self {
        App {
            stack: vec![View::Fleet],
            mode: Mode::Normal,
            keymap,
            cursors: HashMap::new(),
            filters: HashMap::new(),
            fleet_sort: FleetSort::default(),
            state_filter: StateFilter::All,
            message: None,
            should_quit: false,
            table_body: Rect::default(),
            created_by,
            read_only: false,
        }
    }

    pub fn view(&self) -> View {
        self.stack.last().copied().unwrap_or(View::Fleet)
    }

    /// How many views `Esc` can go back through.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    pub fn filter(&self, kind: ViewKind) -> &str {
        self.filters.get(&kind).map_or("", String::as_str)
    }

    pub fn cursor_mut(&mut self, kind: ViewKind) -> &mut TableCursor {
        self.cursors.entry(kind).or_default()
    }

    pub fn cursor(&self, kind: ViewKind) -> TableCursor {
        self.cursors.get(&kind).copied().unwrap_or_default()
    }

    pub fn handle_event(
        &mut self,
        event: &Event,
        fleet: &FleetState,
        now_ms: i64,
    ) -> Option<Effect> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                self.handle_key(key, fleet, now_ms)
            }
            Event::Mouse(mouse) => {
                self.handle_mouse(mouse, fleet, now_ms);
                None
            }
            _ => None,
        }
    }

    fn handle_key(&mut self, key: &KeyEvent, fleet: &FleetState, now_ms: i64) -> Option<Effect> {
        match &mut self.mode {
            Mode::Normal => {
                let action = self.keymap.action_for(key)?;
                let spec = action::spec_of(action)?;
                if spec.mutates && self.read_only {
                    self.error(format!("read-only: {} is disabled", spec.name));
                    return None;
                }
                if spec.scope.includes(self.view().kind()) {
                    self.message = None;
                    return self.perform(action, fleet, now_ms);
                }
                None
            }
            Mode::Help => {
                // Any key closes help.
                self.mode = Mode::Normal;
                None
            }
            Mode::Command(input) => {
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        let input = std::mem::take(input);
                        self.mode = Mode::Normal;
                        match command::parse(&input) {
                            Ok(command) => return self.run_command(command, fleet),
                            Err(error) => self.error(error),
                        }
                    }
                    // Backspace on an empty command line leaves command mode, as in vim.
                    KeyCode::Backspace if input.is_empty() => self.mode = Mode::Normal,
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char(c) => input.push(c),
                    _ => {}
                }
                None
            }
            Mode::Filter => {
                let kind = self.view().kind();
                let filter = self.filters.entry(kind).or_default();
                match key.code {
                    KeyCode::Esc => {
                        filter.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Backspace => {
                        filter.pop();
                    }
                    KeyCode::Char(c) => filter.push(c),
                    _ => {}
                }
                *self.cursor_mut(kind) = TableCursor::default();
                None
            }
            Mode::Silence(form) => {
                let outcome = match key.code {
                    KeyCode::Esc => FormOutcome::Cancelled,
                    KeyCode::Tab | KeyCode::Down => {
                        form.focus_step(true);
                        FormOutcome::Editing
                    }
                    KeyCode::BackTab | KeyCode::Up => {
                        form.focus_step(false);
                        FormOutcome::Editing
                    }
                    KeyCode::Enter => form.enter(now_ms, &self.created_by),
                    KeyCode::Backspace => {
                        form.backspace();
                        FormOutcome::Editing
                    }
                    KeyCode::Char(c) => {
                        form.type_char(c);
                        FormOutcome::Editing
                    }
                    _ => FormOutcome::Editing,
                };
                match outcome {
                    FormOutcome::Editing => None,
                    FormOutcome::Cancelled => {
                        self.mode = Mode::Normal;
                        None
                    }
                    FormOutcome::Submit(request) => {
                        let effect = Effect::CreateSilence {
                            agent: form.agent,
                            node: form.node.clone(),
                            request,
                        };
                        self.mode = Mode::Normal;
                        self.info("silencing…".to_string());
                        Some(effect)
                    }
                }
            }
            Mode::Runbook(flow) => match flow.key(key.code) {
                FlowOutcome::Stay => None,
                FlowOutcome::Close => {
                    self.mode = Mode::Normal;
                    None
                }
                FlowOutcome::Request(effect) => Some(effect),
            },
            Mode::Progress(pane) => match key.code {
                KeyCode::Char('c') if !self.read_only => Some(Effect::CancelAction {
                    agent: pane.agent,
                    action: pane.action.clone(),
                }),
                KeyCode::Esc | KeyCode::Char('q') => {
                    self.mode = Mode::Normal;
                    None
                }
                _ => None,
            },
            Mode::Audit(pane) => {
                let len = pane
                    .records
                    .as_ref()
                    .map_or(0, |r| r.as_ref().map_or(0, Vec::len));
                if let Some(action) = pane.confirm_rollback.take() {
                    // Anything but `y` keeps the action as it is.
                    return (key.code == KeyCode::Char('y')).then(|| Effect::RollbackAction {
                        agent: pane.agent,
                        node: pane.node.clone(),
                        action,
                    });
                }
                match key.code {
                    KeyCode::Char('b') if !self.read_only => {
                        pane.confirm_rollback = pane.rollback_candidate().map(|r| r.id.clone());
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        pane.selected = pane.selected.saturating_sub(1);
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        pane.selected = (pane.selected + 1).min(len.saturating_sub(1));
                    }
                    KeyCode::Esc | KeyCode::Char('q') => self.mode = Mode::Normal,
                    _ => {}
                }
                None
            }
        }
    }

    fn perform(&mut self, action: Action, fleet: &FleetState, now_ms: i64) -> Option<Effect> {
        let kind = self.view().kind();
        let len = self.row_count(fleet, now_ms);
        let page = self.table_body.height.max(1) as isize;
        match action {
            Action::Quit => self.should_quit = true,
            Action::Help => self.mode = Mode::Help,
            Action::Command => self.mode = Mode::Command(String::new()),
            Action::Filter => self.mode = Mode::Filter,
            Action::Back => self.back(),
            Action::Up => self.cursor_mut(kind).step(-1, len),
            Action::Down => self.cursor_mut(kind).step(1, len),
            Action::PageUp => self.cursor_mut(kind).step(-page, len),
            Action::PageDown => self.cursor_mut(kind).step(page, len),
            Action::Top => self.cursor_mut(kind).selected = 0,
            Action::Bottom => self.cursor_mut(kind).to_end(len),
            Action::Open => self.open_selected(fleet, now_ms),
            Action::SortNext | Action::SortPrev => {
                self.fleet_sort.column = self.fleet_sort.column.step(action == Action::SortNext);
            }
            Action::SortReverse => self.fleet_sort.descending = !self.fleet_sort.descending,
            Action::StateFilter => {
                self.state_filter = self.state_filter.next();
                *self.cursor_mut(kind) = TableCursor::default();
            }
            Action::ViewFleet => self.show(View::Fleet),
            Action::ViewShards => self.show(View::Shards),
            Action::ViewAlerts => self.show(View::Alerts),
            Action::Silence => self.open_silence(fleet),
            Action::Runbook => return self.open_runbook(fleet),
        }
        None
    }

    fn back(&mut self) {
        let kind = self.view().kind();
        if self.filters.get(&kind).is_some_and(|f| !f.is_empty()) {
            self.filters.remove(&kind);
        } else if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    /// Pushes a view, unless it is already on top.
    fn show(&mut self, view: View) {
        if self.view() != view {
            if view.kind() == ViewKind::Node {
                self.cursors.remove(&ViewKind::Node);
                self.filters.remove(&ViewKind::Node);
            }
            self.stack.push(view);
        }
    }

    fn run_command(&mut self, command: Command, fleet: &FleetState) -> Option<Effect> {
        match command {
            Command::Fleet => self.show(View::Fleet),
            Command::Shards(filter) => {
                if let Some(filter) = filter {
                    self.state_filter = filter;
                    self.cursors.remove(&ViewKind::Shards);
                }
                self.show(View::Shards);
            }
            Command::Alerts => self.show(View::Alerts),
            Command::Node(name) => match find_agent(fleet, &name) {
                Ok(agent) => self.show(View::Node(agent)),
                Err(error) => self.error(error),
            },
            Command::Audit(name) => return self.open_audit(fleet, name.as_deref()),
            Command::Help => self.mode = Mode::Help,
            Command::Quit => self.should_quit = true,
        }
        None
    }

    /// Rows in the current view's table, as drawn.
    pub fn row_count(&self, fleet: &FleetState, now_ms: i64) -> usize {
        let kind = self.view().kind();
        let filter = self.filter(kind);
        match self.view() {
            View::Fleet => rows::fleet_rows(fleet, now_ms, filter, self.fleet_sort).len(),
            View::Node(agent) => {
                rows::shard_rows(fleet, Some(agent), filter, self.state_filter).len()
            }
            View::Shards => rows::shard_rows(fleet, None, filter, self.state_filter).len(),
            View::Alerts => rows::alert_rows(fleet, None, filter).len(),
        }
    }

    fn open_selected(&mut self, fleet: &FleetState, now_ms: i64) {
        let kind = self.view().kind();
        let selected = self.cursor(kind).selected;
        let filter = self.filter(kind).to_string();
        match self.view() {
            View::Fleet => {
                let rows = rows::fleet_rows(fleet, now_ms, &filter, self.fleet_sort);
                if let Some((agent, _)) = rows.get(selected) {
                    self.show(View::Node(*agent));
                }
            }
            View::Shards => {
                let rows = rows::shard_rows(fleet, None, &filter, self.state_filter);
                if let Some(shard) = rows.get(selected).copied() {
                    self.jump_to_shard(fleet, shard.agent, Some(shard.shard));
                }
            }
            View::Alerts => {
                let rows = rows::alert_rows(fleet, None, &filter);
                if let Some((agent, alert)) = rows.get(selected).and_then(|r| r.resolve(fleet)) {
                    let agent_id = rows[selected].agent;
                    let shard = alert.labels.get("shard").and_then(|id| {
                        agent
                            .snapshot
                            .as_ref()?
                            .shards
                            .iter()
                            .position(|s| &s.id == id)
                    });
                    self.jump_to_shard(fleet, agent_id, shard);
                }
            }
            View::Node(_) => {}
        }
    }

    /// Opens a node with the given shard selected (the state filter is
    /// cleared if it would hide that shard).
    fn jump_to_shard(&mut self, fleet: &FleetState, agent: AgentId, shard: Option<usize>) {
        self.show(View::Node(agent));
        let Some(shard) = shard else {
            return;
        };
        let mut rows = rows::shard_rows(fleet, Some(agent), "", self.state_filter);
        if !rows.iter().any(|r| r.shard == shard) {
            self.state_filter = StateFilter::All;
            rows = rows::shard_rows(fleet, Some(agent), "", self.state_filter);
        }
        if let Some(position) = rows.iter().position(|r| r.shard == shard) {
            self.cursor_mut(ViewKind::Node).selected = position;
        }
    }

    fn open_silence(&mut self, fleet: &FleetState) {
        let selected = self.cursor(ViewKind::Alerts).selected;
        let rows = rows::alert_rows(fleet, None, self.filter(ViewKind::Alerts));
        match rows
            .get(selected)
            .and_then(|r| Some((r.agent, r.resolve(fleet)?)))
        {
            Some((agent_id, (agent, alert))) => {
                self.mode = Mode::Silence(Box::new(SilenceForm::for_alert(
                    agent_id,
                    agent.name(),
                    alert,
                )));
            }
            None => self.error("no alert selected".into()),
        }
    }

    /// The runbook picker for the selected shard (node and shards views),
    /// or the node when it has no shard to select; the runbook list is
    /// asked of its agent.
    fn open_runbook(&mut self, fleet: &FleetState) -> Option<Effect> {
        let kind = self.view().kind();
        let selected = self.cursor(kind).selected;
        let filter = self.filter(kind).to_string();
        let (agent, shard) = match self.view() {
            View::Node(agent) => {
                let rows = rows::shard_rows(fleet, Some(agent), &filter, self.state_filter);
                (Some(agent), rows.get(selected).map(|r| r.shard))
            }
            View::Shards => {
                let rows = rows::shard_rows(fleet, None, &filter, self.state_filter);
                let row = rows.get(selected);
                (row.map(|r| r.agent), row.map(|r| r.shard))
            }
            View::Fleet | View::Alerts => (None, None),
        };
        let Some(entry) = agent.and_then(|a| fleet.agents.get(a)) else {
            self.error("no node or shard selected".into());
            return None;
        };
        let agent = agent?;
        let snapshot = entry.snapshot.as_ref();
        let shard_id = shard.and_then(|i| Some(snapshot?.shards.get(i)?.id.clone()));
        let target = RunbookTarget::new(agent, entry.name(), shard_id, snapshot);
        self.mode = Mode::Runbook(Box::new(RunbookFlow::new(target)));
        Some(Effect::LoadRunbooks { agent })
    }

    /// `:audit [NODE]`: the named node, else the one on screen or selected.
    fn open_audit(&mut self, fleet: &FleetState, name: Option<&str>) -> Option<Effect> {
        let agent = match (name, self.view()) {
            (Some(name), _) => match find_agent(fleet, name) {
                Ok(agent) => agent,
                Err(error) => {
                    self.error(error);
                    return None;
                }
            },
            (None, View::Node(agent)) => agent,
            (None, _) if fleet.agents.len() == 1 => 0,
            (None, _) => {
                self.error("usage: :audit NODE (or open a node first)".into());
                return None;
            }
        };
        let node = fleet.agents.get(agent)?.name().to_string();
        self.mode = Mode::Audit(Box::new(AuditPane {
            agent,
            node,
            records: None,
            selected: 0,
            confirm_rollback: None,
        }));
        Some(Effect::LoadAudit { agent })
    }

    /// An agent answered a runbook request. Answers for a dialog that has
    /// since been closed are dropped (a started action is still followed).
    pub fn runbook_reply(&mut self, reply: RunbookReply) {
        match (reply, &mut self.mode) {
            (RunbookReply::Runbooks { agent, result }, Mode::Runbook(flow))
                if flow.target.agent == agent && flow.stage == Stage::Loading =>
            {
                flow.runbooks_loaded(result);
            }
            (RunbookReply::Plan { agent, result }, Mode::Runbook(flow))
                if flow.target.agent == agent =>
            {
                flow.plan_ready(result);
            }
            (
                RunbookReply::Started {
                    agent,
                    node,
                    result,
                },
                _,
            ) => match result {
                Ok(record) => {
                    self.info(if record.status == ActionStatus::RollingBack {
                        format!("rolling back {} on {node}", record.id)
                    } else {
                        format!("{} started on {node} as {}", record.runbook, record.id)
                    });
                    self.mode = Mode::Progress(ProgressPane {
                        agent,
                        node,
                        action: record.id,
                    });
                }
                Err(error) => {
                    if matches!(self.mode, Mode::Runbook(_)) {
                        self.mode = Mode::Normal;
                    }
                    self.error(format!("starting the action on {node} failed: {error}"));
                }
            },
            (RunbookReply::Cancelled { result }, _) => match result {
                Ok(record) => self.info(format!("cancelling {}: rollback follows", record.id)),
                Err(error) => self.error(format!("cancel failed: {error}")),
            },
            (RunbookReply::Audit { agent, result }, Mode::Audit(pane)) if pane.agent == agent => {
                pane.records = Some(result);
                pane.selected = 0;
            }
            _ => {}
        }
    }

    fn handle_mouse(&mut self, mouse: &MouseEvent, fleet: &FleetState, now_ms: i64) {
        if self.mode != Mode::Normal {
            return;
        }
        let kind = self.view().kind();
        let len = self.row_count(fleet, now_ms);
        match mouse.kind {
            MouseEventKind::ScrollDown => self.cursor_mut(kind).step(1, len),
            MouseEventKind::ScrollUp => self.cursor_mut(kind).step(-1, len),
            MouseEventKind::Down(MouseButton::Left) => {
                let body = self.table_body;
                if !body.contains(Position::new(mouse.column, mouse.row)) {
                    return;
                }
                let cursor = self.cursor(kind);
                let row = cursor.offset + usize::from(mouse.row - body.y);
                if row >= len {
                    return;
                }
                // A click on the selected row opens it, like Enter.
                if row == cursor.selected {
                    self.open_selected(fleet, now_ms);
                } else {
                    self.cursor_mut(kind).selected = row;
                }
            }
            _ => {}
        }
    }

    pub fn info(&mut self, text: String) {
        self.message = Some(StatusMessage {
            text,
            is_error: false,
        });
    }

    pub fn error(&mut self, text: String) {
        self.message = Some(StatusMessage {
            text,
            is_error: true,
        });
    }
}

/// An agent by node name: exact match first, then a unique prefix.
fn find_agent(fleet: &FleetState, name: &str) -> Result<AgentId, String> {
    if let Some(id) = fleet.agents.iter().position(|a| a.name() == name) {
        return Ok(id);
    }
    let matches: Vec<AgentId> = (0..fleet.agents.len())
        .filter(|&id| fleet.agents[id].name().starts_with(name))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no node named {name:?}")),
        _ => Err(format!("{name:?} matches {} nodes", matches.len())),
    }
}
