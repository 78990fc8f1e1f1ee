//! Helpers shared by the integration tests: run the real binaries with a
//! bounded wait, kill what a test started when it ends (also on panic).
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The `oneinit` binary under test.
pub fn oneinit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_oneinit")
}

/// Runs `cmd` to completion, at most `timeout`; panics (after killing it)
/// if it takes longer, so a hung binary never hangs the suite.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for {cmd:?} failed: {e}"),
        Err(_) => {
            kill_pid(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// `oneinit ARGS...`, bounded to 30 s.
pub fn oneinit(args: &[&str]) -> Output {
    run_bounded(
        Command::new(oneinit_bin()).args(args),
        Duration::from_secs(30),
    )
}

/// `oneinit check --config PATH`; returns (exit code, stderr).
pub fn check_config(path: &Path) -> (Option<i32>, String) {
    let path = path.to_string_lossy().to_string();
    let out = oneinit(&["check", "--config", &path]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub fn kill_pid(pid: u32, sig: nix::sys::signal::Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), sig);
    }
}

/// A started process that is SIGKILLed and reaped when the guard drops.
pub struct ChildGuard {
    pub child: Child,
}

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        ChildGuard { child }
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(Duration::from_millis(25)),
                Err(_) => return None,
            }
        }
        None
    }

    /// Everything the process wrote to a piped stderr so far (after exit).
    pub fn stderr_text(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for ChildGuard {
    /// SIGTERM first, so a supervisor under test stops its own children
    /// (they live in their own sessions and would outlive a SIGKILL); then
    /// SIGKILL after a bounded wait.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill_pid(self.child.id(), nix::sys::signal::Signal::SIGTERM);
            if self.wait_timeout(Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Polls `cond` every 25 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
}

/// Writes `text` to `dir/name` (creating folders) and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test folder");
    }
    std::fs::write(&path, text).expect("write test file");
    path
}
