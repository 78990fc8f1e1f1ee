//! `health` / `readiness` checks (SPEC 2.4): exactly one of tcp, http, exec,
//! process, and what to do when a service turns unhealthy.

use super::Command;
use crate::model::units::ConfDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
