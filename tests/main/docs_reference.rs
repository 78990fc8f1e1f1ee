//! Keeps `docs/configuration.md` true to the code: every key of the config
//! schema (found by serialising a fully populated `Config` and walking its
//! JSON) must have a row in the reference, and every row must name a real key.
//! Rows start with a backticked dotted path: `| `services.<name>.restart.delay` |`.

use oneinit_actors::model::config::*;
use oneinit_actors::model::signal::SignalName;
use oneinit_actors::model::units::{ConfDuration, ConfSize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Maps whose keys are the user's (service names, variables, headers): the
/// reference documents them once with a placeholder and does not list their
/// entries.
const FREE_MAPS: &[&str] = &[
    "services.<name>.environment",
    "notifiers.<name>.webhook.headers",
    "services.<name>.health[].http.headers",
    "services.<name>.readiness.check.http.headers",
    "defaults",
];

fn check(kind: &str) -> CheckConfig {
    let mut c = CheckConfig {
        name: Some(kind.into()),
        ..CheckConfig::default()
    };
    match kind {
        "tcp" => {
            c.tcp = Some(TcpCheck {
                address: "127.0.0.1:1".into(),
            })
        }
        "http" => {
            c.http = Some(HttpCheck {
                url: "http://127.0.0.1:1/".into(),
                method: "GET".into(),
                expect_status: vec![200],
                headers: BTreeMap::from([("X".into(), "y".into())]),
            })
        }
        "exec" => {
            c.exec = Some(ExecCheck {
                command: Command::List(vec!["true".into()]),
                timeout: Some(ConfDuration::from_secs(1)),
                shell: true,
            })
        }
        _ => c.process = Some(ProcessCheck {}),
    }
    c
}

/// A configuration with every optional part present.
fn full_config() -> Config {
    let mut all_checks = check("tcp");
    all_checks.http = check("http").http;
    all_checks.exec = check("exec").exec;
    all_checks.process = Some(ProcessCheck {});
    let service = ServiceConfig {
        description: Some("d".into()),
        workdir: Some("/".into()),
        user: Some("root".into()),
        group: Some("root".into()),
        umask: Some("0022".into()),
        environment: BTreeMap::from([("K".into(), "v".into())]),
        env_file: vec!["/e".into()],
        autostart: Some(true),
        requires: vec!["x".into()],
        restart: RestartConfig {
            policy: Some(RestartPolicy::Always),
            ..RestartConfig::default()
        },
        readiness: ReadinessConfig {
            check: Some(Box::new(all_checks.clone())),
            log_line: Some("up".into()),
            ..ReadinessConfig::default()
        },
        health: vec![all_checks],
        notify: vec!["ops".into()],
        logs: ServiceLogsConfig {
            capture: Some(true),
            file: Some("/l".into()),
            ..ServiceLogsConfig::default()
        },
        limits: LimitsConfig {
            memory: Some(ConfSize(1)),
            cpu: Some(1.0),
            pids: Some(1),
            nofile: Some(1),
            core: Some(ConfSize(0)),
        },
        socket: Some(Box::new(SocketConfig {
            listen: vec!["tcp://127.0.0.1:1".into()],
            accept: true,
            mode: Some("0660".into()),
        })),
        schedule: Some(Box::new(ScheduleConfig {
            cron: Some("* * * * *".into()),
            interval: Some(ConfDuration::from_secs(1)),
            run_on_start: true,
            overlap: Overlap::Skip,
            timezone: Some("UTC".into()),
        })),
        forward_signals: vec![SignalName(oneinit_actors::model::signal::Signal::SIGUSR2)],
        ..ServiceConfig::default()
    };
    let notifier = NotifierConfig {
        webhook: Some(WebhookConfig {
            url: "https://x".into(),
            headers: BTreeMap::from([("A".into(), "b".into())]),
            template: Some("t".into()),
        }),
        slack: Some(SlackConfig {
            url: "https://x".into(),
        }),
        command: Some(CommandNotifierConfig {
            command: Command::List(vec!["x".into()]),
        }),
    };
    Config {
        include: vec![IncludeEntry::Pinned(PinnedSource {
            url: "https://x".into(),
            sha256: "00".into(),
        })],
        api: ApiConfig {
            listen: vec!["127.0.0.1:1".into()],
            tls: Some(TlsConfig {
                cert: "c".into(),
                key: "k".into(),
                client_ca: Some("ca".into()),
            }),
            auth: Some(AuthConfig {
                tokens: vec![TokenConfig {
                    name: "t".into(),
                    sha256: Some("00".into()),
                    token_file: Some("/t".into()),
                    token_env: Some("T".into()),
                    role: Role::Admin,
                    services: vec!["*".into()],
                }],
                clients: vec![ClientCertConfig {
                    cn: "cn".into(),
                    role: Role::Viewer,
                    services: vec!["*".into()],
                }],
                client_auth: Some(ClientAuthMode::Required),
            }),
            insecure: true,
            ui: true,
            allowed_hosts: vec!["oneinit.internal".into()],
        },
        metrics: MetricsConfig {
            listen: Some("127.0.0.1:2".into()),
            ..MetricsConfig::default()
        },
        logging: LoggingConfig {
            format: Some(LogFormat::Json),
            level: Some(LogLevel::Info),
            file: Some(LogFileConfig {
                path: "/l".into(),
                max_size: ConfSize(1),
                max_files: 1,
                compress: true,
            }),
            stall_timeout: Some(ConfDuration::from_secs(1)),
        },
        notifiers: BTreeMap::from([("<name>".into(), notifier)]),
        remote: RemoteConfig {
            watch: Some(ConfDuration::from_secs(1)),
            ca_file: Some("/ca".into()),
            ..RemoteConfig::default()
        },
        defaults: Some(serde_json::json!({"restart": {"delay": "1s"}})),
        shutdown: ShutdownConfig::default(),
        secrets_env: vec!["DB_PASSWORD".into()],
        services: BTreeMap::from([("<name>".into(), std::sync::Arc::new(service))]),
    }
}

/// Dotted paths of every key; list items as `key[]`.
fn walk(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    if !prefix.is_empty() {
        out.insert(prefix.to_string());
    }
    if FREE_MAPS.contains(&prefix) {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&path, child, out);
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter(|i| i.is_object()) {
                walk(&format!("{prefix}[]"), item, out);
            }
        }
        _ => {}
    }
}

fn code_keys() -> BTreeSet<String> {
    let json = serde_json::to_value(full_config()).expect("config serialises");
    let mut keys = BTreeSet::new();
    walk("", &json, &mut keys);
    // `key[]` is a node of the walk, not a key a user writes.
    keys.retain(|k| !k.ends_with("[]"));
    keys
}

fn doc_keys() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let text = std::fs::read_to_string(path).expect("docs/configuration.md exists");
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_config_key_is_documented_and_every_documented_key_exists() {
    let code = code_keys();
    let docs = doc_keys();
    let undocumented: Vec<_> = code.difference(&docs).collect();
    let unknown: Vec<_> = docs.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/configuration.md is out of date.\n  keys in the code but not in the doc: {undocumented:#?}\n  keys in the doc but not in the code: {unknown:#?}"
    );
}

#[test]
fn the_walk_sees_nested_sections() {
    // Guards the test itself: a walk that found nothing would pass trivially.
    let code = code_keys();
    for key in [
        "services.<name>.restart.delay",
        "services.<name>.health.http.url",
        "services.<name>.readiness.check.exec.command",
        "api.auth.tokens.role",
        "notifiers.<name>.slack.url",
        "include.sha256",
    ] {
        let key = key
            .replace("health.", "health[].")
            .replace("tokens.", "tokens[].")
            .replace("include.", "include[].");
        assert!(code.contains(&key), "{key} missing from {code:#?}");
    }
    assert!(code.len() > 100, "only {} keys found", code.len());
}
