//! Tini mode (SPEC 1): `oneinit [-g] [-e CODE]... -- COMMAND [ARG]...` runs
//! COMMAND as the critical service `main` and exits with its status.

use oneinit_actors::model::config::{Command, Config, RestartPolicy, ServiceConfig, ServiceType};
use oneinit_actors::model::signal::{Signal, SignalName};
use oneinit_actors::sys::signals;

/// The command after `--` as the critical service `main`.
/// Its signals go to its process, or to its process group with `-g`
/// (`group`). Without a config file (`pass_all`) every signal oneinit
/// catches but SIGCHLD is forwarded to it, like tini; with one, the signals
/// that mean something to oneinit (TERM, INT, QUIT, HUP, USR1) keep their
/// meaning and the others are forwarded.
pub fn main_service(
    config: &Config,
    command: Vec<String>,
    group: bool,
    pass_all: bool,
) -> ServiceConfig {
    // `main`'s output is passed through unless the config's defaults capture it.
    let capture = config
        .defaults
        .as_ref()
        .and_then(|d| d.pointer("/logs/capture"))
        .and_then(serde_json::Value::as_bool)
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

/// tini's `-e CODE`: `main`'s expected exit codes count as success.
pub fn exit_code(code: i32, tini: bool, expected: &[u8]) -> i32 {
    match u8::try_from(code) {
        Ok(c) if tini && expected.contains(&c) => 0,
        _ => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_codes_become_success_in_tini_mode_only() {
        assert_eq!(exit_code(3, true, &[3, 4]), 0);
        assert_eq!(exit_code(5, true, &[3, 4]), 5);
        assert_eq!(exit_code(3, false, &[3]), 3);
        assert_eq!(exit_code(300, true, &[44]), 300);
    }

    #[test]
    fn main_is_critical_and_never_restarts() {
        let main = main_service(&Config::default(), vec!["true".into()], true, true);
        assert!(main.critical && main.stop.group);
        assert_eq!(main.restart.policy, Some(RestartPolicy::Never));
        assert_eq!(main.logs.capture, Some(false));
        let forwarded: Vec<Signal> = main.forward_signals.iter().map(|s| s.0).collect();
        assert!(forwarded.contains(&Signal::SIGHUP));
        assert!(!forwarded.contains(&Signal::SIGCHLD));
        let kept = main_service(&Config::default(), vec!["true".into()], false, false);
        assert!(!kept.forward_signals.iter().any(|s| s.0 == Signal::SIGTERM));
    }
}
