//! `oneinit --` as a drop-in for tini (SPEC 1), checked the way tini's own
//! test suite checks tini: every exit code 0..=255 and `-e` remapping,
//! reaping of 100 orphans as PID 1, TERM/USR1/USR2/HUP (and the rest)
//! forwarded to the command and giving 128+N, process-group delivery with
//! `-g`, and the parent-death signal of `-p`.

use crate::util;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use util::*;

/// `oneinit ARGS` to completion (≤ 20 s) with its own runtime dir.
fn run(args: &[&str]) -> Option<i32> {
    let dir = TestDir::new();
    let rt = dir.path().join("rt");
    let rt = rt.to_string_lossy();
    run_oneinit(args, &[("ONEINIT_RUNTIME_DIR", &rt)], secs(20)).code
}

/// Runs `check(code)` for every code 0..=255 on a few threads; the failures.
fn for_every_code(check: impl Fn(i32) -> Option<String> + Sync) -> Vec<String> {
    let next = Arc::new(AtomicI32::new(0));
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let code = next.fetch_add(1, Ordering::Relaxed);
                if code > 255 {
                    break;
                }
                if let Some(f) = check(code) {
                    failures.lock().expect("lock").push(f);
                }
            });
        }
    });
    failures.into_inner().expect("lock")
}

#[test]
fn every_exit_code_passes_through() {
    let failures = for_every_code(|code| {
        let got = run(&["--", "sh", "-c", &format!("exit {code}")]);
        (got != Some(code)).then(|| format!("exit {code}: oneinit exited {got:?}"))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dash_e_maps_an_expected_code_to_zero() {
    // tini's inclusive test: `-e CODE` turns CODE into 0, for every code.
    let failures = for_every_code(|code| {
        let c = code.to_string();
        let got = run(&["-e", &c, "--", "sh", "-c", &format!("exit {code}")]);
        (got != Some(0)).then(|| format!("-e {code}, exit {code}: oneinit exited {got:?}"))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Exclusive: the other codes leave it alone; -e repeats.
    assert_eq!(
        run(&["-e", "1", "-e", "3", "--", "sh", "-c", "exit 2"]),
        Some(2)
    );
    assert_eq!(
        run(&["-e", "1", "-e", "3", "--", "sh", "-c", "exit 3"]),
        Some(0)
    );
    // A death by a signal is 128+N, and -e can name that code too (as tini).
    assert_eq!(run(&["-e", "143", "--", "sh", "-c", "kill $$"]), Some(0));
    // Out of range, or without a command: a usage error.
    assert_eq!(run(&["-e", "256", "--", "true"]), Some(2));
    assert_eq!(run(&["-e", "3"]), Some(2));
    assert_eq!(run(&["-g"]), Some(2));
    // -s is accepted and changes nothing.
    assert_eq!(run(&["-s", "--", "sh", "-c", "exit 5"]), Some(5));
}

/// tini's reaping test: the command starts 100 processes that are orphaned
/// at once; every one of them is reaped, none is left as a zombie.
#[test]
fn reaps_100_orphans_as_pid1() {
    let script = r#"
(for i in $(seq 100); do sleep 0.$((i % 5 + 1)) & done)
n=0
while [ $n -lt 200 ]; do
  left=0
  for f in /proc/[0-9]*/stat; do
    read -r line < "$f" 2>/dev/null || continue
    case "$line" in *"(sleep) "*) left=$((left + 1));; esac
  done
  [ $left -eq 0 ] && exit 0
  n=$((n + 1))
  sleep 0.05
done
echo "$left sleep processes (alive or zombie) left" >&2
exit 1
"#;
    let mut d = Daemon::start_args(
        &["-s", "--", "sh", "-c", script],
        Opts {
            pid1: true,
            ..Opts::default()
        },
    );
    assert_eq!(d.wait_exit(secs(30)), Some(0), "{}", d.stderr());
}

/// Starts `oneinit ARGS -- sh -c SCRIPT` (SCRIPT touches $READY, a file in
/// `dir`, once set up) and waits until it is ready.
fn start_ready(
    dir: &TestDir,
    args: &[&str],
    script: &str,
    env: Vec<(&'static str, String)>,
) -> Daemon {
    let ready = dir.path().join("ready");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "sh", "-c", script]);
    let mut env = env;
    env.push(("READY", ready.to_string_lossy().into_owned()));
    let d = Daemon::start_args(
        &all,
        Opts {
            env,
            ..Opts::default()
        },
    );
    assert!(
        wait_until(secs(10), || ready.exists()),
        "the command never got ready: {}",
        d.stderr()
    );
    d
}

/// tini's signal test: each signal sent to oneinit reaches the command,
/// which dies of it, and oneinit exits 128+N. Without a config file this
/// holds for HUP and USR1 as well, and for real-time signals.
#[test]
fn signals_are_forwarded_and_give_128_plus_n() {
    for n in [15, 10, 12, 1, 2, 3, 36, 64] {
        let dir = TestDir::new();
        let mut d = start_ready(&dir, &[], "touch \"$READY\"; exec sleep 100", vec![]);
        let pid = d.oneinit_pid().expect("oneinit pid");
        let sig = oneinit_actors::model::signal::Signal::new(n).expect("a signal number");
        oneinit_actors::sys::signals::kill(pid, sig).expect("kill");
        let code = d.wait_exit(secs(10));
        assert_eq!(code, Some(128 + n), "signal {n}: {}", d.stdout());
    }
}

/// With a config file, HUP and USR1 keep oneinit's meaning (reload, reopen
/// logs) and are not forwarded; TERM shuts down with main's status.
#[test]
fn with_a_config_hup_reloads_instead_of_reaching_main() {
    let dir = TestDir::new();
    let cfg = dir.write("c.yaml", "services: {}\n");
    let cfg = cfg.to_string_lossy().into_owned();
    let mut d = start_ready(
        &dir,
        &["--config", &cfg, "--log-level", "info"],
        "trap 'echo hup >> \"$READY.hup\"' HUP; trap 'exit 9' TERM; touch \"$READY\"; while :; do sleep 0.05; done",
        vec![],
    );
    d.signal(nix::sys::signal::Signal::SIGHUP);
    d.expect_event("reloaded", None, secs(10));
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(10)), Some(9));
    assert!(
        !dir.path().join("ready.hup").exists(),
        "HUP reached main: {}",
        d.stdout()
    );
}

/// tini's process-group test: main ignores USR1 and runs a child that does
/// not; with `-g` the child (same process group) gets USR1 and dies, then
/// main exits. Without `-g` only main is signalled, and nothing happens.
#[test]
fn dash_g_signals_the_whole_process_group() {
    // READY is touched by the child once its USR1 is back to the default.
    let script = "trap '' USR1; env --default-signal=USR1 sh -c 'touch \"$READY\"; exec sleep 1000'; echo \"sleep ended $?\"; exit 7";
    let dir = TestDir::new();
    let mut d = start_ready(&dir, &["-g"], script, vec![]);
    d.signal(nix::sys::signal::Signal::SIGUSR1);
    assert_eq!(d.wait_exit(secs(10)), Some(7), "{}", d.stdout());
    assert!(d.stdout().contains("sleep ended 138"), "{}", d.stdout());

    // tini's environment variable does the same.
    let dir = TestDir::new();
    let mut d = start_ready(
        &dir,
        &[],
        script,
        vec![("TINI_KILL_PROCESS_GROUP", "1".to_string())],
    );
    d.signal(nix::sys::signal::Signal::SIGUSR1);
    assert_eq!(d.wait_exit(secs(10)), Some(7), "{}", d.stdout());

    let dir = TestDir::new();
    let mut d = start_ready(&dir, &[], script, vec![]);
    d.signal(nix::sys::signal::Signal::SIGUSR1);
    assert_eq!(
        d.wait_exit(std::time::Duration::from_millis(700)),
        None,
        "without -g the grandchild must not get USR1: {}",
        d.stdout()
    );
}

/// tini's parent-death test: `-p SIGUSR1`, the parent of oneinit is killed,
/// oneinit gets USR1 and (no config file) forwards it to the command.
#[test]
fn dash_p_sets_the_parent_death_signal() {
    let dir = TestDir::new();
    let ready = dir.path().join("ready");
    let got = dir.path().join("got");
    let pidfile = dir.path().join("pid");
    let main =
        "trap 'echo usr1 > \"$GOT\"; exit 0' USR1; touch \"$READY\"; while :; do sleep 0.05; done";
    let parent = Command::new("sh")
        .args([
            "-c",
            "\"$ONEINIT\" -p SIGUSR1 -- sh -c \"$MAIN\" & echo $! > \"$PIDFILE\"; exec sleep 1000",
        ])
        .env("ONEINIT", BIN)
        .env("MAIN", main)
        .env("READY", &ready)
        .env("GOT", &got)
        .env("PIDFILE", &pidfile)
        .env("ONEINIT_RUNTIME_DIR", dir.path().join("rt"))
        .env("ONEINIT_TEST_TAG", format!("tini-p-{}", std::process::id()))
        .stdin(Stdio::null())
        .spawn()
        .expect("start the parent shell");
    let mut parent = KillOnDrop(parent);
    assert!(wait_until(secs(10), || ready.exists()), "main never ready");
    let oneinit: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    parent.0.kill().expect("kill the parent");
    let _ = parent.0.wait();
    assert!(
        wait_until(secs(10), || got.exists()),
        "main never got the parent-death signal"
    );
    let gone = wait_until(secs(10), || proc_state(oneinit).is_none_or(|s| s == 'Z'));
    if !gone {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(oneinit),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(gone, "oneinit did not exit after main ended");
}
