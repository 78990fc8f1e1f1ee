//! The configuration schema (SPEC 2): plain serde structs, one per section,
//! shared by every format (YAML, TOML, JSON). Defaults live here, next to the
//! field they belong to. Loading, includes, `${VAR}` expansion, `defaults`
//! merging and validation are the config loader's job (`crate::config_loader`);
//! this file only says what a valid document looks like.

use super::signal::Signal;
use super::signal::SignalName;
use super::units::{ConfDuration, ConfSize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole, merged configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Already followed by the loader; kept so `check --print` shows it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<IncludeEntry>,
    pub api: ApiConfig,
    pub metrics: MetricsConfig,
    pub logging: LoggingConfig,
    pub notifiers: BTreeMap<String, NotifierConfig>,
    pub remote: RemoteConfig,
    /// Applied by the loader to every service before typing; kept raw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<serde_json::Value>,
    pub shutdown: ShutdownConfig,
    /// Environment variables that are secrets: never inherited by a child
    /// unless a service names them in `environment` (see `crate::secrets`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_env: Vec<String>,
    pub services: Services,
}

/// The services by name. Shared, not copied: the ServiceManager, its
/// ServiceActors, the HealthChecker and the Notifier all hold the same
/// configs (a copy per holder was ~1.5 KiB per service each).
pub type Services = BTreeMap<String, std::sync::Arc<ServiceConfig>>;

/// One `include` entry: a path, glob or URL, or a URL pinned by its sha256.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum IncludeEntry {
    Source(String),
    Pinned(PinnedSource),
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PinnedSource {
    pub url: String,
    pub sha256: String,
}

// ---------------------------------------------------------------- api (SPEC 4)

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `unix:///path` or `host:port`. Empty: the default socket in the runtime dir.
    pub listen: Vec<String>,
    pub tls: Option<TlsConfig>,
    pub auth: Option<AuthConfig>,
    /// Allow a non-loopback TCP listener without TLS and auth.
    pub insecure: bool,
    /// Serve the dashboard at `/ui/`.
    pub ui: bool,
    /// Extra `Host` names a TCP listener answers to, besides its own
    /// address and `localhost` (DNS-rebinding protection, SPEC 9).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: Vec::new(),
            tls: None,
            auth: None,
            insecure: false,
            ui: true,
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
    #[serde(default)]
    pub client_ca: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
    pub clients: Vec<ClientCertConfig>,
    pub client_auth: Option<ClientAuthMode>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthMode {
    Required,
    Optional,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

/// A bearer token: exactly one of `sha256`, `token_file`, `token_env`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub token_file: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    pub role: Role,
    /// Globs of service names this token may see and act on; empty = all.
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientCertConfig {
    pub cn: String,
    pub role: Role,
    #[serde(default)]
    pub services: Vec<String>,
}

// ------------------------------------------------------------ metrics (SPEC 7)

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub path: String,
    /// true: `/metrics` needs the viewer role.
    pub auth: bool,
    /// An extra listener (`host:port`) that serves only the metrics.
    pub listen: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            path: "/metrics".into(),
            auth: false,
            listen: None,
        }
    }
}

// ------------------------------------------------------------ logging (SPEC 6)

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// None: the `--log-format` flag, else json.
    pub format: Option<LogFormat>,
    /// None: the `--log-level` flag, else info.
    pub level: Option<LogLevel>,
    pub file: Option<LogFileConfig>,
    /// How long stdout may take nothing before captured output stops
    /// waiting for it (counted drops instead of frozen services).
    /// None: 10 s.
    pub stall_timeout: Option<ConfDuration>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogFileConfig {
    pub path: String,
    #[serde(default = "default_log_max_size")]
    pub max_size: ConfSize,
    #[serde(default = "default_max_files")]
    pub max_files: u32,
    #[serde(default)]
    pub compress: bool,
}

fn default_log_max_size() -> ConfSize {
    ConfSize(10 * 1024 * 1024)
}
fn default_max_files() -> u32 {
    5
}

// ---------------------------------------------------------- notifiers (SPEC 5.3)

/// Exactly one of `webhook`, `slack`, `command`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    pub webhook: Option<WebhookConfig>,
    pub slack: Option<SlackConfig>,
    pub command: Option<CommandNotifierConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A body template; `{{event}}`, `{{service}}`, `{{message}}`... are replaced.
    #[serde(default)]
    pub template: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub url: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandNotifierConfig {
    pub command: Command,
}

// ------------------------------------------------------------- remote (SPEC 2.2)

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    pub timeout: ConfDuration,
    pub retries: u32,
    pub cache_dir: String,
    pub allow_http: bool,
    /// Re-fetch remote sources this often and reload when they changed.
    pub watch: Option<ConfDuration>,
    /// Extra CA bundle (PEM) trusted for https sources.
    pub ca_file: Option<String>,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            timeout: ConfDuration::from_secs(10),
            retries: 3,
            cache_dir: "/var/cache/oneinit".into(),
            allow_http: false,
            watch: None,
            ca_file: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Upper bound for the whole graceful shutdown.
    pub timeout: ConfDuration,
    /// As PID 1: grace between SIGTERM and SIGKILL of leftover processes.
    pub sweep_grace: ConfDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            timeout: ConfDuration::from_secs(30),
            sweep_grace: ConfDuration::from_secs(2),
        }
    }
}

// ------------------------------------------------------------ service (SPEC 2.3)

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceType {
    #[default]
    Ongoing,
    Oneshot,
    OnDemand,
    PerDemand,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Ongoing => "ongoing",
            ServiceType::Oneshot => "oneshot",
            ServiceType::OnDemand => "on-demand",
            ServiceType::PerDemand => "per-demand",
        }
    }
}

/// A command: a list is exec'd as is; a string is split like a POSIX shell
/// (or run by `/bin/sh -c` with `shell: true`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Command {
    List(Vec<String>),
    Line(String),
}

impl Default for Command {
    fn default() -> Self {
        Command::List(Vec::new())
    }
}

impl Command {
    /// The argv to exec. Errors name what is wrong with the command.
    pub fn argv(&self, shell: bool) -> Result<Vec<String>, String> {
        let argv = match (self, shell) {
            (Command::Line(line), true) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            (Command::List(list), true) => {
                vec!["/bin/sh".into(), "-c".into(), shell_words::join(list)]
            }
            (Command::Line(line), false) => shell_words::split(line)
                .map_err(|e| format!("cannot split command {line:?}: {e}"))?,
            (Command::List(list), false) => list.clone(),
        };
        match argv.first() {
            None => Err("the command is empty".into()),
            Some(first) if first.trim().is_empty() => Err("the command is empty".into()),
            Some(_) => Ok(argv),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: ServiceType,
    pub command: Command,
    pub shell: bool,
    pub instances: u32,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub umask: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub env_file: Vec<String>,
    pub inherit_env: bool,
    /// None: true for ongoing/oneshot, false for on-demand/per-demand.
    pub autostart: Option<bool>,
    pub critical: bool,
    /// Replace an earlier definition of the same name (includes).
    #[serde(rename = "override")]
    pub override_: bool,
    /// Set PR_SET_NO_NEW_PRIVS before exec.
    pub no_new_privs: bool,

    pub requires: Vec<String>,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub before: Vec<String>,
    pub start_delay: ConfDuration,
    pub notify_delay: ConfDuration,

    pub restart: RestartConfig,
    pub stop: StopConfig,
    pub readiness: ReadinessConfig,
    pub health: Vec<CheckConfig>,
    pub on_unhealthy: OnUnhealthy,
    pub notify: Vec<String>,
    pub logs: ServiceLogsConfig,
    pub limits: LimitsConfig,
    pub max_instances: u32,
    pub socket: Option<SocketConfig>,
    pub schedule: Option<ScheduleConfig>,
    pub forward_signals: Vec<SignalName>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            description: None,
            kind: ServiceType::Ongoing,
            command: Command::default(),
            shell: false,
            instances: 1,
            workdir: None,
            user: None,
            group: None,
            umask: None,
            environment: BTreeMap::new(),
            env_file: Vec::new(),
            inherit_env: true,
            autostart: None,
            critical: false,
            override_: false,
            no_new_privs: false,
            requires: Vec::new(),
            wants: Vec::new(),
            after: Vec::new(),
            before: Vec::new(),
            start_delay: ConfDuration::default(),
            notify_delay: ConfDuration::default(),
            restart: RestartConfig::default(),
            stop: StopConfig::default(),
            readiness: ReadinessConfig::default(),
            health: Vec::new(),
            on_unhealthy: OnUnhealthy::default(),
            notify: Vec::new(),
            logs: ServiceLogsConfig::default(),
            limits: LimitsConfig::default(),
            max_instances: 16,
            socket: None,
            schedule: None,
            forward_signals: Vec::new(),
        }
    }
}

impl ServiceConfig {
    pub fn autostart(&self) -> bool {
        // A scheduled oneshot runs at its due times (and at start only with
        // `schedule.run_on_start`).
        self.autostart.unwrap_or(match self.kind {
            ServiceType::Oneshot => self.schedule.is_none(),
            kind => kind == ServiceType::Ongoing,
        })
    }

    /// The effective restart policy (oneshot and per-demand default to never).
    pub fn restart_policy(&self) -> RestartPolicy {
        self.restart.policy.unwrap_or(match self.kind {
            ServiceType::Ongoing | ServiceType::OnDemand => RestartPolicy::OnFailure,
            ServiceType::Oneshot | ServiceType::PerDemand => RestartPolicy::Never,
        })
    }

    /// Whether `logs.capture` is on (default true).
    pub fn capture(&self) -> bool {
        self.logs.capture.unwrap_or(true)
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    /// None: on-failure (oneshot, per-demand: never).
    pub policy: Option<RestartPolicy>,
    pub delay: ConfDuration,
    pub backoff: f64,
    pub max_delay: ConfDuration,
    /// Restarts after consecutive failures before giving up (0 = never give up).
    pub max_retries: u32,
    pub reset_after: ConfDuration,
    pub success_codes: Vec<i32>,
}

impl Default for RestartConfig {
    fn default() -> Self {
        RestartConfig {
            policy: None,
            delay: ConfDuration::from_secs(1),
            backoff: 2.0,
            max_delay: ConfDuration::from_secs(60),
            max_retries: 0,
            reset_after: ConfDuration::from_secs(60),
            success_codes: vec![0],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StopConfig {
    pub signal: SignalName,
    pub timeout: ConfDuration,
    /// Signal the whole process group.
    pub group: bool,
}

impl Default for StopConfig {
    fn default() -> Self {
        StopConfig {
            signal: SignalName(Signal::SIGTERM),
            timeout: ConfDuration::from_secs(10),
            group: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReadinessConfig {
    pub min_uptime: ConfDuration,
    pub notify: bool,
    pub check: Option<CheckConfig>,
    pub log_line: Option<String>,
    pub timeout: ConfDuration,
}

impl Default for ReadinessConfig {
    fn default() -> Self {
        ReadinessConfig {
            min_uptime: ConfDuration::default(),
            notify: false,
            check: None,
            log_line: None,
            timeout: ConfDuration::from_secs(60),
        }
    }
}

// -------------------------------------------------------------- checks (SPEC 2.4)

/// A health or readiness check: exactly one of tcp, http, exec, process.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    pub name: Option<String>,
    pub tcp: Option<TcpCheck>,
    pub http: Option<HttpCheck>,
    pub exec: Option<ExecCheck>,
    pub process: Option<ProcessCheck>,
    pub interval: ConfDuration,
    pub timeout: ConfDuration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub start_period: ConfDuration,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            name: None,
            tcp: None,
            http: None,
            exec: None,
            process: None,
            interval: ConfDuration::from_secs(10),
            timeout: ConfDuration::from_secs(2),
            failure_threshold: 3,
            success_threshold: 1,
            start_period: ConfDuration::default(),
        }
    }
}

impl CheckConfig {
    /// The kind word (`tcp`, `http`, `exec`, `process`), also the default name.
    pub fn kind(&self) -> Option<&'static str> {
        if self.tcp.is_some() {
            Some("tcp")
        } else if self.http.is_some() {
            Some("http")
        } else if self.exec.is_some() {
            Some("exec")
        } else if self.process.is_some() {
            Some("process")
        } else {
            None
        }
    }

    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.kind().map(str::to_string))
            .unwrap_or_else(|| "check".into())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub address: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_expect_status")]
    pub expect_status: Vec<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_expect_status() -> Vec<u16> {
    vec![200]
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecCheck {
    pub command: Command,
    #[serde(default)]
    pub timeout: Option<ConfDuration>,
    #[serde(default)]
    pub shell: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessCheck {}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnUnhealthy {
    #[default]
    Restart,
    Stop,
    Notify,
    Ignore,
}

// ---------------------------------------------------------------- service logs

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLogsConfig {
    /// None: true (tini mode's `main` defaults to false).
    pub capture: Option<bool>,
    pub file: Option<String>,
    pub max_size: ConfSize,
    pub max_files: u32,
    pub compress: bool,
    /// Lines kept in memory for the API (a cap besides `buffer`).
    pub ring: usize,
    /// Bytes the in-memory ring may hold (text plus per-line bookkeeping).
    pub buffer: ConfSize,
    /// What a line does when the output can't keep up.
    pub on_full: OnFull,
}

/// `logs.on_full`: what happens to captured output when oneinit's stdout
/// can't take it as fast as the child writes.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// Backpressure: oneinit stops reading the pipe and the child waits on
    /// its `write()`; nothing is lost.
    #[default]
    Block,
    /// The child never waits: lines that don't fit are dropped and counted.
    Drop,
}

impl Default for ServiceLogsConfig {
    fn default() -> Self {
        ServiceLogsConfig {
            capture: None,
            file: None,
            max_size: default_log_max_size(),
            max_files: default_max_files(),
            compress: false,
            ring: 1000,
            buffer: ConfSize(1024 * 1024),
            on_full: OnFull::Block,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub memory: Option<ConfSize>,
    pub cpu: Option<f64>,
    pub pids: Option<u64>,
    pub nofile: Option<u64>,
    pub core: Option<ConfSize>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SocketConfig {
    pub listen: Vec<String>,
    pub accept: bool,
    /// File mode of unix sockets, octal string (default "0660").
    pub mode: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    #[default]
    Skip,
    Queue,
    Allow,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub cron: Option<String>,
    pub interval: Option<ConfDuration>,
    pub run_on_start: bool,
    pub overlap: Overlap,
    /// IANA name (`Europe/Berlin`); cron times are UTC without it.
    pub timezone: Option<String>,
}
