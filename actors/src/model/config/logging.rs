//! `logging` (SPEC 6), oneinit's own log, and a service's `logs`: how its
//! captured output is kept (ring, file rotation) and what happens when the
//! reader is slower than the writer.

use crate::model::units::{ConfDuration, ConfSize};
use serde::{Deserialize, Serialize};

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
