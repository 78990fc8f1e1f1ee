//! `services.NAME` (SPEC 2.3): one service's settings and its small
//! sections (restart, stop, readiness, limits, sockets, schedule). Checks
//! and logs have files of their own.

use super::{CheckConfig, OnUnhealthy, ServiceLogsConfig};
use crate::model::signal::{Signal, SignalName};
use crate::model::units::{ConfDuration, ConfSize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// A `command` that cannot be turned into an argv.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("cannot split command {line:?}: {why}")]
    Split { line: String, why: String },
    #[error("the command is empty")]
    Empty,
}

/// For callers whose errors are still messages (`service::plan`).
impl From<CommandError> for String {
    fn from(e: CommandError) -> String {
        e.to_string()
    }
}

impl Command {
    /// The argv to exec. Errors name what is wrong with the command.
    pub fn argv(&self, shell: bool) -> Result<Vec<String>, CommandError> {
        let argv = match (self, shell) {
            (Command::Line(line), true) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            (Command::List(list), true) => {
                vec!["/bin/sh".into(), "-c".into(), shell_words::join(list)]
            }
            (Command::Line(line), false) => {
                shell_words::split(line).map_err(|e| CommandError::Split {
                    line: line.clone(),
                    why: e.to_string(),
                })?
            }
            (Command::List(list), false) => list.clone(),
        };
        match argv.first() {
            None => Err(CommandError::Empty),
            Some(first) if first.trim().is_empty() => Err(CommandError::Empty),
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
    // Boxed, like `readiness.check`: most services have none, and inline
    // they would add their size to every service's config (`ServiceConfig`
    // is held once per service for the life of the process).
    pub socket: Option<Box<SocketConfig>>,
    pub schedule: Option<Box<ScheduleConfig>>,
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
    /// Boxed: a check config is ~260 bytes and most services have none.
    pub check: Option<Box<CheckConfig>>,
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

// ------------------------------------------------------ limits, sockets, schedule

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
