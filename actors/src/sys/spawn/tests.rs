//! The real spawner, end to end: each test starts a real child and waits
//! for that pid only (no reaper runs in the unit-test process).

use super::*;
use nix::sys::wait::{waitpid, WaitStatus};
use std::io::Read;

/// `sh -c script` with its stdout captured (also used by `os::real`'s tests).
pub(crate) fn sh(script: &str) -> SpawnSpec {
    SpawnSpec {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        capture: true,
        ..SpawnSpec::default()
    }
}

/// Spawns, reads stdout to EOF, waits for the child; returns (pid, stdout, exit code).
pub(crate) fn run(spec: &SpawnSpec) -> (i32, String, i32) {
    let child = spawn(spec).expect("spawn");
    let mut out = String::new();
    let fd = child.stdout.expect("captured stdout");
    std::fs::File::from(fd)
        .read_to_string(&mut out)
        .expect("read stdout");
    let pid = child.pid;
    let code = match waitpid(pid, None).expect("waitpid") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("child ended with {other:?}"),
    };
    (pid.as_raw(), out, code)
}

#[test]
fn listen_pid_is_the_childs_own_pid() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut spec = sh(r#"echo "$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES""#);
    spec.listen_fds = vec![listener.as_raw_fd()];
    spec.listen_names = vec!["web".into()];
    let (pid, out, code) = run(&spec);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("{pid} {pid} 1 web"));
}

#[test]
fn the_passed_socket_is_fd_3_and_nothing_else_leaks() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    // An fd without CLOEXEC in the parent must still not reach the child.
    let (leak_r, leak_w) = nix::unistd::pipe().expect("pipe");
    let mut spec = sh("ls /proc/self/fd");
    spec.listen_fds = vec![listener.as_raw_fd()];
    spec.listen_names = vec!["web".into()];
    let (_, out, code) = run(&spec);
    drop((leak_r, leak_w));
    assert_eq!(code, 0);
    let mut fds: Vec<i32> = out
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort_unstable();
    // 0-2, the socket as 3, and the fd `ls` opened for /proc/self/fd.
    assert_eq!(&fds[..4], &[0, 1, 2, 3], "fds in the child: {fds:?}");
    assert_eq!(fds.len(), 5, "fds in the child: {fds:?}");
}

#[test]
fn too_many_sockets_are_refused_before_the_clone() {
    let mut spec = sh("true");
    spec.listen_fds = vec![0; MAX_LISTEN_FDS + 1];
    let err = spawn(&spec).expect_err("more than MAX_LISTEN_FDS");
    assert!(err.message.contains("at most 64"), "{}", err.message);
}

#[test]
fn a_failure_before_exec_names_its_stage() {
    let mut spec = sh("true");
    spec.workdir = Some("/nonexistent-oneinit-dir".into());
    let err = spawn(&spec).expect_err("chdir fails");
    assert_eq!(err.exit_code, 126);
    assert!(
        err.message.starts_with("changing to workdir failed:"),
        "{}",
        err.message
    );
}

#[test]
fn a_missing_program_is_127_and_a_directory_126() {
    let mut spec = sh("true");
    spec.argv = vec!["/nonexistent-oneinit-program".into()];
    let err = spawn(&spec).expect_err("no such program");
    assert_eq!(
        (err.exit_code, err.message.as_str()),
        (127, "exec failed: No such file or directory")
    );
    spec.argv = vec!["/".into()];
    let err = spawn(&spec).expect_err("a directory");
    assert_eq!(err.exit_code, 126, "{}", err.message);
}

#[test]
fn signals_start_at_their_defaults_with_an_empty_mask() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: ignoring SIGUSR2 for a moment; no test in this binary uses it.
    let old = unsafe { sigaction(Signal::SIGUSR2, &ignore) }.expect("sigaction");
    let result = run(&sh("grep -E '^Sig(Ign|Blk)' /proc/self/status"));
    // SAFETY: restores the action saved above.
    unsafe { sigaction(Signal::SIGUSR2, &old) }.expect("sigaction");
    let (_, out, code) = result;
    assert_eq!(code, 0);
    for line in out.lines() {
        let mask = line.split_whitespace().nth(1).unwrap_or("?");
        assert!(mask.chars().all(|c| c == '0'), "{line}");
    }
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn identity_switch_with_raw_setres_calls() {
    let root = nix::unistd::geteuid().is_root();
    // As root: nobody's ids and no supplementary group. Otherwise the same
    // calls with the caller's own ids, which the kernel allows.
    let (uid, gid) = if root {
        (65534, 65534)
    } else {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    };
    let mut spec = sh("echo $(id -u) $(id -g) $(id -G)");
    spec.uid = Some(uid);
    spec.gid = Some(gid);
    spec.groups = vec![gid];
    let (_, out, code) = run(&spec);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("{uid} {gid} {gid}"));
}

#[test]
fn rlimits_umask_and_workdir_are_applied() {
    let dir = std::env::temp_dir();
    let mut spec = sh("ulimit -Sn; ulimit -Hn; umask; pwd");
    spec.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 123)];
    spec.umask = Some(0o027);
    spec.workdir = Some(dir.clone());
    let (_, out, code) = run(&spec);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    let dir = dir.canonicalize().expect("temp dir");
    assert_eq!(lines, ["123", "123", "0027", dir.to_str().expect("utf-8")]);
}

#[test]
fn children_get_back_the_nofile_soft_limit_unless_the_service_sets_one() {
    let original = Rlimit64 {
        cur: 1024,
        max: 524288,
    };
    let nofile = libc::RLIMIT_NOFILE as i32;
    let core = libc::RLIMIT_CORE as i32;
    // oneinit raised its own: the child gets the original soft limit back.
    assert_eq!(
        child_rlimits(&[(core, 0)], Some(original)),
        [(core, Rlimit64 { cur: 0, max: 0 }), (nofile, original)]
    );
    // The service's own `limits.nofile` wins.
    assert_eq!(
        child_rlimits(&[(nofile, 4096)], Some(original)),
        [(
            nofile,
            Rlimit64 {
                cur: 4096,
                max: 4096
            }
        )]
    );
    // oneinit did not change its limit: nothing to restore.
    assert_eq!(child_rlimits(&[], None), []);
}

#[test]
fn listen_pid_digits_are_written_without_allocation() {
    let mut out = [0xffu8; LISTEN_PID_DIGITS + 1];
    for (n, text) in [
        (0u64, "0"),
        (7, "7"),
        (4194304, "4194304"),
        (4294967295, "4294967295"),
    ] {
        let len = child::format_decimal(n, &mut out);
        assert_eq!(&out[..len], text.as_bytes());
        assert_eq!(out[len], 0);
    }
}

#[test]
fn stdin_is_dev_null_or_the_given_pipe() {
    let (_, out, _) = run(&sh("cat; echo end"));
    assert_eq!(out, "end\n");
    let mut spec = sh("cat");
    spec.stdin_pipe = true;
    let child = spawn(&spec).expect("spawn");
    let mut stdin = std::fs::File::from(child.stdin.expect("stdin pipe"));
    std::io::Write::write_all(&mut stdin, b"event json\n").expect("write");
    drop(stdin);
    let mut out = String::new();
    std::fs::File::from(child.stdout.expect("stdout"))
        .read_to_string(&mut out)
        .expect("read");
    assert!(matches!(
        waitpid(child.pid, None),
        Ok(WaitStatus::Exited(_, 0))
    ));
    assert_eq!(out, "event json\n");
}
