//! Loader tests through the public API (`load`): formats,
//! positions, hints, several errors at once, expansion, defaults and
//! semantic validation.

#![allow(clippy::cloned_ref_to_slice_refs)] // `&[path.clone()]` reads best in tests

use super::*;

pub(super) struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        Dir(tempfile::tempdir().expect("temp dir"))
    }

    /// Writes `rel` (creating folders) and returns its path as a string.
    pub fn write(&self, rel: &str, text: &str) -> String {
        let path = self.0.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, text).expect("write file");
        path.display().to_string()
    }
}

pub(super) async fn load_ok(sources: &[String]) -> LoadedConfig {
    match load(sources).await {
        Ok(c) => c,
        Err(errors) => panic!("expected a valid config, got: {errors:#?}"),
    }
}

pub(super) async fn load_err(sources: &[String]) -> Vec<String> {
    match load(sources).await {
        Ok(c) => panic!("expected errors, got a config: {:#?}", c.config),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

const YAML: &str = "\
services:
  web:
    command: [\"python3\", \"-m\", \"http.server\"]
    requires: [db]
    restart: {delay: 500ms, backoff: 1.5, max_delay: 1m}
    logs: {max_size: 1MB}
  db:
    command: \"postgres -D /data\"
    instances: 2
";

const TOML: &str = r#"
[services.web]
command = ["python3", "-m", "http.server"]
requires = ["db"]
restart = { delay = "500ms", backoff = 1.5, max_delay = "1m" }
logs = { max_size = "1MB" }

[services.db]
command = "postgres -D /data"
instances = 2
"#;

const JSON: &str = r#"{
  "services": {
    "web": {
      "command": ["python3", "-m", "http.server"],
      "requires": ["db"],
      "restart": {"delay": "500ms", "backoff": 1.5, "max_delay": "1m"},
      "logs": {"max_size": "1MB"}
    },
    "db": {"command": "postgres -D /data", "instances": 2}
  }
}"#;

#[actix_rt::test]
async fn three_formats_give_the_same_config() {
    let d = Dir::new();
    let y = load_ok(&[d.write("c.yaml", YAML)]).await.config;
    let t = load_ok(&[d.write("c.toml", TOML)]).await.config;
    let j = load_ok(&[d.write("c.json", JSON)]).await.config;
    assert_eq!(y, t);
    assert_eq!(y, j);
    let web = &y.services["web"];
    assert_eq!(
        web.restart.delay.get(),
        std::time::Duration::from_millis(500)
    );
    assert_eq!(web.logs.max_size.0, 1024 * 1024);
    assert_eq!(y.services["db"].instances, 2);
    // Unknown extensions are read as YAML.
    let other = load_ok(&[d.write("c.conf", YAML)]).await.config;
    assert_eq!(y, other);
}

#[actix_rt::test]
async fn unknown_key_has_position_and_hint() {
    let d = Dir::new();
    let path = d.write(
        "config.yaml",
        "# demo\napi:\n  ui: true\n\nservices:\n  web:\n    comand: [\"x\"]\n",
    );
    let errors = load_err(&[path.clone()]).await;
    assert_eq!(
        errors,
        vec![format!(
            "{path}:7:5: unknown key \"comand\" in service \"web\" (did you mean \"command\"?)"
        )]
    );
}

#[actix_rt::test]
async fn all_errors_are_reported_in_one_run() {
    let d = Dir::new();
    let path = d.write(
        "c.yaml",
        "servics: {}\nservices:\n  web:\n    command: x\n    restart: {delay: soon, policy: sometimes}\n    \
         user: no-such-user-xyz\n  db:\n    command: y\n    instances: 0\n    requires: [cache]\n",
    );
    let errors = load_err(&[path.clone()]).await;
    let joined = errors.join("\n");
    assert!(
        joined.contains(&format!(
            "{path}:1:1: unknown key \"servics\" at the top level (did you mean \"services\"?)"
        )),
        "{joined}"
    );
    assert!(
        joined.contains(&format!(
            "{path}:5:22: invalid value for \"delay\" in \"restart\" of service \"web\""
        )),
        "{joined}"
    );
    assert!(
        joined.contains(&format!(
            "{path}:5:36: unknown value \"sometimes\" for \"policy\""
        )),
        "{joined}"
    );
    // Semantic checks still run for the services that typed cleanly.
    assert!(
        joined.contains(&format!(
            "{path}:9:16: service \"db\": \"instances\" must be at least 1"
        )),
        "{joined}"
    );
    assert!(
        joined.contains(&format!(
            "{path}:10:16: service \"db\": unknown dependency \"cache\" in \"requires\""
        )),
        "{joined}"
    );
    assert_eq!(errors.len(), 5, "{joined}");
}

#[actix_rt::test]
async fn toml_and_json_errors_have_positions() {
    let d = Dir::new();
    let t = d.write("c.toml", "[services.web]\ncommand = \"x\"\nshel = true\n");
    assert_eq!(
        load_err(&[t.clone()]).await,
        vec![format!(
            "{t}:3:1: unknown key \"shel\" in service \"web\" (did you mean \"shell\"?)"
        )]
    );
    let bad = d.write("bad.toml", "[services.web\ncommand = 1\n");
    let e = load_err(&[bad.clone()]).await;
    assert!(
        e[0].starts_with(&format!("{bad}:1:")) && e[0].contains("TOML syntax error"),
        "{e:?}"
    );
    let j = d.write(
        "c.json",
        "{\n  \"services\": {\n    \"web\": {\"command\": \"x\", \"typ\": \"oneshot\"}\n  }\n}\n",
    );
    assert_eq!(
        load_err(&[j.clone()]).await,
        vec![format!(
            "{j}:3:29: unknown key \"typ\" in service \"web\" (did you mean \"type\"?)"
        )]
    );
    let bad = d.write("bad.json", "{\n  \"services\": {,}\n}\n");
    let e = load_err(&[bad.clone()]).await;
    assert!(
        e[0].starts_with(&format!("{bad}:2:16: JSON syntax error")),
        "{e:?}"
    );
}

#[actix_rt::test]
async fn yaml_syntax_error_has_position() {
    let d = Dir::new();
    let p = d.write("c.yaml", "services:\n  web:\n    command: [a, b\n");
    let e = load_err(&[p.clone()]).await;
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!("{p}:4:1: YAML syntax error")),
        "{e:?}"
    );
}

#[actix_rt::test]
async fn environment_expansion() {
    std::env::set_var("ONEINIT_TEST_PORT", "8181");
    std::env::set_var("ONEINIT_TEST_COUNT", "3");
    std::env::remove_var("ONEINIT_TEST_UNSET");
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "services:\n  web:\n    command: \"serve --port ${ONEINIT_TEST_PORT} --host ${ONEINIT_TEST_H:-0.0.0.0} $$HOME $1\"\n    \
         instances: ${ONEINIT_TEST_COUNT}\n",
    );
    let web = load_ok(&[p]).await.config.services["web"].clone();
    assert_eq!(
        web.command,
        crate::model::config::Command::Line("serve --port 8181 --host 0.0.0.0 $HOME $1".into())
    );
    assert_eq!(web.instances, 3);
    let p = d.write(
        "bad.yaml",
        "services:\n  web:\n    command: \"run ${ONEINIT_TEST_UNSET}\"\n",
    );
    let e = load_err(&[p.clone()]).await;
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(&format!(
            "{p}:3:14: environment variable \"ONEINIT_TEST_UNSET\" is not set"
        )),
        "{e:?}"
    );
}

#[actix_rt::test]
async fn defaults_apply_to_every_service() {
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "defaults:\n  restart: {delay: 3s, max_retries: 4}\n  environment: {TZ: UTC, A: x}\n\
         services:\n  web:\n    command: w\n    restart: {delay: 1s}\n    environment: {A: y}\n  job:\n    command: j\n",
    );
    let c = load_ok(&[p]).await.config;
    let web = &c.services["web"];
    assert_eq!(web.restart.delay.get().as_secs(), 1);
    assert_eq!(web.restart.max_retries, 4);
    assert_eq!(web.environment["A"], "y");
    assert_eq!(web.environment["TZ"], "UTC");
    assert_eq!(c.services["job"].restart.delay.get().as_secs(), 3);
}

#[actix_rt::test]
async fn semantic_validation_reports_everything() {
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "notifiers:\n  ops: {}\nservices:\n  a:\n    command: x\n    requires: [b]\n  b:\n    command: y\n    after: [a]\n\
         \x20 bad name:\n    command: z\n  s:\n    command: \"\"\n    socket: {listen: [\"tcp://127.0.0.1:9\"]}\n    \
         schedule: {interval: 5s, cron: \"* * * * *\"}\n    umask: \"9\"\n    restart: {backoff: 0.5}\n    \
         readiness: {log_line: \"(\", check: {}}\n    notify: [opz]\n  t:\n    type: on-demand\n    command: t\n    \
         socket: {listen: [\"tcp://127.0.0.1:9\"]}\n",
    );
    let e = load_err(&[p.clone()]).await.join("\n");
    for want in [
        "dependency cycle: a -> b -> a",
        "invalid service name \"bad name\"",
        "service \"s\": the command is empty",
        "\"socket\" needs type on-demand or per-demand, not ongoing",
        "\"schedule\" needs type oneshot or per-demand",
        "\"schedule\" needs exactly one of cron, interval",
        "umask \"9\" is not an octal mode",
        "\"restart.backoff\" must be at least 1.0",
        "\"readiness.log_line\" is not a valid regex",
        "readiness check: needs exactly one of tcp, http, exec, process",
        "notifier \"opz\" is not defined under \"notifiers\" (did you mean \"ops\"?)",
        "notifier \"ops\" must have exactly one of webhook, slack, command",
        "listen address \"tcp://127.0.0.1:9\" is already used by service \"s\"",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(
        e.contains(&format!("{p}:10:3: invalid service name")),
        "{e}"
    );
}

/// Validation reads weekdays as the scheduler does (classic cron: 0 and 7
/// are Sunday); it used to hand the expression to the cron crate as is,
/// which counts from 1 and refused `0`.
#[actix_rt::test]
async fn cron_weekdays_are_checked_as_the_scheduler_reads_them() {
    let d = Dir::new();
    let job = |dow: &str| {
        format!(
            "services:\n  job:\n    type: oneshot\n    command: [\"true\"]\n    \
             schedule: {{cron: \"0 9 * * {dow}\"}}\n"
        )
    };
    for ok in ["0", "7", "0,3-5", "SUN", "*/2"] {
        load_ok(&[d.write(&format!("ok{ok}.yaml").replace('/', "_"), &job(ok))]).await;
    }
    let e = load_err(&[d.write("bad.yaml", &job("8"))]).await.join("\n");
    assert!(
        e.contains("invalid cron expression \"0 9 * * 8\": day of week 8 is out of range"),
        "{e}"
    );
}

#[actix_rt::test]
async fn missing_file_and_url_are_clear_errors() {
    let e = load_err(&["/nonexistent/oneinit.yaml".to_string()]).await;
    assert!(
        e[0].starts_with("/nonexistent/oneinit.yaml: cannot read the configuration file"),
        "{e:?}"
    );
    let e = load_err(&["https://exa mple.com/c.yaml".to_string()]).await;
    assert!(
        e[0].starts_with("https://exa mple.com/c.yaml: invalid URL"),
        "{e:?}"
    );
}

#[test]
fn default_sources_follow_the_environment() {
    // Only this test touches ONEINIT_CONFIG.
    std::env::set_var("ONEINIT_CONFIG", "/tmp/x.toml");
    assert_eq!(default_sources(), ["/tmp/x.toml"]);
    std::env::remove_var("ONEINIT_CONFIG");
    assert_eq!(default_sources(), ["/etc/oneinit/oneinit.yaml"]);
}

#[actix_rt::test]
async fn yaml_anchors_and_merge_keys() {
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "x-base: &base\n  restart: {delay: 4s}\n  environment: {A: '1'}\n\
         services:\n  a:\n    <<: *base\n    command: a\n  b:\n    <<: *base\n    command: b\n    environment: {A: '2'}\n",
    );
    // `x-base` is not a known key: anchors live in a real section instead.
    let e = load_err(&[p.clone()]).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!("{p}:1:1: unknown key \"x-base\"")),
        "{e:?}"
    );
    let p = d.write(
        "c.yaml",
        "services:\n  a: &base\n    command: a\n    restart: {delay: 4s}\n  b:\n    <<: *base\n    command: b\n",
    );
    let c = load_ok(&[p]).await.config;
    assert_eq!(c.services["b"].restart.delay.get().as_secs(), 4);
    assert_eq!(
        c.services["b"].command,
        crate::model::config::Command::Line("b".into())
    );
}

#[actix_rt::test]
async fn bad_defaults_are_reported_once_at_defaults() {
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "defaults:\n  restrat: {delay: 1s}\nservices:\n  a: {command: a}\n  b: {command: b}\n",
    );
    let e = load_err(&[p.clone()]).await;
    assert_eq!(
        e,
        vec![format!(
            "{p}:2:3: unknown key \"restrat\" in \"defaults\" (did you mean \"restart\"?)"
        )]
    );
}

#[actix_rt::test]
async fn keys_without_value_mean_unset() {
    let d = Dir::new();
    let p = d.write(
        "c.yaml",
        "api:\nlogging:\nservices:\n  web:\n    command: x\n    restart:\n    autostart:\n    \
         health:\n      - process:\n  empty:\n",
    );
    let e = load_err(&[p.clone()]).await;
    assert_eq!(
        e,
        vec![format!(
            "{p}:10:3: service \"empty\": the command is empty; set \"command\" to the program to run"
        )]
    );
}
