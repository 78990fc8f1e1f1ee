//! RLIMIT_NOFILE (issue 15, "never starve"): oneinit raises its own soft
//! open-files limit to the hard limit at start, and its services get back
//! the soft limit oneinit was started with, unless `limits.nofile` says
//! otherwise. oneinit is started under `prlimit --nofile=256:` (soft 256,
//! hard unchanged), like a container runtime with a low default.

use crate::util;

use std::fs;
use util::{secs, wait_until, Daemon, Opts};

/// (soft, hard) of "Max open files" in /proc/PID/limits.
fn proc_nofile(pid: i32) -> (u64, u64) {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).expect("read /proc/PID/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// Waits for a service to write `file` and returns its trimmed content.
fn read_when_written(d: &Daemon, file: &str) -> String {
    let path = d.path(file);
    let mut text = String::new();
    let done = wait_until(secs(10), || {
        text = fs::read_to_string(&path).unwrap_or_default();
        text.ends_with('\n')
    });
    assert!(
        done,
        "{file} not written; oneinit's output:\n{}",
        d.stdout()
    );
    text.trim().to_string()
}

#[test]
fn oneinit_raises_its_soft_limit_and_services_keep_the_original() {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    assert!(
        hard > 256,
        "the test needs a hard open-files limit above 256 (have {hard})"
    );
    let config = r#"
services:
  plain:
    command: ["/bin/sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn) > {dir}/plain.txt; exec sleep 1000"]
    health:
      - exec: {command: ["/bin/sh", "-c", "ulimit -Sn > {dir}/check.txt"]}
        interval: 1s
  own:
    command: ["/bin/sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn) > {dir}/own.txt; exec sleep 1000"]
    limits: {nofile: 512}
"#;
    let mut d = Daemon::start_with(
        config,
        Opts {
            wrapper: vec!["prlimit", "--nofile=256:"],
            ..Opts::default()
        },
    );
    let pid = d.oneinit_pid().expect("oneinit's pid");
    assert_eq!(read_when_written(&d, "plain.txt"), format!("256 {hard}"));
    assert_eq!(read_when_written(&d, "own.txt"), "512 512");
    // Helpers (here a health check's command) get the original back too.
    assert_eq!(read_when_written(&d, "check.txt"), "256");
    // oneinit itself runs with the raised limit.
    assert_eq!(proc_nofile(pid), (hard, hard));
    d.expect_event("spawned", Some("plain"), secs(5));
    assert!(
        d.records().iter().any(|r| r["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("raised the open-files soft limit"))
            && r["nofile"] == hard
            && r["services_nofile"] == 256),
        "no record of the raised limit:\n{}",
        d.stdout()
    );
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(15)), Some(0), "{}", d.stdout());
}
