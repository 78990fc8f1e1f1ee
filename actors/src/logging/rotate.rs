//! Size-rotated log files (SPEC 6), used for a service's `logs.file` (as a
//! `LineFile`) and for oneinit's own `logging.file` (as a sink `Output`).
//!
//! Naming is logrotate's: `web.log` is live, `web.log.1` (`.1.gz` with
//! `compress`) the newest rotated file, at most `max_files` rotated files.
//! Files are created with mode 0640 and their parent folders on demand.
//! A write that fails (full disk, unwritable path) is reported once through
//! `on_error` and retried at most once a second; it never panics and never
//! reaches the caller, so supervision goes on whatever the disk does.

use super::service_logs::LineFile;
use super::sink::Output;
use crate::model::config::{LogFileConfig, ServiceLogsConfig};
use flate2::write::GzEncoder;
use flate2::Compression;
use slog::{error, info, Logger};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Mode of every log file oneinit creates (owner rw, group r).
pub const FILE_MODE: u32 = 0o640;

/// How often a failing file is retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Told about a file problem once (`true`, an error) and once when it is
/// solved (`false`, for an info record).
pub type OnError = Box<dyn Fn(bool, &str) + Send + Sync>;

/// Where and how to rotate.
#[derive(Clone, Debug, PartialEq)]
pub struct RotationPolicy {
    pub path: PathBuf,
    /// Rotate before a write would make the live file larger than this.
    pub max_size: u64,
    /// Rotated files kept besides the live one (0: the live file is just
    /// started again).
    pub max_files: u32,
    /// gzip rotated files (`web.log.1.gz`).
    pub compress: bool,
}

impl RotationPolicy {
    /// A service's `logs.file` (None when it has none).
    pub fn for_service(logs: &ServiceLogsConfig) -> Option<RotationPolicy> {
        Some(RotationPolicy {
            path: PathBuf::from(logs.file.as_deref()?),
            max_size: logs.max_size.0,
            max_files: logs.max_files,
            compress: logs.compress,
        })
    }

    /// oneinit's own `logging.file`.
    pub fn for_oneinit(file: &LogFileConfig) -> RotationPolicy {
        RotationPolicy {
            path: PathBuf::from(&file.path),
            max_size: file.max_size.0,
            max_files: file.max_files,
            compress: file.compress,
        }
    }
}

/// Reports file problems as records of `log` (error, then info once solved).
pub fn report_to(log: Logger) -> OnError {
    Box::new(move |is_error, msg| {
        if is_error {
            error!(log, "{}", msg);
        } else {
            info!(log, "{}", msg);
        }
    })
}

/// The writer; not shared (see `SharedRotatingFile` for the `LineFile`).
pub struct RotatingFile {
    policy: RotationPolicy,
    file: Option<BufWriter<File>>,
    size: u64,
    /// Set while the file cannot be written: the error was already reported.
    failing: bool,
    /// See `take_lost`.
    lost: u64,
    last_attempt: Option<Instant>,
    on_error: OnError,
}

impl RotatingFile {
    /// Opens (creating) the live file. An error is reported and retried
    /// later, never returned: a log file must not stop oneinit from starting.
    pub fn open(policy: RotationPolicy, on_error: OnError) -> RotatingFile {
        let mut f = RotatingFile {
            policy,
            file: None,
            size: 0,
            failing: false,
            lost: 0,
            last_attempt: None,
            on_error,
        };
        f.try_open();
        f
    }

    pub fn path(&self) -> &Path {
        &self.policy.path
    }

    /// Appends one record (newline included), rotating first when needed.
    /// Returns false when the record could not be written.
    pub fn write(&mut self, record: &[u8]) -> bool {
        if self.file.is_none() && !self.retry_due() {
            return false;
        }
        if self.file.is_none() {
            self.try_open();
        }
        let len = record.len() as u64;
        if self.size > 0 && self.size + len > self.policy.max_size {
            if let Err(e) = self.rotate() {
                self.fail(&format!("cannot rotate: {e}"));
                // Keep writing to the live file rather than losing lines.
                if self.file.is_none() {
                    self.try_open();
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return false;
        };
        match file.write_all(record) {
            Ok(()) => {
                self.size += len;
                self.recovered();
                true
            }
            Err(e) => {
                self.fail(&format!("cannot write: {e}"));
                self.discard();
                false
            }
        }
    }

    /// Pushes buffered bytes to the kernel.
    pub fn flush(&mut self) {
        if let Some(file) = self.file.as_mut() {
            if let Err(e) = file.flush() {
                self.fail(&format!("cannot write: {e}"));
                self.discard();
            }
        }
    }

    /// After a failed write: counts the records still buffered as lost and
    /// closes the file without writing them again (it is reopened on the
    /// next attempt: it may have gone away).
    fn discard(&mut self) {
        if let Some(file) = self.file.take() {
            let (_, buffered) = file.into_parts();
            let buffered = buffered.unwrap_or_default();
            self.lost += memchr::memchr_iter(b'\n', &buffered).count() as u64;
        }
    }

    /// Records accepted by `write` but lost when the buffer could not be
    /// written, since the last call.
    pub fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// Closes and opens the live path again (SIGUSR1, after an external
    /// rotation moved the file away).
    pub fn reopen(&mut self) {
        self.flush();
        self.file = None;
        self.try_open();
    }

    fn retry_due(&self) -> bool {
        self.last_attempt.is_none_or(|t| t.elapsed() >= RETRY_EVERY)
    }

    fn try_open(&mut self) {
        self.last_attempt = Some(Instant::now());
        match open_live(&self.policy.path) {
            Ok((file, size)) => {
                // Recovered only once a write succeeds (a full disk still
                // lets a file be opened).
                self.file = Some(BufWriter::with_capacity(64 * 1024, file));
                self.size = size;
            }
            Err(e) => self.fail(&format!("cannot open: {e}")),
        }
    }

    fn fail(&mut self, what: &str) {
        if !self.failing {
            self.failing = true;
            let msg = format!(
                "log file {}: {what}; its lines are kept on stdout only until it can be written again (check the disk space and the folder's permissions)",
                self.policy.path.display()
            );
            (self.on_error)(true, &msg);
        }
    }

    fn recovered(&mut self) {
        if self.failing {
            self.failing = false;
            let msg = format!("log file {}: writing again", self.policy.path.display());
            (self.on_error)(false, &msg);
        }
    }

    /// logrotate's scheme: shift `.N` to `.N+1`, drop what is beyond
    /// `max_files`, move the live file to `.1` (gzipped with `compress`).
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        let p = &self.policy;
        if p.max_files == 0 {
            remove_if_exists(&p.path)?;
        } else {
            let suffix = if p.compress { ".gz" } else { "" };
            let nth = |n: u32| numbered(&p.path, n, suffix);
            remove_if_exists(&nth(p.max_files))?;
            for n in (1..p.max_files).rev() {
                let from = nth(n);
                if from.exists() {
                    fs::rename(&from, nth(n + 1))?;
                }
            }
            if p.compress {
                gzip_to(&p.path, &nth(1))?;
                fs::remove_file(&p.path)?;
            } else {
                fs::rename(&p.path, nth(1))?;
            }
        }
        let (file, size) = open_live(&self.policy.path)?;
        self.file = Some(BufWriter::with_capacity(64 * 1024, file));
        self.size = size;
        Ok(())
    }
}

impl Output for RotatingFile {
    fn write_record(&mut self, record: &[u8]) {
        self.write(record);
    }
    fn reopen(&mut self) {
        RotatingFile::reopen(self);
    }
    fn flush(&mut self) {
        RotatingFile::flush(self);
    }
}

/// A `RotatingFile` behind a mutex, for a service's `logs.file`: written
/// line by line from the pipe-reader thread (which flushes after every pipe
/// read), reopened from the manager.
pub struct SharedRotatingFile(Mutex<RotatingFile>);

impl SharedRotatingFile {
    pub fn new(file: RotatingFile) -> SharedRotatingFile {
        SharedRotatingFile(Mutex::new(file))
    }
}

impl LineFile for SharedRotatingFile {
    fn append(&self, records: &[u8]) -> u64 {
        let lines = || records.split_inclusive(|&b| b == b'\n');
        match self.0.lock() {
            Ok(mut f) => {
                let failed = lines().filter(|r| !f.write(r)).count() as u64;
                failed + f.take_lost()
            }
            Err(_) => lines().count() as u64,
        }
    }

    fn flush(&self) -> u64 {
        match self.0.lock() {
            Ok(mut f) => {
                f.flush();
                f.take_lost()
            }
            Err(_) => 0,
        }
    }

    fn reopen(&self) {
        if let Ok(mut f) = self.0.lock() {
            f.reopen();
        }
    }
}

/// `web.log` + 3 + `.gz` = `web.log.3.gz`.
pub fn numbered(path: &Path, n: u32, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}{suffix}"));
    PathBuf::from(s)
}

fn open_live(path: &Path) -> io::Result<(File, u64)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The umask may have taken bits away; the mode is part of the contract.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a gzip copy of `from` to `to` (through a temporary name, so a
/// half-written `.gz` never carries the final name).
fn gzip_to(from: &Path, to: &Path) -> io::Result<()> {
    let tmp = numbered(to, 0, ".tmp");
    let result = (|| {
        let mut input = File::open(from)?;
        let out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        out.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        let mut gz = GzEncoder::new(BufWriter::new(out), Compression::fast());
        io::copy(&mut input, &mut gz)?;
        gz.finish()?.flush()?;
        fs::rename(&tmp, to)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
