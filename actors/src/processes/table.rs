//! Who owns which child pid, so the one reaper can route an exit status to
//! the actor that spawned the process. An actor inserts the pid in the same
//! handler that forked it, and the reaper runs on the same thread, so an
//! exit can never arrive before its owner is known.

use crate::facts::InstanceExited;
use actix::Recipient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct ProcessOwner {
    pub service: String,
    pub instance: u64,
    pub notify: Recipient<InstanceExited>,
}

#[derive(Clone, Default)]
pub struct ProcessTable(Arc<Mutex<HashMap<i32, ProcessOwner>>>);

impl ProcessTable {
    pub fn insert(&self, pid: i32, owner: ProcessOwner) {
        if let Ok(mut t) = self.0.lock() {
            t.insert(pid, owner);
        }
    }

    pub fn take(&self, pid: i32) -> Option<ProcessOwner> {
        self.0.lock().ok().and_then(|mut t| t.remove(&pid))
    }

    pub fn len(&self) -> usize {
        self.0.lock().map(|t| t.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
