//! Who owns which child pid, so the one reaper can route an exit status to
//! the actor that spawned the process. An exit never arrives before its
//! owner is known: a spawn and the insert of its pid happen behind the
//! spawn gate (`spawning`, shared: launcher threads spawn side by side),
//! and the reaper reaps and routes behind the same gate (`reaping`,
//! exclusive), so it sees a child either not at all or registered. Helper
//! processes are spawned on the reaper's own thread and need no gate.

use crate::facts::InstanceExited;
use actix::Recipient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Clone)]
pub struct ProcessOwner {
    pub service: String,
    pub instance: u64,
    pub notify: Recipient<InstanceExited>,
}

#[derive(Clone, Default)]
pub struct ProcessTable {
    owners: Arc<Mutex<HashMap<i32, ProcessOwner>>>,
    gate: Arc<RwLock<()>>,
}

impl ProcessTable {
    pub fn insert(&self, pid: i32, owner: ProcessOwner) {
        if let Ok(mut t) = self.owners.lock() {
            t.insert(pid, owner);
        }
    }

    pub fn take(&self, pid: i32) -> Option<ProcessOwner> {
        self.owners.lock().ok().and_then(|mut t| t.remove(&pid))
    }

    /// Held from before a spawn until its pid is inserted and its owner
    /// told. Launcher threads hold it side by side.
    pub fn spawning(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Held by the reaper while it reaps and routes: it waits for the
    /// spawns in flight (each until its child has exec'd).
    pub fn reaping(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.owners.lock().map(|t| t.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
