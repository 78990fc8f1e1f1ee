//! Shared helpers for the integration tests: temp dirs with config files and
//! running the real `oneinit` binary with a bounded wait.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A unique temp dir holding the files of one test.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("create a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` (creating folders) and returns its full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a folder");
        }
        std::fs::write(&path, text).expect("write a file");
        path
    }
}

/// Kills the child when dropped, so no test leaves a process behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `oneinit ARGS` to completion, bounded by `timeout`; panics (after
/// killing it) when it does not finish in time.
pub fn run_oneinit(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oneinit"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("ONEINIT_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut guard = KillOnDrop(cmd.spawn().expect("start oneinit"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("poll oneinit") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "oneinit {args:?} did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = guard.0.stdout.take() {
        out.read_to_string(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = guard.0.stderr.take() {
        err.read_to_string(&mut stderr).expect("read stderr");
    }
    Output {
        code: status.code(),
        stdout,
        stderr,
    }
}
