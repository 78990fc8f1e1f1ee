//! The running system: the actors of the design wired to each other, and
//! the HTTP API serving them. Called inside the actix system, after every
//! startup step succeeded.

use crate::steps::{BoundSockets, Logging};
use actix::{Actor, Addr, AsyncContext, Context};
use oneinit::api::{ApiBackend, ApiHandle, BoundApi};
use oneinit::metrics_listener::BoundMetrics;
use oneinit_actors::config_loader::{ConfigLoader, LoaderSetup};
use oneinit_actors::health_checker::{HealthChecker, HealthSetup};
use oneinit_actors::metrics_exporter::MetricsExporter;
use oneinit_actors::model::config::Config;
use oneinit_actors::notifier::deliver::RetryPolicy;
use oneinit_actors::notifier::{Notifier, NotifierSetup};
use oneinit_actors::service_manager::{ManagerSetup, ServiceManager};
use slog::info;
use std::collections::BTreeMap;

/// What the actors start from, once every startup step succeeded.
pub struct Plan {
    pub config: Config,
    /// The activation sockets, bound before any service runs.
    pub sockets: BoundSockets,
    /// Where a reload reads from (empty without a configuration file).
    pub reload_sources: Vec<String>,
    /// The remote documents' digests, for `remote.watch`.
    pub remote_digests: BTreeMap<String, String>,
    /// Tini mode: a command after `--`.
    pub tini: bool,
    /// Tini mode without a configuration file: every signal goes to `main`.
    pub pass_signals: bool,
}

/// Starts the actors and serves the API; call inside the actix system.
/// Answers the running API, if it could start.
pub fn start(
    plan: Plan,
    logging: &Logging,
    api: BoundApi,
    metrics: Option<BoundMetrics>,
) -> Option<ApiHandle> {
    let exporter = start_metrics_exporter(&plan.config);
    let setup = ManagerSetup {
        config: plan.config,
        log: logging.log.clone(),
        sink: logging.sink.clone(),
        format: logging.format,
        facts: vec![exporter.clone().recipient()],
        tini: plan.tini,
        registrations: vec![exporter.clone().recipient()],
        removals: vec![exporter.clone().recipient()],
        sockets: plan.sockets,
    };
    // A reload applies api.auth, TLS files and metrics through this.
    let live = api.live();
    let level = logging.reloadable_level.clone();
    let pass_signals = plan.pass_signals;
    let started = start_actors(
        setup,
        plan.reload_sources,
        plan.remote_digests,
        exporter,
        move |manager| {
            let mut manager = manager.with_settings_hook(live);
            if pass_signals {
                manager = manager.passing_signals();
            }
            match level {
                Some((handle, default)) => manager.with_log_level(handle, default),
                None => manager,
            }
        },
    );
    serve_api(&started, api, metrics, &logging.log)
}

/// The running actors the API talks to.
struct Started {
    manager: Addr<ServiceManager>,
    loader: Addr<ConfigLoader>,
    exporter: Addr<MetricsExporter>,
}

/// Starts the MetricsExporter on an arbiter of its own, so a scrape's
/// /proc walk never delays the ServiceManager.
fn start_metrics_exporter(config: &Config) -> Addr<MetricsExporter> {
    let exporter = MetricsExporter::new(config.notifiers.keys().cloned());
    let arbiter = actix::Arbiter::new();
    MetricsExporter::start_in_arbiter(&arbiter.handle(), |_| exporter)
}

/// Starts the ServiceManager with its peers: the ConfigLoader (reloads
/// from `sources`, watches remote ones from `digests`), and the
/// HealthChecker and the Notifier, which observe its services' facts and
/// report back to it. Their contexts exist before anything runs, so each
/// can be given the others' addresses, and the NOTIFY_SOCKETs are bound
/// before any spawn. `configure` finishes the manager (reload hooks, log
/// level, signal passing).
fn start_actors(
    mut setup: ManagerSetup,
    sources: Vec<String>,
    digests: BTreeMap<String, String>,
    exporter: Addr<MetricsExporter>,
    configure: impl FnOnce(ServiceManager) -> ServiceManager,
) -> Started {
    let manager_ctx = Context::<ServiceManager>::new();
    let loader_ctx = Context::<ConfigLoader>::new();
    let health_ctx = Context::<HealthChecker>::new();
    let notifier_ctx = Context::<Notifier>::new();
    let manager_addr = manager_ctx.address();
    setup.facts.push(health_ctx.address().recipient());
    setup.facts.push(notifier_ctx.address().recipient());
    let services = setup.config.services.clone();
    let notifiers = setup.config.notifiers.clone();
    let log = setup.log.clone();
    let loader = ConfigLoader::new(LoaderSetup {
        sources,
        digests,
        watch: setup.config.remote.watch.map(|d| d.get()),
        manager: manager_addr.clone().recipient(),
        log: log.clone(),
    });
    let mut manager =
        configure(ServiceManager::new(setup)).with_reloader(loader_ctx.address().recipient());
    manager.observe_config(health_ctx.address().recipient());
    manager.observe_actors(health_ctx.address().recipient());
    manager.observe_config(notifier_ctx.address().recipient());
    let procs = manager.process_table();
    let health = HealthChecker::new(HealthSetup {
        services: services.clone(),
        procs: procs.clone(),
        health: vec![manager_addr.recipient(), notifier_ctx.address().recipient()],
        checks: vec![exporter.clone().recipient()],
        log: log.clone(),
    });
    let notifier = Notifier::new(NotifierSetup {
        notifiers,
        services,
        procs,
        delivered: vec![exporter.clone().recipient()],
        retry: RetryPolicy::default(),
        log,
    });
    let manager = manager_ctx.run(manager);
    let loader = loader_ctx.run(loader);
    health_ctx.run(health);
    notifier_ctx.run(notifier);
    Started {
        manager,
        loader,
        exporter,
    }
}

/// Serves the API (and `metrics.listen`) on the listeners bound at startup.
/// The services are already starting, so a failure here is logged, not
/// fatal: the supervisor keeps its services running without an API.
fn serve_api(
    started: &Started,
    api: BoundApi,
    metrics: Option<BoundMetrics>,
    log: &slog::Logger,
) -> Option<ApiHandle> {
    let gather = started.exporter.clone().recipient();
    let backend = ApiBackend::new(
        &started.manager,
        started.loader.clone().recipient(),
        Some(gather),
    );
    if let Some(m) = metrics {
        let addr = m.addr.to_string();
        match m.serve(&api, backend.clone(), log.clone()) {
            Ok(url) => info!(log, "serving metrics"; "listen" => addr, "url" => url),
            Err(e) => slog::error!(log, "the metrics listener could not start"; "error" => %e),
        }
    }
    match api.serve(backend, log.clone()) {
        Ok(handle) => {
            // The bound address, port 0 resolved: tests and tooling read it.
            for address in &handle.addresses {
                info!(log, "api listening"; "listen" => address);
            }
            Some(handle)
        }
        Err(e) => {
            slog::error!(log, "the API could not start"; "error" => %e);
            None
        }
    }
}
