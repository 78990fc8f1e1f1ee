//! One run of one check (SPEC 2.4): `tcp` connect, `http`/`https` request
//! with method, headers and expected statuses, `exec` command (as the
//! service's user, through the one reaper), `process` (every instance
//! alive). Each run is bounded by the check's timeout; the error says why
//! the check failed, for the `unhealthy` log event and notifications.
//! `http` checks are in `http.rs`.

use super::http::{self, HttpCheckError, HttpPlan};
use crate::model::config::{CheckConfig, Command, ServiceConfig};
use crate::model::units::format_duration;
use crate::processes::helper::{HelperError, HelperRunner};
use crate::service::plan;
use crate::sys::reap::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

/// Why a check run failed; the text is the `unhealthy` event's message and
/// the notifications' (SPEC 5.1).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("tcp connect to {address}: {source}")]
    TcpConnect {
        address: String,
        source: std::io::Error,
    },
    #[error("tcp connect to {address}: no answer within {}", format_duration(*timeout))]
    TcpTimeout { address: String, timeout: Duration },
    #[error(transparent)]
    Http(#[from] HttpCheckError),
    /// The check's process could not be set up (user, command).
    #[error("exec check cannot run: {0}")]
    ExecSetup(String),
    /// Spawning or waiting failed (including the timeout).
    #[error("exec check {command}: {source}")]
    ExecRun {
        command: String,
        source: HelperError,
    },
    #[error("exec check {command} exited with {code}{}", with_output(output))]
    ExecExit {
        command: String,
        code: i32,
        output: String,
    },
    #[error("exec check {command} killed by {signal}{}", with_output(output))]
    ExecKilled {
        command: String,
        signal: &'static str,
        output: String,
    },
    #[error("{alive} of {expected} instances alive")]
    ProcessesDown { alive: usize, expected: usize },
    #[error("the check names no kind (tcp, http, exec or process)")]
    NoKind,
}

/// One check of a service, prepared once per config: what runs per
/// interval only clones an `Arc` of it.
pub struct Prepared {
    pub config: CheckConfig,
    /// `display_name()`, for logs and metrics.
    pub name: String,
    /// For `http` checks: how the request is made.
    pub http: Option<HttpPlan>,
}

impl Prepared {
    pub fn new(config: &CheckConfig) -> Arc<Prepared> {
        Arc::new(Prepared {
            name: config.display_name(),
            http: config.http.as_ref().map(HttpPlan::new),
            config: config.clone(),
        })
    }
}

/// What a check run may need besides its config; one per service.
pub struct CheckEnv {
    /// The HTTPS client (None where it could not be built).
    pub https: Option<reqwest::Client>,
    pub runner: HelperRunner,
    pub service: String,
    pub cfg: Arc<ServiceConfig>,
}

/// Runs `check` once; Ok when healthy, else why not.
pub async fn run(check: &Prepared, env: &CheckEnv, pids: &[Option<i32>]) -> Result<(), CheckError> {
    let c = &check.config;
    let timeout = c.timeout.get();
    if let Some(tcp) = &c.tcp {
        return tcp_check(&tcp.address, timeout).await;
    }
    if let (Some(h), Some(plan)) = (&c.http, &check.http) {
        return Ok(http::check(h, plan, env.https.as_ref(), timeout).await?);
    }
    if let Some(exec) = &c.exec {
        let timeout = exec.timeout.map(|t| t.get()).unwrap_or(timeout);
        return exec_check(&exec.command, exec.shell, env, timeout).await;
    }
    if c.process.is_some() {
        return process_check(env.cfg.instances.max(1) as usize, pids);
    }
    Err(CheckError::NoKind)
}

async fn tcp_check(address: &str, timeout: Duration) -> Result<(), CheckError> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(CheckError::TcpConnect {
            address: address.to_string(),
            source,
        }),
        Err(_) => Err(CheckError::TcpTimeout {
            address: address.to_string(),
            timeout,
        }),
    }
}

async fn exec_check(
    command: &Command,
    shell: bool,
    env: &CheckEnv,
    timeout: Duration,
) -> Result<(), CheckError> {
    // The service's own spawn spec (user, group, environment, workdir),
    // with the check's command instead of the service's.
    let mut spec = plan::spawn_spec(&env.service, &env.cfg, 0)
        .map_err(|e| CheckError::ExecSetup(e.to_string()))?;
    spec.argv = command
        .argv(shell)
        .map_err(|e| CheckError::ExecSetup(e.to_string()))?;
    let outcome = env
        .runner
        .run(spec, None, timeout)
        .await
        .map_err(|source| CheckError::ExecRun {
            command: spec_name(command),
            source,
        })?;
    match outcome.status {
        ExitStatus::Exited(0) => Ok(()),
        ExitStatus::Exited(code) => Err(CheckError::ExecExit {
            command: spec_name(command),
            code,
            output: outcome.output,
        }),
        ExitStatus::Signaled(s) => Err(CheckError::ExecKilled {
            command: spec_name(command),
            signal: s.name(),
            output: outcome.output,
        }),
    }
}

fn spec_name(command: &Command) -> String {
    match command {
        Command::List(l) => l.first().cloned().unwrap_or_default(),
        Command::Line(l) => l.split_whitespace().next().unwrap_or_default().to_string(),
    }
}

fn with_output(out: &str) -> String {
    if out.is_empty() {
        String::new()
    } else {
        format!(": {out}")
    }
}

/// Every instance has a process that is not a zombie.
fn process_check(expected: usize, pids: &[Option<i32>]) -> Result<(), CheckError> {
    let alive = pids.iter().flatten().filter(|&&pid| is_alive(pid)).count();
    if alive >= expected {
        Ok(())
    } else {
        Err(CheckError::ProcessesDown { alive, expected })
    }
}

fn is_alive(pid: i32) -> bool {
    crate::sys::procfs::read(pid).is_some_and(|p| p.state != 'Z' && p.state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_check_counts_live_instances() {
        let me = std::process::id() as i32;
        assert!(process_check(1, &[Some(me)]).is_ok());
        assert_eq!(
            process_check(2, &[Some(me), None]).unwrap_err().to_string(),
            "1 of 2 instances alive"
        );
        assert!(process_check(1, &[Some(i32::MAX)]).is_err());
    }

    #[actix_rt::test]
    async fn tcp_check_up_and_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        assert!(tcp_check(&addr, Duration::from_secs(1)).await.is_ok());
        drop(l);
        let err = tcp_check(&addr, Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&addr), "{err}");
    }
}
