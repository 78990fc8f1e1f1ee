//! oneinit's startup steps against the real binary (SPEC 1): a bad flag
//! value is a usage error naming the accepted values, and every step that
//! can fail before anything runs exits with its code: 2 for a configuration
//! or usage error (each message naming its source), 1 when the process
//! itself cannot be set up. Nothing is started in any of these cases.

use crate::util;

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::process::Command;
use util::{run_bounded, run_oneinit, secs, TestDir};

/// `oneinit ARGS` with a runtime directory of its own.
fn oneinit(dir: &TestDir, args: &[&str]) -> util::Output {
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let runtime = runtime.display().to_string();
    run_oneinit(args, &[("ONEINIT_RUNTIME_DIR", &runtime)], secs(20))
}

/// Exit code 2, one error on stderr containing `needle`, nothing started.
fn assert_usage_error(out: &util::Output, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains(needle), "{needle:?} not in {out:?}");
    assert!(
        !out.stdout.contains("spawned"),
        "a service was started: {out:?}"
    );
}

#[test]
fn a_bad_log_level_is_a_usage_error_naming_the_levels() {
    let d = TestDir::new();
    let out = oneinit(&d, &["--log-level", "loud", "--", "true"]);
    assert_usage_error(&out, "invalid value 'loud' for '--log-level <LEVEL>'");
    assert!(
        out.stderr
            .contains("[possible values: trace, debug, info, warn, error]"),
        "{out:?}"
    );
}

#[test]
fn a_bad_log_format_is_a_usage_error_naming_the_formats() {
    let d = TestDir::new();
    let out = oneinit(&d, &["--log-format", "xml", "--", "true"]);
    assert_usage_error(&out, "invalid value 'xml' for '--log-format <FORMAT>'");
    assert!(
        out.stderr.contains("[possible values: json, text]"),
        "{out:?}"
    );
}

#[test]
fn the_flag_values_are_applied() {
    let d = TestDir::new();
    let out = oneinit(
        &d,
        &["--log-format", "text", "--log-level", "info", "--", "true"],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    // Text records, at info (tini mode alone would log only errors).
    let started = out
        .stdout
        .lines()
        .find(|l| l.contains("oneinit started"))
        .unwrap_or_else(|| panic!("no start record: {out:?}"));
    assert!(!started.starts_with('{'), "not text: {started}");
    assert!(started.contains(" INFO "), "{started}");
}

#[test]
fn tini_flags_without_a_command_exit_2() {
    let d = TestDir::new();
    let out = oneinit(&d, &["-e", "3"]);
    assert_usage_error(&out, "oneinit: -g and -e apply to the command after `--`");
}

#[test]
fn no_configuration_exits_2_naming_the_paths_tried() {
    let d = TestDir::new();
    let missing = d.path().join("none.yaml").display().to_string();
    let runtime = d.path().display().to_string();
    let out = run_oneinit(
        &[],
        &[
            ("ONEINIT_CONFIG", &missing),
            ("ONEINIT_RUNTIME_DIR", &runtime),
        ],
        secs(20),
    );
    assert_usage_error(
        &out,
        &format!("oneinit: no configuration found (tried {missing})"),
    );
}

#[test]
fn an_unreadable_configuration_exits_2_naming_the_file() {
    let d = TestDir::new();
    // A directory where a file is expected: exists, cannot be read as one.
    let path = d.path().join("conf.yaml");
    std::fs::create_dir_all(&path).expect("dir");
    let shown = path.display().to_string();
    let out = oneinit(&d, &["--config", &shown]);
    assert_usage_error(&out, &format!("{shown}: "));
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

#[test]
fn a_service_named_main_in_tini_mode_exits_2() {
    let d = TestDir::new();
    let conf = d.write("c.yaml", "services:\n  main:\n    command: [\"true\"]\n");
    let out = oneinit(&d, &["--config", &conf.display().to_string(), "--", "true"]);
    assert_usage_error(&out, "the service name `main` is reserved");
}

#[test]
fn a_taken_activation_socket_exits_2_naming_the_service() {
    let d = TestDir::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let conf = d.write(
        "c.yaml",
        &format!(
            "services:\n  web:\n    type: on-demand\n    command: [\"true\"]\n    socket:\n      listen: [\"{addr}\"]\n"
        ),
    );
    let shown = conf.display().to_string();
    let out = oneinit(&d, &["--config", &shown]);
    assert_usage_error(&out, &format!("{shown}: service web: socket.listen"));
}

#[test]
fn a_taken_api_address_exits_2() {
    let d = TestDir::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = oneinit(&d, &["--api-listen", &addr, "--", "true"]);
    assert_usage_error(
        &out,
        &format!("oneinit: api listen address {addr}: cannot bind {addr}:"),
    );
    assert!(out.stderr.contains("pick a free port"), "{out:?}");
}

#[test]
fn an_api_socket_another_process_listens_on_exits_2() {
    let d = TestDir::new();
    let path = d.path().join("busy.sock");
    let _busy = UnixListener::bind(&path).expect("bind");
    let listen = format!("unix://{}", path.display());
    let out = oneinit(&d, &["--api-listen", &listen, "--", "true"]);
    assert_usage_error(&out, "another process (oneinit?) is listening on it");
}

#[test]
fn a_public_api_listener_without_tls_and_auth_exits_2() {
    let d = TestDir::new();
    let out = oneinit(&d, &["--api-listen", "0.0.0.0:0", "--", "true"]);
    assert_usage_error(
        &out,
        "refusing a non-loopback TCP listener without TLS and auth",
    );
}

#[test]
fn a_bad_metrics_listen_address_exits_2_naming_the_key() {
    let d = TestDir::new();
    let conf = d.write(
        "c.yaml",
        "metrics:\n  listen: \"unix://relative.sock\"\nservices:\n  web:\n    command: [\"true\"]\n",
    );
    let out = oneinit(&d, &["--config", &conf.display().to_string()]);
    assert_usage_error(&out, "metrics.listen \"unix://relative.sock\"");
}

#[test]
fn missing_tls_files_exit_2_naming_the_key_and_file() {
    let d = TestDir::new();
    let cert = d.path().join("missing-cert.pem").display().to_string();
    let key = d.path().join("missing-key.pem").display().to_string();
    let conf = d.write(
        "c.yaml",
        &format!(
            "api:\n  listen: [\"127.0.0.1:0\"]\n  tls: {{cert: \"{cert}\", key: \"{key}\"}}\nservices:\n  web:\n    command: [\"true\"]\n"
        ),
    );
    let out = oneinit(&d, &["--config", &conf.display().to_string()]);
    assert_usage_error(&out, &format!("oneinit: api.tls.cert: {cert}: "));
}

#[test]
fn an_unset_token_variable_exits_2_naming_the_token() {
    let d = TestDir::new();
    let conf = d.write(
        "c.yaml",
        "api:\n  auth:\n    tokens: [{name: ci, token_env: ONEINIT_TEST_SURELY_UNSET_TOKEN, role: admin}]\nservices:\n  web:\n    command: [\"true\"]\n",
    );
    let out = oneinit(&d, &["--config", &conf.display().to_string()]);
    assert_usage_error(
        &out,
        "oneinit: api.auth.tokens[ci].token_env: environment variable ONEINIT_TEST_SURELY_UNSET_TOKEN is not set",
    );
}

#[test]
fn no_descriptors_for_the_runtime_exits_1() {
    // With only stdin, stdout, stderr and one more descriptor allowed, the
    // async runtime cannot be built: not the user's input, so exit 1.
    let d = TestDir::new();
    let runtime = d.path().display().to_string();
    let out = run_bounded(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 4 && exec \"$0\" -- true")
            .arg(util::BIN)
            .env("ONEINIT_RUNTIME_DIR", &runtime)
            .env_remove("ONEINIT_CONFIG"),
        secs(20),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .starts_with("oneinit: cannot start the async runtime: "),
        "{out:?}"
    );
}

#[test]
fn too_few_descriptors_for_the_signal_driver_exit_1_not_a_panic() {
    // With 6 to 8 descriptors the runtime itself could be built, but tokio's
    // signal driver then panicked (exit 101) for want of a socket pair.
    for limit in [6, 7, 8] {
        let d = TestDir::new();
        let runtime = d.path().display().to_string();
        let out = run_bounded(
            Command::new("sh")
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" -- true"))
                .arg(util::BIN)
                .env("ONEINIT_RUNTIME_DIR", &runtime)
                .env_remove("ONEINIT_CONFIG"),
            secs(20),
        );
        assert_eq!(out.code, Some(1), "ulimit -n {limit}: {out:?}");
        assert!(
            out.stderr
                .starts_with("oneinit: cannot start the async runtime: "),
            "ulimit -n {limit}: {out:?}"
        );
    }
}

#[test]
#[ignore = "needs root (runs oneinit as nobody)"]
fn a_user_switch_without_root_exits_2_naming_the_service() {
    use std::os::unix::process::CommandExt;
    let (_dir, conf) = util::config_for_nobody(
        "oneinit-ident",
        "services:\n  web:\n    command: [\"true\"]\n    user: root\n",
    );
    let out = run_bounded(
        Command::new(util::BIN)
            .args(["--config", &conf.display().to_string()])
            .env_remove("ONEINIT_CONFIG")
            .env("ONEINIT_RUNTIME_DIR", "/nonexistent-not-reached")
            .uid(65534)
            .gid(65534),
        secs(20),
    );
    assert_usage_error(
        &out,
        &format!(
            "{}: service \"web\": cannot run as user \"root\"",
            conf.display()
        ),
    );
}

/// `onecli ARGS` without a server or token from the environment.
fn onecli(args: &[&str]) -> util::Output {
    run_bounded(
        Command::new(env!("CARGO_BIN_EXE_onecli"))
            .args(args)
            .env_remove("ONECLI_TOKEN")
            .env_remove("ONECLI_SERVER"),
        secs(20),
    )
}

#[test]
fn onecli_bad_timeout_is_a_usage_error_naming_the_units() {
    let out = onecli(&["start", "web", "--wait", "--timeout", "5x"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("invalid value '5x' for '--timeout <DURATION>'"),
        "{out:?}"
    );
    assert!(out.stderr.contains("use ms, s, m, h or d"), "{out:?}");
}

#[test]
fn onecli_bad_server_exits_2_and_an_absent_one_exits_5() {
    let out = onecli(&["--server", "ftp://x", "status"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        "onecli: --server ftp://x: use unix:///path, http://host:port or https://host:port"
    );
    let d = TestDir::new();
    let nobody = format!("unix://{}", d.path().join("none.sock").display());
    let out = onecli(&["--server", &nobody, "status"]);
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(
        out.stderr
            .starts_with(&format!("onecli: cannot reach oneinit at {nobody}: ")),
        "{out:?}"
    );
    assert!(out.stderr.contains("is it running?"), "{out:?}");
}
