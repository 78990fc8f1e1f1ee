//! The one place a `ServiceView` (SPEC 4 service object) is built: from the
//! service's config (the manager's), its runtime status (its ServiceActor's,
//! as last published), its health (the HealthChecker's) and, while it runs,
//! its usage and limits.
//!
//! `ViewBoard` is how the API reads those views without asking the
//! manager: the manager publishes a service's parts (shared `Arc`s, no
//! copies) on the board each time one of them changes, and the API's worker
//! threads build views from the board. So a `GET /v1/services` is no
//! mailbox round trip to a manager busy with crash loops and log floods,
//! and the /proc and cgroup reads for usage happen on the reader's thread,
//! at most once per `USAGE_MAX_AGE` per service (`ServiceLimits::usage`).
//! For `GET /v1/services` the board also keeps each service's JSON, cut
//! where the values of the moment go (`view_json`), from one publish to
//! the next.

use super::view_json::JsonFragments;
use super::Entry;
use crate::model::config::ServiceConfig;
use crate::model::status::ServiceStatus;
use crate::model::view::{Health, ServiceView};
use crate::service::limits::ServiceLimits;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// How old the `memory_bytes` / `cpu_seconds` of a view may be: a service's
/// usage is read from /proc and its cgroup at most this often, however many
/// requests ask.
pub const USAGE_MAX_AGE: Duration = Duration::from_secs(1);

/// What one service's view is made of, as the manager last knew it.
#[derive(Clone)]
pub struct ViewParts {
    pub cfg: Arc<ServiceConfig>,
    pub status: Arc<ServiceStatus>,
    pub health: Health,
    /// Usage is read through it when the view is built.
    pub limits: Arc<ServiceLimits>,
}

impl Entry {
    pub(crate) fn view_parts(&self) -> ViewParts {
        ViewParts {
            cfg: self.cfg.clone(),
            status: self.status.clone(),
            health: self.health,
            limits: self.limits.clone(),
        }
    }
}

/// The services' view parts, published by the ServiceManager and read by
/// the API from any thread. Cloning shares the same board.
#[derive(Clone, Default)]
pub struct ViewBoard {
    /// Names are shared (`Arc<str>`) so a reader copies no strings.
    services: Arc<RwLock<BTreeMap<Arc<str>, Arc<Slot>>>>,
}

/// One service on the board: its parts as published, and its JSON
/// fragments once a list asked for them (a publish starts a new slot).
struct Slot {
    parts: ViewParts,
    json: OnceLock<Option<JsonFragments>>,
}

impl ViewBoard {
    /// Sets (or replaces) the parts of `name`.
    /// The write lock is held only to swap one pointer: the old slot is
    /// freed after it is released.
    pub(crate) fn publish(&self, name: &str, parts: ViewParts) {
        let slot = Arc::new(Slot {
            parts,
            json: OnceLock::new(),
        });
        let mut map = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let _old = match map.get_mut(name) {
            Some(old) => Some(std::mem::replace(old, slot)),
            None => map.insert(Arc::from(name), slot),
        };
        drop(map);
    }

    /// `name` is no longer supervised.
    pub(crate) fn remove(&self, name: &str) {
        self.services
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Every service's view now, by name.
    pub fn list(&self) -> Vec<ServiceView> {
        self.list_at(Utc::now())
    }

    /// The view of `name` now, if it is supervised.
    pub fn get(&self, name: &str) -> Option<ServiceView> {
        self.get_at(name, Utc::now())
    }

    /// Every service's view at `now`, by name. The lock is held only to
    /// take the parts (reference counts); views and usage are built after.
    pub fn list_at(&self, now: DateTime<Utc>) -> Vec<ServiceView> {
        self.slots()
            .iter()
            .map(|(name, slot)| service_view(name, &slot.parts, now))
            .collect()
    }

    /// The services (by name) with their slots; the lock is held only to
    /// take the reference counts.
    fn slots(&self) -> Vec<(Arc<str>, Arc<Slot>)> {
        self.services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, slot)| (name.clone(), slot.clone()))
            .collect()
    }

    /// Writes `{"services":[...]}` with the views now of the services
    /// `visible` accepts: the same bytes as serializing `list()` under the
    /// key `services`, from each service's cached fragments.
    pub fn write_list_json(
        &self,
        out: &mut Vec<u8>,
        visible: impl Fn(&str) -> bool,
    ) -> serde_json::Result<()> {
        self.write_list_json_at(out, visible, Utc::now())
    }

    fn write_list_json_at(
        &self,
        out: &mut Vec<u8>,
        visible: impl Fn(&str) -> bool,
        now: DateTime<Utc>,
    ) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"services\":[");
        let mut first = true;
        for (name, slot) in self.slots().iter().filter(|(n, _)| visible(n)) {
            if !first {
                out.push(b',');
            }
            first = false;
            let p = &slot.parts;
            let json = slot.json.get_or_init(|| {
                let mut fixed = service_view(name, p, now);
                fixed.uptime_seconds = None;
                fixed.memory_bytes = None;
                fixed.cpu_seconds = None;
                JsonFragments::new(&fixed)
            });
            match json {
                Some(f) => f.write(out, p.status.uptime_seconds(now), usage(p))?,
                None => serde_json::to_writer(&mut *out, &service_view(name, p, now))?,
            }
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }

    /// The view of `name` at `now`, if it is supervised.
    pub fn get_at(&self, name: &str, now: DateTime<Utc>) -> Option<ServiceView> {
        let slot = self
            .services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()?;
        Some(service_view(name, &slot.parts, now))
    }
}

/// Memory (bytes) and CPU seconds (to the millisecond) while it runs.
fn usage(p: &ViewParts) -> Option<(u64, f64)> {
    let pids = p.status.pids();
    if pids.is_empty() {
        return None;
    }
    let (memory, cpu) = p.limits.usage(&pids, USAGE_MAX_AGE);
    Some((memory, (cpu * 1000.0).round() / 1000.0))
}

/// The view of one service at `now`.
pub(crate) fn service_view(name: &str, p: &ViewParts, now: DateTime<Utc>) -> ServiceView {
    let c = &p.cfg;
    let s = &p.status;
    let usage = usage(p);
    ServiceView {
        name: name.to_string(),
        description: c.description.clone(),
        kind: c.kind,
        state: s.state,
        health: p.health,
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
        cpu_seconds: usage.map(|(_, cpu)| cpu),
        limits: p.limits.views(),
    }
}

impl super::ServiceManager {
    /// Publishes service views on `views` (shared with the HTTP layer,
    /// which reads them) instead of a board of its own.
    pub fn publishing_views(mut self, views: ViewBoard) -> Self {
        self.views = views;
        self
    }

    /// Publishes the current parts of `name` on the view board.
    pub(crate) fn publish_view(&self, name: &str) {
        if let Some(e) = self.services.get(name) {
            self.views.publish(name, e.view_parts());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::{InstanceView, ServiceState};
    use crate::sys::cgroup::CgroupHost;

    fn parts(status: ServiceStatus, health: Health) -> ViewParts {
        let mut cfg = ServiceConfig {
            description: Some("a test service".into()),
            ..Default::default()
        };
        cfg.limits.nofile = Some(256);
        let limits = ServiceLimits::new("svc", &cfg, Arc::new(CgroupHost::none()));
        ViewParts {
            cfg: Arc::new(cfg),
            status: Arc::new(status),
            health,
            limits: Arc::new(limits),
        }
    }

    fn running_here(now: DateTime<Utc>) -> ServiceStatus {
        let mut s = ServiceStatus::inactive();
        s.state = ServiceState::Running;
        s.instances = vec![InstanceView {
            id: 0,
            pid: Some(std::process::id() as i32),
            state: ServiceState::Running,
            started_at: Some(now - chrono::Duration::milliseconds(2500)),
        }];
        s
    }

    #[test]
    fn the_board_answers_what_was_last_published_with_usage() {
        let board = ViewBoard::default();
        let now = Utc::now();
        assert!(board.get_at("web", now).is_none());
        board.publish("web", parts(ServiceStatus::inactive(), Health::Unknown));
        board.publish("db", parts(running_here(now), Health::Healthy));

        let web = board.get_at("web", now).expect("published");
        assert_eq!(
            (web.state, web.health),
            (ServiceState::Inactive, Health::Unknown)
        );
        assert_eq!(web.description.as_deref(), Some("a test service"));
        assert_eq!(
            (web.memory_bytes, web.cpu_seconds),
            (None, None),
            "nothing runs"
        );
        assert_eq!(web.limits["nofile"].mechanism, "RLIMIT_NOFILE");

        let db = board.get_at("db", now).expect("published");
        assert_eq!(db.health, Health::Healthy);
        assert_eq!(db.uptime_seconds, Some(2.5));
        assert!(
            db.memory_bytes.unwrap_or(0) > 0,
            "this process's RSS: {db:?}"
        );
        assert!(db.cpu_seconds.is_some());

        let names: Vec<String> = board.list_at(now).into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["db", "web"], "by name");

        board.publish("web", parts(running_here(now), Health::Unhealthy));
        let web = board.get_at("web", now).expect("republished");
        assert_eq!(
            (web.state, web.health),
            (ServiceState::Running, Health::Unhealthy)
        );

        board.remove("web");
        assert!(board.get_at("web", now).is_none());
        assert_eq!(board.list_at(now).len(), 1);
    }

    #[derive(serde::Serialize)]
    struct List {
        services: Vec<ServiceView>,
    }

    #[test]
    fn the_list_json_is_the_serialized_list_and_follows_publishes() {
        let board = ViewBoard::default();
        let now = Utc::now();
        board.publish("web", parts(ServiceStatus::inactive(), Health::Unknown));
        board.publish("db", parts(running_here(now), Health::Healthy));
        let json = |visible: &dyn Fn(&str) -> bool| {
            let mut out = Vec::new();
            board
                .write_list_json_at(&mut out, visible, now)
                .expect("writes");
            String::from_utf8(out).expect("UTF-8")
        };
        let serde = |services: Vec<ServiceView>| {
            serde_json::to_string(&List { services }).expect("serializes")
        };
        assert_eq!(json(&|_| true), serde(board.list_at(now)));
        // Cached fragments, new values: a later moment, then a publish.
        let later = now + chrono::Duration::milliseconds(1500);
        let mut out = Vec::new();
        board
            .write_list_json_at(&mut out, |_| true, later)
            .expect("writes");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            serde(board.list_at(later))
        );
        board.publish("web", parts(running_here(now), Health::Unhealthy));
        assert_eq!(json(&|_| true), serde(board.list_at(now)));
        assert!(json(&|_| true).contains("\"unhealthy\""));
        assert_eq!(
            json(&|n| n == "db"),
            serde(vec![board.get_at("db", now).expect("db")])
        );
        assert_eq!(json(&|_| false), r#"{"services":[]}"#);
    }
}
