//! The startup steps before anything runs, in the order `main` calls them:
//! prepare the process, find and load the configuration, add tini's `main`,
//! check identities, bind activation sockets and the API listeners, start
//! the logging. Each answers a `StartupError` (exit 2 or 1, see `error`).

use crate::cli::Cli;
use crate::error::StartupError;
use crate::tini;
use oneinit::api::{ApiSettings, BoundApi};
use oneinit::metrics_listener::{self, BoundMetrics};
use oneinit_actors::config_loader::{self, LoadedConfig};
use oneinit_actors::logging::rotate::{report_to, RotatingFile, RotationPolicy};
use oneinit_actors::logging::{root_logger_with_level, sink::LogSink, LevelHandle};
use oneinit_actors::model::activation;
use oneinit_actors::model::config::{Config, LogFormat, LogLevel};
use oneinit_actors::service::plan;
use oneinit_actors::sys::{pid1, socket};
use slog::{info, warn};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The open-files limits before and after raising it, or why it failed.
pub type NofileChange = std::io::Result<(u64, u64)>;

/// Process-wide settings that must come before any socket, pipe or thread:
/// the allocator, the open-files limit, tini's flags and `-p`.
pub fn prepare_process(cli: &Cli) -> Result<NofileChange, StartupError> {
    oneinit_actors::sys::memory::tune_allocator();
    // Before any socket or pipe exists; services get the original back.
    let nofile = oneinit_actors::sys::spawn::raise_nofile_limit();
    if cli.misplaced_tini_flags() {
        return Err(StartupError::MisplacedTiniFlags);
    }
    if let Some(signal) = cli.parent_death_signal {
        pid1::set_parent_death_signal(signal)
            .map_err(|source| StartupError::ParentDeathSignal { signal, source })?;
    }
    Ok(nofile)
}

/// Where the configuration comes from.
pub struct Sources {
    /// `--config`, else `$ONEINIT_CONFIG`, else the default path.
    pub list: Vec<String>,
    /// False in tini mode without any configuration file.
    pub used: bool,
}

/// Picks the configuration sources; without any (and without a command
/// after `--`) there is nothing to supervise.
pub fn find_sources(cli: &Cli) -> Result<Sources, StartupError> {
    let explicit = !cli.config.is_empty();
    let list = if explicit {
        cli.config.clone()
    } else {
        config_loader::default_sources()
    };
    let used = explicit || list.iter().any(|s| std::path::Path::new(s).exists());
    if !used && !cli.tini() {
        return Err(StartupError::NoConfig { tried: list });
    }
    Ok(Sources { list, used })
}

/// The asynchronous runtime of the supervisor thread: actix's default
/// (current thread, I/O, timers), except that a helper thread of the
/// blocking pool (file reads of the config loader) leaves 1 s after its
/// last job instead of 10 s: an idle supervisor keeps no thread it does not
/// need.
pub fn runtime() -> Result<tokio::runtime::Runtime, StartupError> {
    // tokio panics instead of failing when its signal driver finds no free
    // descriptor; make sure a few are free first, so that too few is exit 1.
    spare_descriptors(RUNTIME_DESCRIPTORS).map_err(StartupError::Runtime)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .map_err(StartupError::Runtime)
}

/// Descriptors the runtime opens for itself: epoll, its waker, the signal
/// driver's socket pair, with room to spare.
const RUNTIME_DESCRIPTORS: usize = 8;

/// Fails with EMFILE unless `n` descriptors can be opened now (they are
/// closed again at once). Socket pairs need no filesystem (a `scratch` image
/// may have no /dev/null).
fn spare_descriptors(n: usize) -> std::io::Result<()> {
    let mut held = Vec::with_capacity(n / 2);
    for _ in 0..n.div_ceil(2) {
        held.push(std::os::unix::net::UnixStream::pair()?);
    }
    Ok(())
}

/// Loads and validates the configuration; warnings go to stderr.
pub async fn load_config(sources: &[String]) -> Result<LoadedConfig, StartupError> {
    let loaded = config_loader::load(sources)
        .await
        .map_err(StartupError::Config)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    Ok(loaded)
}

/// Tini mode: the command after `--` becomes the service `main`.
pub fn add_tini_main(
    config: &mut Config,
    cli: &Cli,
    sources: &Sources,
) -> Result<(), StartupError> {
    if !cli.tini() {
        return Ok(());
    }
    if config.services.contains_key("main") {
        return Err(StartupError::ReservedMain);
    }
    // tini reads TINI_KILL_PROCESS_GROUP as -g (its presence, whatever the value).
    let group = cli.group || std::env::var_os("TINI_KILL_PROCESS_GROUP").is_some();
    let main = tini::main_service(config, cli.command.clone(), group, !sources.used);
    config.services.insert("main".into(), Arc::new(main));
    Ok(())
}

/// Every service's `user`/`group` exists and may be switched to.
pub fn check_identities(config: &Config, sources: &[String]) -> Result<(), StartupError> {
    let errors: Vec<String> = config
        .services
        .iter()
        .filter_map(|(name, svc)| {
            plan::check_identity(svc)
                .err()
                .map(|e| format!("{}: service {name:?}: {e}", sources.join(", ")))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StartupError::Identity(errors))
    }
}

/// The listen sockets of socket-activated services, by service.
pub type BoundSockets = BTreeMap<String, Vec<socket::ListenSocket>>;

/// Socket activation: checks the activation keys (`socket`, `schedule`,
/// `max_instances`), then binds every `socket.listen` before any service
/// runs, so clients can connect early (SPEC 3). Errors are prefixed with
/// the config source.
pub fn bind_activation_sockets(
    config: &Config,
    sources: &[String],
) -> Result<BoundSockets, StartupError> {
    let source = sources.first().map_or("oneinit", String::as_str);
    let prefix = |errors: Vec<String>| {
        StartupError::Activation(
            errors
                .into_iter()
                .map(|e| format!("{source}: {e}"))
                .collect(),
        )
    };
    let errors = activation::check(&config.services);
    if !errors.is_empty() {
        return Err(prefix(errors));
    }
    socket::bind_all(&config.services).map_err(prefix)
}

/// The API (and `metrics.listen`) listeners, bound now, before any service
/// starts, so a refused or taken address is a start error (exit 2).
pub fn bind_api(
    config: &Config,
    extra_listen: &[String],
) -> Result<(BoundApi, Option<BoundMetrics>), StartupError> {
    let settings = ApiSettings::new(
        config.api.clone(),
        config.metrics.clone(),
        extra_listen.to_vec(),
    );
    let api = oneinit::api::bind(settings)?;
    let metrics = metrics_listener::bind(&config.metrics, &config.api)?;
    Ok((api, metrics))
}

/// oneinit's own log: the sink that writes it, the root logger, and the
/// level a reload may change.
pub struct Logging {
    pub sink: LogSink,
    pub log: slog::Logger,
    pub format: LogFormat,
    /// Without `--log-level`, a reload may change the level
    /// (`logging.level`): the handle and the level to go back to.
    pub reloadable_level: Option<(LevelHandle, LogLevel)>,
}

/// Starts the log sink on stdout (and `logging.file`): the flags win over
/// the configuration. In tini mode `main`'s output is passed through, so
/// oneinit logs only errors of its own unless told otherwise.
pub fn start_logging(cli: &Cli, config: &Config) -> Logging {
    let format = cli
        .log_format
        .map(LogFormat::from)
        .or(config.logging.format)
        .unwrap_or(LogFormat::Json);
    let default_level = if cli.tini() {
        LogLevel::Error
    } else {
        LogLevel::Info
    };
    let level = cli
        .log_level
        .map(LogLevel::from)
        .or(config.logging.level)
        .unwrap_or(default_level);
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
    let reloadable_level = cli
        .log_level
        .is_none()
        .then_some((level_handle, default_level));
    Logging {
        sink,
        log,
        format,
        reloadable_level,
    }
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

/// Logs what `prepare_process` did to the open-files limit, and makes
/// oneinit the reaper of its services' orphans when it is not PID 1.
pub fn adopt_orphans(log: &slog::Logger, nofile: NofileChange) {
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
}
