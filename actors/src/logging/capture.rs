//! Reading a child's stdout/stderr pipe line by line, without ever letting
//! the child block on a full pipe for long: the reader runs on the log
//! thread and hands lines to `ServiceLogs` (which drops and counts when the
//! output is backed up). Lines over 64 KiB are split; invalid UTF-8 is
//! replaced. An optional regex reports readiness (`readiness.log_line`).

use super::service_logs::ServiceLogs;
use crate::model::view::Stream;
use regex::Regex;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Longest line kept whole; longer ones are split into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// Called once when a line matches the readiness regex.
pub type OnMatch = Box<dyn FnOnce() + Send>;

/// Everything a reader needs; moved onto the log thread.
pub struct Reader {
    pub fd: OwnedFd,
    pub logs: Arc<ServiceLogs>,
    pub instance: u64,
    pub pid: i32,
    pub stream: Stream,
    pub ready_when: Option<(Regex, OnMatch)>,
}

/// Counts a reader as open from spawn to EOF (or until its task is dropped).
struct OpenReader(Arc<ServiceLogs>);

impl Drop for OpenReader {
    fn drop(&mut self) {
        self.0.reader_closed();
    }
}

impl Reader {
    /// Starts reading on `arbiter` (the log thread). The reader counts as
    /// open from now on, so a shutdown that follows at once still waits for
    /// the lines already in the pipe.
    pub fn spawn_on(self, arbiter: &actix::ArbiterHandle) {
        self.logs.reader_opened();
        let open = OpenReader(self.logs.clone());
        arbiter.spawn(async move {
            self.run().await;
            drop(open);
        });
    }

    /// Reads until EOF (all writers closed). Run it on the log arbiter.
    pub async fn run(self) {
        let Reader {
            fd,
            logs,
            instance,
            pid,
            stream,
            mut ready_when,
        } = self;
        let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            Ok(p) => p,
            Err(_) => return,
        };
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut chunk = vec![0u8; 32 * 1024];
        loop {
            let n = match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + pos;
                emit(
                    &logs,
                    instance,
                    pid,
                    stream,
                    &buf[start..end],
                    &mut ready_when,
                );
                start = end + 1;
            }
            buf.drain(..start);
            while buf.len() >= MAX_LINE {
                let rest = buf.split_off(MAX_LINE);
                emit(&logs, instance, pid, stream, &buf, &mut ready_when);
                buf = rest;
            }
            logs.flush_file();
        }
        if !buf.is_empty() {
            emit(&logs, instance, pid, stream, &buf, &mut ready_when);
        }
        logs.flush_file();
    }
}

fn emit(
    logs: &ServiceLogs,
    instance: u64,
    pid: i32,
    stream: Stream,
    raw: &[u8],
    ready_when: &mut Option<(Regex, OnMatch)>,
) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let line = String::from_utf8_lossy(raw).into_owned();
    if ready_when
        .as_ref()
        .is_some_and(|(re, _)| re.is_match(&line))
    {
        if let Some((_, on_match)) = ready_when.take() {
            on_match();
        }
    }
    logs.push(instance, pid, stream, line);
}
