//! The API settings a reload may change while every connection stays open
//! (SPEC 9): `api.auth` (tokens, client CNs), `api.allowed_hosts`,
//! `api.tls` certificate files and the `metrics` section. Request handlers
//! read the current `Live` per request, so a removed token stops working
//! with the next request; TLS handshakes read the current certificate (see
//! `tls::Reloadable`).
//!
//! `LiveControl::apply` is the one entry point: it builds everything new
//! first (token files, token variables, PEM files) and swaps only when all
//! of it is valid, so a bad reload changes nothing. The ServiceManager calls
//! it through the `SettingsHook` trait during a reload.

use super::auth::{AuthError, Authenticator};
use super::conn::ConnCounter;
use super::sse::SseLimit;
use super::tls::{Reloadable, TlsError};
use oneinit_actors::model::config::{ApiConfig, Config, MetricsConfig};
use oneinit_actors::service_manager::settings::{SettingsChanges, SettingsHook};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

/// Why new `api` settings cannot be applied; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// What one request sees.
pub struct Live {
    pub auth: Authenticator,
    pub metrics: MetricsConfig,
    /// Extra `Host` names allowed on TCP listeners (lower case).
    pub allowed_hosts: Vec<String>,
}

impl Live {
    pub fn new(api: &ApiConfig, metrics: &MetricsConfig) -> Result<Live, AuthError> {
        Ok(Live {
            auth: Authenticator::new(api.auth.as_ref())?,
            metrics: metrics.clone(),
            allowed_hosts: api
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }
}

/// The settings in effect, shared by every worker and the reload hook.
pub struct LiveControl {
    current: RwLock<Arc<Live>>,
    /// The sections as last applied, to report what a reload changed.
    applied: RwLock<(ApiConfig, MetricsConfig)>,
    /// Present when the TCP listeners serve TLS.
    tls: Option<Reloadable>,
    /// Connection and event-stream limits of each server, for `/metrics`.
    limits: RwLock<Vec<(Arc<ConnCounter>, Arc<SseLimit>)>>,
}

impl LiveControl {
    pub fn new(
        live: Live,
        api: ApiConfig,
        metrics: MetricsConfig,
        tls: Option<Reloadable>,
    ) -> LiveControl {
        LiveControl {
            current: RwLock::new(Arc::new(live)),
            applied: RwLock::new((api, metrics)),
            tls,
            limits: RwLock::new(Vec::new()),
        }
    }

    /// Adds one server's limits to the exposition.
    pub fn register_limits(&self, conns: Arc<ConnCounter>, sse: Arc<SseLimit>) {
        match self.limits.write() {
            Ok(mut g) => g.push((conns, sse)),
            Err(p) => p.into_inner().push((conns, sse)),
        }
    }

    /// The API's own series (Prometheus text), appended to `/metrics`.
    pub fn exposition(&self) -> String {
        use std::fmt::Write;
        let limits = match self.limits.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut out = String::new();
        let families: [Family; 4] = [
            ("oneinit_api_connections_open", "gauge", "Open API connections, by server (unix or tcp listeners).", |c, _| c.open() as u64),
            ("oneinit_api_connection_cap_reached_total", "counter", "Times an API server reached its connection cap (further clients waited in the backlog).", |c, _| c.capped.load(Ordering::Relaxed)),
            ("oneinit_api_event_streams_open", "gauge", "Open Server-Sent Event streams, by server.", |_, s| s.open() as u64),
            ("oneinit_api_event_streams_refused_total", "counter", "Event streams refused (503) because the server's cap was reached.", |_, s| s.refused.load(Ordering::Relaxed)),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (c, s) in &limits {
                let _ = writeln!(out, "{name}{{listeners=\"{}\"}} {}", c.what, value(c, s));
            }
        }
        let _ = writeln!(
            out,
            "# HELP oneinit_api_accept_errors_total Failed accept() calls of the API (EMFILE, ENFILE), each followed by a 510 ms pause.\n# TYPE oneinit_api_accept_errors_total counter\noneinit_api_accept_errors_total {}",
            super::accept_log::ACCEPT_ERRORS.load(Ordering::Relaxed)
        );
        out
    }

    /// The settings for one request.
    pub fn current(&self) -> Arc<Live> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Validates and applies new `api` / `metrics` sections; answers which
    /// keys changed (names only, never secrets). Keys that need a restart
    /// (`api.listen`, `api.tls` added or removed, `metrics.listen`) are
    /// reported in `restart_needed` and not applied.
    pub fn apply(
        &self,
        api: &ApiConfig,
        metrics: &MetricsConfig,
    ) -> Result<SettingsChanges, LiveError> {
        let (old_api, old_metrics) = match self.applied.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut changes = SettingsChanges::default();
        let live = Live::new(api, metrics)?;
        // TLS: files are re-read on every reload (rotation in place, as
        // Kubernetes updates a mounted secret), so compare contents.
        let prepared = match (&self.tls, &api.tls) {
            (Some(reloadable), Some(tls)) => {
                let client_auth = api.auth.as_ref().and_then(|a| a.client_auth);
                let p = reloadable.prepare(tls, client_auth)?;
                if p.changed {
                    changes.api.push("tls".into());
                }
                Some(p)
            }
            (None, None) => None,
            _ => {
                changes.restart_needed.push("api.tls".into());
                None
            }
        };
        if old_api.auth != api.auth || auth_secrets_changed(&self.current(), &live) {
            changes.api.push("auth".into());
        }
        if old_api.allowed_hosts != api.allowed_hosts {
            changes.api.push("allowed_hosts".into());
        }
        if old_api.listen != api.listen {
            changes.restart_needed.push("api.listen".into());
        }
        if old_api.insecure != api.insecure {
            changes.restart_needed.push("api.insecure".into());
        }
        if old_api.ui != api.ui {
            changes.restart_needed.push("api.ui".into());
        }
        for (key, differs) in [
            ("enabled", old_metrics.enabled != metrics.enabled),
            ("path", old_metrics.path != metrics.path),
            ("auth", old_metrics.auth != metrics.auth),
        ] {
            if differs {
                changes.metrics.push(key.into());
            }
        }
        if old_metrics.listen != metrics.listen {
            changes.restart_needed.push("metrics.listen".into());
        }
        // Everything is valid: swap.
        if let Some(p) = prepared {
            if let Some(r) = &self.tls {
                r.commit(p);
            }
        }
        let live = Arc::new(live);
        match self.current.write() {
            Ok(mut g) => *g = live,
            Err(p) => *p.into_inner() = live,
        }
        match self.applied.write() {
            Ok(mut g) => *g = (api.clone(), metrics.clone()),
            Err(p) => *p.into_inner() = (api.clone(), metrics.clone()),
        }
        Ok(changes)
    }
}

/// One API series family: name, type, help, and its value per server.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ConnCounter, &SseLimit) -> u64,
);

/// A `token_file` or `token_env` may hold a new secret under an unchanged
/// config; compare the resolved hashes too.
fn auth_secrets_changed(old: &Live, new: &Live) -> bool {
    old.auth.fingerprint() != new.auth.fingerprint()
}

impl SettingsHook for LiveControl {
    fn apply(&self, config: &Config) -> Result<SettingsChanges, Vec<String>> {
        // The hook's contract (actors crate): the reload's error lines.
        LiveControl::apply(self, &config.api, &config.metrics).map_err(|e| vec![e.to_string()])
    }
}
