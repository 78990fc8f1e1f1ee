//! oneinit's engine: actors, their typed messages, the config model and the
//! syscall layer.
//!
//! ```text
//!   signals (SIGCHLD, TERM, HUP, ...) ──stream──▶ ServiceManager ◀── API (actix-web)
//!                                                   │  ▲
//!              ConfigLoader ◀── LoadConfig ─────────┤  │ StateChanged / ServiceExited
//!         DependencyResolver ◀── Resolve* ──────────┤  │
//!                                                   ▼  │
//!                                   ServiceActor (one per service)
//!                                        │ spawn / kill (sys::spawn)
//!                                        ▼
//!                                   child processes ── stdout/stderr ──▶ log sink
//!   HealthChecker ── HealthChanged ──▶ ServiceManager ── metric facts ──▶ MetricsExporter
//! ```
//!
//! `model/` is pure (no actix, no syscalls); `sys/` is the only place with
//! `unsafe`.

#![deny(unsafe_code)]

pub mod config_loader;
pub mod dependency_resolver;
pub mod feed;
pub mod health_checker;
pub mod logging;
pub mod metrics_exporter;
pub mod model;
pub mod notifier;
pub mod secrets;
pub mod service;
pub mod service_manager;
pub mod sys;
