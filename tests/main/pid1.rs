//! PID-1 duties, run as PID 1 in a new PID namespace
//! (`unshare --pid --fork --mount-proc`): reaping orphans, the final kill
//! sweep, and running as a non-root user with a read-only config.

use crate::util;

use nix::sys::signal::Signal;
use std::time::Duration;
use util::*;

/// Zombies inside the namespace whose parent is oneinit.
fn zombies_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() == Some(&"Z") && f.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn orphans_of_a_double_forking_service_are_reaped() {
    let d = Daemon::start_with(
        r#"
services:
  forker:
    command: ["sh", "-c", "for i in 1 2 3 4 5; do (sh -c 'sleep 0.2' &) ; done; touch {dir}/forked; exec sleep 100"]
"#,
        Opts {
            pid1: true,
            ..Opts::default()
        },
    );
    assert!(
        wait_until(secs(10), || d.path("forked").exists()),
        "{}",
        d.stdout()
    );
    let oneinit = d.oneinit_pid().expect("oneinit pid");
    // The orphans were re-parented to oneinit (PID 1 in its namespace) before
    // `forked` was written; they die after 0.2 s and must be reaped: then
    // the service (`sleep 100`) is oneinit's only child, and not a zombie.
    assert!(
        wait_until(secs(10), || children_of(oneinit).len() == 1
            && zombies_of(oneinit).is_empty()),
        "children {:?}, zombies: {:?}",
        children_of(oneinit),
        zombies_of(oneinit)
    );
}

#[test]
fn double_forked_leftover_is_gone_after_shutdown() {
    let mut d = Daemon::start_with(
        r#"
services:
  leaky:
    # `$$$$`: the config reads `$$` as a literal `$` (SPEC 2), so the shell sees `$$`.
    command: ["sh", "-c", "setsid sh -c 'trap \"\" TERM; echo $$$$ > {dir}/leftover; while :; do sleep 0.1; done' & sleep 0.3; exec sleep 100"]
shutdown: {sweep_grace: 500ms}
"#,
        Opts {
            pid1: true,
            ..Opts::default()
        },
    );
    assert!(
        wait_until(secs(10), || !lines(&d.path("leftover")).is_empty()),
        "{}",
        d.stdout()
    );
    std::thread::sleep(Duration::from_millis(200));
    d.signal(Signal::SIGTERM);
    let code = d.wait_exit(secs(15));
    assert_eq!(code, Some(0), "{}", d.stdout());
    assert!(
        d.tagged_pids().is_empty(),
        "leftovers: {:?}",
        d.tagged_pids()
    );
}

#[test]
fn pid1_runs_services_and_exits_on_sigterm() {
    let mut d = Daemon::start_with(
        r#"
services:
  a:
    command: ["sh", "-c", "touch {dir}/a; exec sleep 100"]
"#,
        Opts {
            pid1: true,
            ..Opts::default()
        },
    );
    assert!(
        wait_until(secs(10), || d.path("a").exists()),
        "{}",
        d.stdout()
    );
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(15)), Some(0), "{}", d.stdout());
}

#[test]
fn runs_as_nobody_with_a_read_only_config_dir() {
    let dir = tempfile::Builder::new()
        .prefix("oneinit-ro")
        .tempdir()
        .unwrap();
    let conf_dir = dir.path().join("etc");
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = conf_dir.join("oneinit.yaml");
    std::fs::write(
        &conf,
        format!(
            "services:\n  hello:\n    command: [\"sh\", \"-c\", \"id -u > {0}/uid; exec sleep 100\"]\n",
            out_dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&conf_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut d = Daemon::start_args(
        &["--config", &conf.to_string_lossy()],
        Opts {
            pid1: true,
            user: Some("nobody"),
            ..Opts::default()
        },
    );
    let uid_file = out_dir.join("uid");
    assert!(
        wait_until(secs(10), || !lines(&uid_file).is_empty()),
        "stdout: {} stderr: {}",
        d.stdout(),
        d.stderr()
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert_eq!(lines(&uid_file), vec![nobody.to_string()]);
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(15)), Some(0), "{}", d.stdout());
}
