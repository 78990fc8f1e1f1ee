//! The one place a `ServiceView` (SPEC 4 service object) is built: from the
//! service's config (the manager's), its runtime status (its ServiceActor's,
//! as last published), its health (the HealthChecker's) and, while it runs,
//! its usage and limits.

use super::Entry;
use crate::model::view::ServiceView;
use chrono::{DateTime, Utc};

/// The view of one service at `now`.
pub(crate) fn service_view(name: &str, e: &Entry, now: DateTime<Utc>) -> ServiceView {
    let c = &e.cfg;
    let s = &e.status;
    let pids = s.pids();
    let usage = (!pids.is_empty()).then(|| e.limits.usage(&pids));
    ServiceView {
        name: name.to_string(),
        description: c.description.clone(),
        kind: c.kind,
        state: s.state,
        health: e.health,
        status_text: s.status_text.clone(),
        instances: s.instances.clone(),
        restarts: s.restarts,
        uptime_seconds: s.uptime_seconds(now),
        last_exit: s.last_exit.clone(),
        requires: c.requires.clone(),
        wants: c.wants.clone(),
        after: c.after.clone(),
        before: c.before.clone(),
        autostart: c.autostart(),
        critical: c.critical,
        next_run: s.next_run,
        listen: c
            .socket
            .as_ref()
            .map(|s| s.listen.clone())
            .unwrap_or_default(),
        runs_total: s.runs_total,
        memory_bytes: usage.map(|(memory, _)| memory),
        cpu_seconds: usage.map(|(_, cpu)| (cpu * 1000.0).round() / 1000.0),
        limits: e.limits.views(),
    }
}
