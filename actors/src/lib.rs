//! oneinit's engine: actors, their typed messages, the config model and the
//! syscall layer.
//!
//! ```text
//!  signals ──stream──▶ ServiceManager ◀──────────── API (actix-web): queries, commands
//!  (CHLD, TERM, HUP)    │ ▲ │ config, wanted, health, views (view.rs)
//!                       │ │ │ decide() (dependency_resolver), stop_plan, shutdown order
//!   SIGHUP ─── Reload ──┼─┼─┼──────────▶ ConfigLoader ◀── Reload ── POST /v1/reload
//!                       │ │ ◀─ ConfigChanged ─┘  (sources, remote.watch, validation)
//!     Start/Stop/Wait/  │ │ ServiceUpdated {generation, ServiceStatus}
//!     KillNow/Signal    ▼ │
//!                    ServiceActor (one per service) ── spawn/kill (os::Spawner)
//!                       ▲   │  └── ServiceFact ──▶ HealthChecker, Notifier, MetricsExporter
//!    InstanceReady,     │   ▼
//!    SetStatusText ─────┘  children ── stdout/stderr ──▶ log sink
//!    (HealthChecker)       reaped by the manager (os::ExitSource) ─ InstanceExited ─▶ owner
//!
//!  HealthChecker ── HealthChanged ──▶ ServiceManager, Notifier
//!  ServiceManager ── ServiceActorStarted ──▶ HealthChecker; ConfigApplied ──▶ HealthChecker, Notifier
//!  ServiceManager ── ServiceRegistered/Removed ──▶ MetricsExporter
//!  ServiceManager ── publishes view parts ──▶ ViewBoard ◀── GET /v1/services[/NAME] (API threads; usage read there)
//! ```
//!
//! One owner per fact: a service's runtime state is its ServiceActor's (the
//! manager keeps the last `ServiceStatus` it was told, and ignores one from
//! an actor generation a reload retired); the configuration and the wanted
//! flags are the manager's; where the configuration comes from is the
//! ConfigLoader's; health is the HealthChecker's. See docs/architecture.md.
//!
//! `model/` is pure (no actix, no syscalls); `sys/` is the only place with
//! `unsafe`. The supervisor reaches the kernel only through `os::Os`
//! (spawner, signals and reaper, cgroup host, clock), handed in with
//! `ManagerSetup`: `Os::real()` in the binary, a fake kernel in the
//! in-process tests (`service_manager/tests/`).

#![deny(unsafe_code)]

pub mod config_loader;
pub mod dependency_resolver;
pub mod facts;
pub mod feed;
pub mod health_checker;
pub mod logging;
pub mod metrics_exporter;
pub mod model;
pub mod notifier;
pub mod os;
pub mod processes;
pub mod secrets;
pub mod service;
pub mod service_manager;
pub mod sys;
