//! One run of one check (SPEC 2.4): `tcp` connect, `http`/`https` request
//! with method, headers and expected statuses, `exec` command (as the
//! service's user, through the one reaper), `process` (every instance
//! alive). Each run is bounded by the check's timeout; the error says why
//! the check failed, for the `unhealthy` log event and notifications.

use super::helper::HelperRunner;
use crate::model::config::{CheckConfig, HttpCheck, ServiceConfig};
use crate::model::units::format_duration;
use crate::service::plan;
use crate::sys::reap::ExitStatus;
use std::time::Duration;

/// What a check run may need besides its config.
#[derive(Clone)]
pub struct CheckEnv {
    pub http: reqwest::Client,
    pub runner: HelperRunner,
    pub service: String,
    pub cfg: std::sync::Arc<ServiceConfig>,
}

/// The HTTP client shared by all checks: rustls, no redirects (a 3xx is a
/// status like any other, to be listed in `expect_status`), and, like
/// Kubernetes probes, no certificate verification (health endpoints of
/// local services commonly use self-signed certificates).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Runs `check` once; Ok when healthy, else why not.
pub async fn run(check: &CheckConfig, env: &CheckEnv, pids: &[Option<i32>]) -> Result<(), String> {
    let timeout = check.timeout.get();
    if let Some(tcp) = &check.tcp {
        return tcp_check(&tcp.address, timeout).await;
    }
    if let Some(http) = &check.http {
        return http_check(http, &env.http, timeout).await;
    }
    if let Some(exec) = &check.exec {
        let timeout = exec.timeout.map(|t| t.get()).unwrap_or(timeout);
        return exec_check(&exec.command, exec.shell, env, timeout).await;
    }
    if check.process.is_some() {
        return process_check(env.cfg.instances.max(1) as usize, pids);
    }
    Err("the check names no kind (tcp, http, exec or process)".into())
}

async fn tcp_check(address: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("tcp connect to {address}: {e}")),
        Err(_) => Err(format!(
            "tcp connect to {address}: no answer within {}",
            format_duration(timeout)
        )),
    }
}

async fn http_check(
    h: &HttpCheck,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<(), String> {
    let method = reqwest::Method::from_bytes(h.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("http check: {:?} is not an HTTP method", h.method))?;
    let mut req = client.request(method.clone(), &h.url).timeout(timeout);
    for (k, v) in &h.headers {
        req = req.header(k, v);
    }
    // The timeout above covers the whole exchange; this one also bounds
    // connection set-up on every platform.
    let sent = tokio::time::timeout(timeout + Duration::from_millis(100), req.send()).await;
    let resp = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is_timeout() => {
            return Err(format!(
                "http {method} {}: no answer within {}",
                h.url,
                format_duration(timeout)
            ))
        }
        Ok(Err(e)) => return Err(format!("http {method} {}: {}", h.url, error_chain(&e))),
        Err(_) => {
            return Err(format!(
                "http {method} {}: no answer within {}",
                h.url,
                format_duration(timeout)
            ))
        }
    };
    let status = resp.status().as_u16();
    if h.expect_status.contains(&status) {
        Ok(())
    } else {
        Err(format!(
            "http {method} {}: status {status}, expected {:?}",
            h.url, h.expect_status
        ))
    }
}

/// reqwest's own message plus its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

async fn exec_check(
    command: &crate::model::config::Command,
    shell: bool,
    env: &CheckEnv,
    timeout: Duration,
) -> Result<(), String> {
    // The service's own spawn spec (user, group, environment, workdir),
    // with the check's command instead of the service's.
    let mut spec = plan::spawn_spec(&env.service, &env.cfg, 0)
        .map_err(|e| format!("exec check cannot run: {e}"))?;
    spec.argv = command
        .argv(shell)
        .map_err(|e| format!("exec check cannot run: {e}"))?;
    let outcome = env
        .runner
        .run(spec, None, timeout)
        .await
        .map_err(|e| format!("exec check {}: {e}", spec_name(command)))?;
    match outcome.status {
        ExitStatus::Exited(0) => Ok(()),
        ExitStatus::Exited(c) => Err(format!(
            "exec check {} exited with {c}{}",
            spec_name(command),
            with_output(&outcome.output)
        )),
        ExitStatus::Signaled(s) => Err(format!(
            "exec check {} killed by {}{}",
            spec_name(command),
            s.name(),
            with_output(&outcome.output)
        )),
    }
}

fn spec_name(command: &crate::model::config::Command) -> String {
    match command {
        crate::model::config::Command::List(l) => l.first().cloned().unwrap_or_default(),
        crate::model::config::Command::Line(l) => {
            l.split_whitespace().next().unwrap_or_default().to_string()
        }
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
fn process_check(expected: usize, pids: &[Option<i32>]) -> Result<(), String> {
    let alive = pids.iter().flatten().filter(|&&pid| is_alive(pid)).count();
    if alive >= expected {
        Ok(())
    } else {
        Err(format!("{alive} of {expected} instances alive"))
    }
}

fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_check_counts_live_instances() {
        let me = std::process::id() as i32;
        assert!(process_check(1, &[Some(me)]).is_ok());
        assert_eq!(
            process_check(2, &[Some(me), None]),
            Err("1 of 2 instances alive".into())
        );
        assert!(process_check(1, &[Some(i32::MAX)]).is_err());
    }

    #[actix_rt::test]
    async fn tcp_check_up_and_down() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        assert!(tcp_check(&addr, Duration::from_secs(1)).await.is_ok());
        drop(l);
        let err = tcp_check(&addr, Duration::from_secs(1)).await.unwrap_err();
        assert!(err.contains(&addr), "{err}");
    }
}
