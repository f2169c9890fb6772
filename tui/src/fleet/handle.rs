//! Shared access to the fleet state: clients write, the UI reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard};

use super::{AgentEntry, AgentId, FleetState};
use crate::event::AppEvent;

/// Cloned into every agent client. A write marks the state changed and
/// wakes the UI once; further writes before the UI has redrawn coalesce.
#[derive(Clone)]
pub struct FleetHandle {
    state: Arc<RwLock<FleetState>>,
    changed: Arc<AtomicBool>,
    wake: Sender<AppEvent>,
}

impl FleetHandle {
    pub fn new(state: FleetState, wake: Sender<AppEvent>) -> Self {
        FleetHandle {
            state: Arc::new(RwLock::new(state)),
            changed: Arc::new(AtomicBool::new(false)),
            wake,
        }
    }

    /// Changes one agent's entry and wakes the UI if it is not already due
    /// to redraw.
    pub fn update(&self, agent: AgentId, change: impl FnOnce(&mut AgentEntry)) {
        if let Some(entry) = self.state.write().agents.get_mut(agent) {
            change(entry);
        }
        if !self.changed.swap(true, Ordering::AcqRel) {
            // The UI may already be gone at shutdown; nothing to wake then.
            let _ = self.wake.send(AppEvent::FleetChanged);
        }
    }

    /// Changes one agent's entry without waking the UI: for changes that
    /// only move "last update" along (heartbeats), which the one-second
    /// clock redraws anyway.
    pub fn update_quietly(&self, agent: AgentId, change: impl FnOnce(&mut AgentEntry)) {
        if let Some(entry) = self.state.write().agents.get_mut(agent) {
            change(entry);
        }
    }

    /// Read access for drawing. Clears the changed flag first so a write
    /// racing with the draw wakes the UI again.
    pub fn read_for_draw(&self) -> RwLockReadGuard<'_, FleetState> {
        self.changed.store(false, Ordering::Release);
        self.state.read()
    }

    pub fn read(&self) -> RwLockReadGuard<'_, FleetState> {
        self.state.read()
    }
}
