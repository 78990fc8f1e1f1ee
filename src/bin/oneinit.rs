//! `oneinit`: flags, logging, PID-1 setup, actors, HTTP server, exit code.

use actix::{Actor, Addr, AsyncContext, Context};
use clap::{Parser, Subcommand};
use oneinit::metrics_listener;
use oneinit_actors::config_loader::{self, ConfigLoader, LoaderSetup};
use oneinit_actors::health_checker::{HealthChecker, HealthSetup};
use oneinit_actors::logging::rotate::{report_to, RotatingFile, RotationPolicy};
use oneinit_actors::logging::{root_logger_with_level, sink::LogSink, LevelHandle};
use oneinit_actors::metrics_exporter::MetricsExporter;
use oneinit_actors::model::activation;
use oneinit_actors::model::config::{
    Command, Config, LogFormat, LogLevel, RestartPolicy, ServiceConfig, ServiceType,
};
use oneinit_actors::model::signal::Signal;
use oneinit_actors::model::signal::{parse_signal, SignalName, UnknownSignal};
use oneinit_actors::notifier::deliver::RetryPolicy;
use oneinit_actors::notifier::{Notifier, NotifierSetup};
use oneinit_actors::service::plan;
use oneinit_actors::service_manager::view::ViewBoard;
use oneinit_actors::service_manager::{ManagerSetup, ServiceManager};
use oneinit_actors::sys::{pid1, signals, socket};
use slog::{info, warn};
use std::process::ExitCode;
use std::time::Duration;

/// A fast, small init system and process supervisor for containers.
#[derive(Parser, Debug)]
#[command(name = "oneinit", version = oneinit::build_info::LONG_VERSION, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Configuration file or URL; repeat to merge several (later ones as if included by the first).
    #[arg(long = "config", value_name = "PATH|URL", global = true)]
    config: Vec<String>,
    /// Serve the API here too (`unix:///path` or `host:port`); repeatable.
    #[arg(long = "api-listen", value_name = "ADDR")]
    api_listen: Vec<String>,
    /// Format of oneinit's own log lines [default: json, or logging.format].
    #[arg(long = "log-format", value_name = "json|text", value_parser = ["json", "text"])]
    log_format: Option<String>,
    /// Lowest level of oneinit's own log lines; captured service output is always kept
    /// [default: info, or logging.level].
    #[arg(long = "log-level", value_name = "LEVEL", value_parser = ["trace", "debug", "info", "warn", "error"])]
    log_level: Option<String>,
    /// Run COMMAND as the critical service `main` and exit with its status (like tini).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
    /// Tini mode: send the signals for COMMAND to its whole process group, not
    /// just to its process (tini's -g; also set by TINI_KILL_PROCESS_GROUP).
    #[arg(short = 'g')]
    group: bool,
    /// Accepted for tini compatibility; oneinit is always a subreaper.
    #[arg(short = 's')]
    subreaper: bool,
    /// Tini mode: exit 0 when COMMAND exits with CODE (0-255); repeatable (tini's -e).
    #[arg(short = 'e', value_name = "CODE")]
    expect_exit: Vec<u8>,
    /// Signal oneinit receives when its parent process dies, e.g. TERM or KILL
    /// (tini's -p; PR_SET_PDEATHSIG).
    #[arg(short = 'p', value_name = "SIGNAL", value_parser = parse_signal_arg)]
    parent_death_signal: Option<Signal>,
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Validate the configuration and exit 0 (valid) or 2 (errors, one per line).
    Check {
        /// Print the merged configuration as YAML.
        #[arg(long)]
        print: bool,
    },
    /// Convert a supervisord.conf to oneinit YAML on stdout.
    ImportSupervisord {
        /// The supervisord configuration file.
        file: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.sub {
        Some(Sub::Check { print }) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let sources = if cli.config.is_empty() {
                config_loader::default_sources()
            } else {
                cli.config.clone()
            };
            match rt.block_on(config_loader::load(&sources)) {
                Ok(loaded) => {
                    for w in &loaded.warnings {
                        eprintln!("warning: {w}");
                    }
                    // How each limit is enforced here (stderr: stdout stays YAML).
                    for line in oneinit_actors::service::limits::check_report(&loaded.config) {
                        eprintln!("{line}");
                    }
                    if print {
                        print!(
                            "{}",
                            serde_yaml::to_string(&loaded.config).unwrap_or_default()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    ExitCode::from(2)
                }
            }
        }
        Some(Sub::ImportSupervisord { file }) => import_supervisord(&file),
        None => ExitCode::from(run(cli).clamp(0, 255) as u8),
    }
}

/// The supervisor thread's runtime: actix's default (current thread, I/O,
/// timers), except that a helper thread of the blocking pool (file reads of
/// the config loader) leaves 1 s after its last job instead of 10 s: an idle
/// supervisor keeps no thread it does not need.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("oneinit: cannot start the async runtime: {e}");
            std::process::exit(1)
        })
}

/// `-p SIGNAL`: a name (`TERM`, `SIGUSR1`, `RTMIN+1`) or a number.
fn parse_signal_arg(text: &str) -> Result<Signal, UnknownSignal> {
    parse_signal(text)
}

/// tini's flags: `-g` and `-e` only mean something for the command after `--`.
fn misplaced_tini_flags(cli: &Cli) -> bool {
    cli.command.is_empty() && (cli.group || !cli.expect_exit.is_empty())
}

/// Supervises until shutdown; returns oneinit's exit code (SPEC 1).
fn run(cli: Cli) -> i32 {
    oneinit_actors::sys::memory::tune_allocator();
    // Before any socket or pipe exists; services get the original back.
    let nofile = oneinit_actors::sys::spawn::raise_nofile_limit();
    if misplaced_tini_flags(&cli) {
        eprintln!("oneinit: -g and -e apply to the command after `--` (tini mode); add `-- COMMAND [ARG]...` or remove them");
        return 2;
    }
    if let Some(sig) = cli.parent_death_signal {
        if let Err(e) = pid1::set_parent_death_signal(sig) {
            eprintln!("oneinit: -p {sig}: cannot set the parent-death signal: {e}");
            return 2;
        }
    }
    let tini = !cli.command.is_empty();
    // tini reads TINI_KILL_PROCESS_GROUP as -g (its presence, whatever the value).
    let tini_group = cli.group || std::env::var_os("TINI_KILL_PROCESS_GROUP").is_some();
    let explicit = !cli.config.is_empty();
    let sources = if explicit {
        cli.config.clone()
    } else {
        config_loader::default_sources()
    };
    let use_config = explicit || sources.iter().any(|s| std::path::Path::new(s).exists());
    if !use_config && !tini {
        eprintln!(
            "oneinit: no configuration found (tried {}); pass --config FILE, set ONEINIT_CONFIG, or run a command with `oneinit -- COMMAND`",
            sources.join(", ")
        );
        return 2;
    }
    let system = actix::System::with_tokio_rt(runtime);
    let mut remote_digests = Default::default();
    let mut config = if use_config {
        match system.block_on(config_loader::load(&sources)) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("warning: {w}");
                }
                remote_digests = loaded.remote_digests;
                loaded.config
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                return 2;
            }
        }
    } else {
        Config::default()
    };
    // Secrets (token_env, secrets_env, ONECLI_TOKEN) never reach children.
    oneinit_actors::secrets::protect(&config);
    if tini {
        if config.services.contains_key("main") {
            eprintln!("oneinit: the service name `main` is reserved for the command after `--`; rename the service in the configuration");
            return 2;
        }
        let main = tini_main(&config, cli.command.clone(), tini_group, !use_config);
        config
            .services
            .insert("main".into(), std::sync::Arc::new(main));
    }
    let identity_errors: Vec<String> = config
        .services
        .iter()
        .filter_map(|(name, svc)| {
            plan::check_identity(svc)
                .err()
                .map(|e| format!("{}: service {name:?}: {e}", sources.join(", ")))
        })
        .collect();
    if !identity_errors.is_empty() {
        for e in identity_errors {
            eprintln!("{e}");
        }
        return 2;
    }
    // Socket activation: check the keys, then bind every `socket.listen`
    // before any service runs, so clients can connect early (SPEC 3).
    let sockets = match bind_activation_sockets(&config, &sources) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return 2;
        }
    };
    // The API listeners are bound now, before any service starts, so a
    // refused or taken address is a start error (exit 2).
    let api_settings = oneinit::api::ApiSettings::new(
        config.api.clone(),
        config.metrics.clone(),
        cli.api_listen.clone(),
    );
    let bound_api = match oneinit::api::bind(api_settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("oneinit: {e}");
            return 2;
        }
    };
    let bound_metrics = match metrics_listener::bind(&config.metrics, &config.api) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("oneinit: {e}");
            return 2;
        }
    };

    let format = match cli.log_format.as_deref() {
        Some("text") => LogFormat::Text,
        Some(_) => LogFormat::Json,
        None => config.logging.format.unwrap_or(LogFormat::Json),
    };
    // Without --log-level, a reload may change the level (logging.level).
    let default_level = if tini {
        LogLevel::Error
    } else {
        LogLevel::Info
    };
    let level = match cli.log_level.as_deref() {
        Some("trace") => LogLevel::Trace,
        Some("debug") => LogLevel::Debug,
        Some("warn") => LogLevel::Warn,
        Some("error") => LogLevel::Error,
        Some(_) => LogLevel::Info,
        // Tini mode passes main's output through: only errors of its own.
        None => config.logging.level.unwrap_or(default_level),
    };
    let stall = config
        .logging
        .stall_timeout
        .map_or(oneinit_actors::logging::sink::DEFAULT_STALL, |d| d.get());
    let sink = LogSink::start_with(stdout_writer(), stall);
    let level_handle = LevelHandle::new(level);
    let log = root_logger_with_level(&sink, format, level_handle.clone());
    oneinit::api::accept_log::install(log.clone());
    if let Some(file) = &config.logging.file {
        let policy = RotationPolicy::for_oneinit(file);
        sink.add_output(Box::new(RotatingFile::open(policy, report_to(log.clone()))));
    }

    match nofile {
        Ok((before, after)) if before != after => {
            info!(log, "raised the open-files soft limit; services keep the original"; "nofile" => after, "services_nofile" => before)
        }
        Ok(_) => {}
        Err(e) => warn!(log, "cannot raise the open-files soft limit"; "error" => %e),
    }
    if !pid1::is_pid1() {
        if let Err(e) = pid1::become_subreaper() {
            warn!(log, "cannot become a child subreaper; orphans of services will not be reaped"; "error" => %e);
        }
    }
    let exporter = start_metrics_exporter(&config);
    let setup = ManagerSetup {
        config,
        log: log.clone(),
        sink: sink.clone(),
        format,
        facts: vec![exporter.clone().recipient()],
        tini,
        registrations: vec![exporter.clone().recipient()],
        removals: vec![exporter.clone().recipient()],
        sockets,
    };
    // Where a reload reads from; nothing without a configuration file.
    let reload_sources = if use_config {
        sources.clone()
    } else {
        Vec::new()
    };
    let api_log = log.clone();
    let fixed_level = cli.log_level.is_some();
    let pass_signals = tini && !use_config;
    // A reload applies api.auth, TLS files and metrics through this.
    let live = bound_api.live();
    // The manager publishes service views here; the API reads them.
    let views = ViewBoard::default();
    let manager_views = views.clone();
    let api = system.block_on(async move {
        let gather = exporter.clone().recipient();
        let (manager, loader) = start_actors(
            setup,
            reload_sources,
            remote_digests,
            &exporter,
            move |manager| {
                let mut manager = manager
                    .with_settings_hook(live)
                    .publishing_views(manager_views);
                if pass_signals {
                    manager = manager.passing_signals();
                }
                if fixed_level {
                    manager
                } else {
                    manager.with_log_level(level_handle, default_level)
                }
            },
        );
        let backend = oneinit::api::ApiBackend::new(&manager, loader.recipient(), Some(gather))
            .reading_views(views);
        if let Some(m) = bound_metrics {
            let addr = m.addr.to_string();
            match m.serve(&bound_api, backend.clone(), api_log.clone()) {
                Ok(url) => info!(api_log, "serving metrics"; "listen" => addr, "url" => url),
                Err(e) => {
                    slog::error!(api_log, "the metrics listener could not start"; "error" => %e)
                }
            }
        }
        bound_api.serve(backend, api_log)
    });
    let api = match api {
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
    };
    let code = system.run_with_code().unwrap_or(1);
    // tini's -e: main's expected codes count as success.
    let code = match u8::try_from(code) {
        Ok(c) if tini && cli.expect_exit.contains(&c) => 0,
        _ => code,
    };
    if let Some(api) = &api {
        api.remove_sockets();
    }
    drop(log);
    // Bounded by progress: a flush gives up once stdout takes nothing.
    sink.flush(Duration::from_secs(60));
    code
}

/// stdout for the log writer: a duplicate of fd 1 written directly, not
/// std's line-buffered `Stdout` (the writer batches records itself).
fn stdout_writer() -> Box<dyn std::io::Write + Send> {
    use std::os::fd::AsFd;
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::stdout()),
    }
}

/// Starts the ServiceManager with its peers: the ConfigLoader (reloads
/// from `sources`, watches remote ones from `digests`), and the
/// HealthChecker and the Notifier, which observe its services' facts and
/// report back to it. Their contexts exist before anything runs, so each
/// can be given the others' addresses, and the NOTIFY_SOCKETs are bound
/// before any spawn. Answers the manager's and the loader's addresses (for
/// the API).
fn start_actors(
    mut setup: ManagerSetup,
    sources: Vec<String>,
    digests: std::collections::BTreeMap<String, String>,
    exporter: &Addr<MetricsExporter>,
    configure: impl FnOnce(ServiceManager) -> ServiceManager,
) -> (Addr<ServiceManager>, Addr<ConfigLoader>) {
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
    (manager, loader)
}

type BoundSockets = std::collections::BTreeMap<String, Vec<socket::ListenSocket>>;

/// Checks the activation keys (`socket`, `schedule`, `max_instances`) and
/// binds the listen sockets; errors are prefixed with the config source.
fn bind_activation_sockets(
    config: &Config,
    sources: &[String],
) -> Result<BoundSockets, Vec<String>> {
    let source = sources.first().map(String::as_str).unwrap_or("oneinit");
    let prefix = |errors: Vec<String>| -> Vec<String> {
        errors
            .into_iter()
            .map(|e| format!("{source}: {e}"))
            .collect()
    };
    let errors = activation::check(&config.services);
    if !errors.is_empty() {
        return Err(prefix(errors));
    }
    socket::bind_all(&config.services).map_err(prefix)
}

/// Starts the MetricsExporter on an arbiter of its own, so a scrape's
/// /proc walk never delays the ServiceManager. Call inside the actix system.
fn start_metrics_exporter(config: &Config) -> Addr<MetricsExporter> {
    let exporter = MetricsExporter::new(config.notifiers.keys().cloned());
    let arbiter = actix::Arbiter::new();
    MetricsExporter::start_in_arbiter(&arbiter.handle(), |_| exporter)
}

/// Tini mode: the command after `--` as the critical service `main`.
/// Its signals go to its process, or to its process group with `-g`
/// (`group`). Without a config file (`pass_all`) every signal oneinit
/// catches but SIGCHLD is forwarded to it, like tini; with one, the signals
/// that mean something to oneinit (TERM, INT, QUIT, HUP, USR1) keep their
/// meaning and the others are forwarded (SPEC 1).
fn tini_main(config: &Config, command: Vec<String>, group: bool, pass_all: bool) -> ServiceConfig {
    let capture = config
        .defaults
        .as_ref()
        .and_then(|d| d.pointer("/logs/capture"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut main = ServiceConfig {
        kind: ServiceType::Ongoing,
        command: Command::List(command),
        critical: true,
        ..ServiceConfig::default()
    };
    main.restart.policy = Some(RestartPolicy::Never);
    main.logs.capture = Some(capture);
    main.stop.group = group;
    let kept_by_oneinit = |s: Signal| match s {
        Signal::SIGCHLD => true,
        Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT | Signal::SIGHUP | Signal::SIGUSR1 => {
            !pass_all
        }
        _ => false,
    };
    main.forward_signals = signals::caught()
        .filter(|&s| !kept_by_oneinit(s))
        .map(SignalName)
        .collect();
    main
}

/// `oneinit import-supervisord FILE`: YAML on stdout, warnings on stderr,
/// exit 2 when the file cannot be converted.
fn import_supervisord(file: &str) -> ExitCode {
    match oneinit::import::convert_supervisord(std::path::Path::new(file)) {
        Ok(conversion) => {
            for w in &conversion.warnings {
                eprintln!("{w}");
            }
            print!("{}", conversion.yaml);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
