//! Helpers shared by the integration tests: temp dirs, a guard that runs the
//! real `oneinit` binary (optionally as PID 1 in a new PID namespace) and
//! kills it and every process it started on drop, bounded waits, the JSON log
//! lines it printed, and one-shot runs such as `oneinit check` (`run_oneinit`).
#![allow(dead_code)]

pub mod http;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod api;
pub mod fake;
pub mod openapi_schema;

pub const BIN: &str = env!("CARGO_BIN_EXE_oneinit");

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A unique tag put in oneinit's environment (inherited by its services),
/// so teardown can find every process a test started.
fn unique_tag() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub tag: String,
    pub out: PathBuf,
    pub err: PathBuf,
    pub pid1: bool,
    exit: Option<i32>,
}

#[derive(Default)]
pub struct Opts<'a> {
    pub args: Vec<String>,
    pub pid1: bool,
    pub env: Vec<(&'a str, String)>,
    /// Run oneinit as this user (via setpriv).
    pub user: Option<&'a str>,
    /// Run oneinit through this command prefix (e.g. `setpriv --bounding-set=-setuid`);
    /// ignored with `pid1` or `user`.
    pub wrapper: Vec<&'a str>,
}

impl Daemon {
    /// Writes `config` to `oneinit.yaml` in a new temp dir and starts oneinit on it.
    /// `{dir}` in the config is replaced by the temp dir's path.
    pub fn start(config: &str) -> Daemon {
        Daemon::start_with(config, Opts::default())
    }

    pub fn start_with(config: &str, opts: Opts) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("oneinit-test")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().join("oneinit.yaml");
        fs::write(
            &path,
            config.replace("{dir}", &dir.path().to_string_lossy()),
        )
        .expect("write config");
        let mut args = vec!["--config".to_string(), path.to_string_lossy().into_owned()];
        args.extend(opts.args.iter().cloned());
        Daemon::spawn(dir, args, opts)
    }

    /// Starts oneinit with exactly these arguments (no config written).
    pub fn start_args(args: &[&str], opts: Opts) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("oneinit-test")
            .tempdir()
            .expect("tempdir");
        Daemon::spawn(dir, args.iter().map(|s| s.to_string()).collect(), opts)
    }

    fn spawn(dir: tempfile::TempDir, args: Vec<String>, opts: Opts) -> Daemon {
        let tag = unique_tag();
        let out = dir.path().join("stdout.log");
        let err = dir.path().join("stderr.log");
        let run = dir.path().join("run");
        let ids = opts.user.map(|u| {
            let pw = nix::unistd::User::from_name(u)
                .ok()
                .flatten()
                .expect("test user exists");
            (pw.uid.as_raw(), pw.gid.as_raw())
        });
        let mut cmd = if opts.pid1 {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]);
            if let Some((uid, gid)) = ids {
                c.args([
                    "setpriv",
                    &format!("--reuid={uid}"),
                    &format!("--regid={gid}"),
                    "--clear-groups",
                ]);
            }
            c.arg(BIN);
            c
        } else if let Some((uid, gid)) = ids {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                "--clear-groups",
                BIN,
            ]);
            c
        } else if let Some((prog, rest)) = opts.wrapper.split_first() {
            let mut c = Command::new(prog);
            c.args(rest).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        cmd.args(&args)
            .env("ONEINIT_TEST_TAG", &tag)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("stdout file"))
            .stderr(fs::File::create(&err).expect("stderr file"));
        if opts.user.is_none() {
            cmd.env("ONEINIT_RUNTIME_DIR", &run);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start oneinit");
        Daemon {
            dir,
            child: Some(child),
            tag,
            out,
            err,
            pid1: opts.pid1,
            exit: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The pid of oneinit itself (inside unshare when running as PID 1).
    pub fn oneinit_pid(&self) -> Option<i32> {
        let child = self.child.as_ref()?;
        let outer = child.id() as i32;
        if !self.pid1 {
            return Some(outer);
        }
        let mut found = None;
        wait_until(secs(5), || {
            found = children_of(outer).into_iter().next();
            found.is_some()
        });
        found
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.oneinit_pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }

    /// Waits for oneinit to exit; its exit code (128+N when killed by N).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        if self.exit.is_some() {
            return self.exit;
        }
        let child = self.child.as_mut()?;
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                use std::os::unix::process::ExitStatusExt;
                self.exit = status.code().or(status.signal().map(|s| 128 + s));
                return self.exit;
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// oneinit's JSON log records so far.
    pub fn records(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Records with `event` == `event` (and `service` == `service` if given).
    pub fn events(&self, event: &str, service: Option<&str>) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["event"] == event && service.is_none_or(|s| r["service"] == s))
            .collect()
    }

    /// Waits until a record with this event (and service) appears.
    pub fn wait_event(&self, event: &str, service: Option<&str>, timeout: Duration) -> bool {
        wait_until(timeout, || !self.events(event, service).is_empty())
    }

    /// `wait_event`, failing the test (with oneinit's output) on timeout.
    pub fn expect_event(&self, event: &str, service: Option<&str>, timeout: Duration) {
        assert!(
            self.wait_event(event, service, timeout),
            "no {event} record for {service:?} within {timeout:?}; oneinit's output:\n{}",
            self.stdout()
        );
    }

    /// Pids of every live process carrying this test's tag.
    pub fn tagged_pids(&self) -> Vec<i32> {
        tagged(&self.tag)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            } else {
                let _ = child.wait();
            }
        }
        for pid in tagged(&self.tag) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Direct children of `pid` (from /proc/PID/task/*/children).
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

fn tagged(tag: &str) -> Vec<i32> {
    let needle = format!("ONEINIT_TEST_TAG={tag}\0");
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(env) = fs::read(e.path().join("environ")) {
                if env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

/// The state letter of a process (`R`, `S`, `Z`, ...), None when gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// Lines of a file the services append to (empty when missing).
pub fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A 127.0.0.1 port that refuses connections while the returned socket
/// lives: bound to port 0 and never listening, so no other test can take it
/// (unlike a port bound and released).
pub fn refused_port() -> (std::os::fd::OwnedFd, u16) {
    use nix::sys::socket::{
        bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).expect("bind 127.0.0.1:0");
    let addr: SockaddrIn = getsockname(fd.as_raw_fd()).expect("getsockname");
    (fd, addr.port())
}

/// A free TCP port on 127.0.0.1 (bound, then released): racy, another test
/// may take it in between. Kept so that tests written before port 0 still
/// build; give oneinit `127.0.0.1:0` and read the `api listening` record
/// (`api::ApiDaemon` does), or let a fake peer bind port 0 itself.
#[deprecated(note = "racy: bind port 0 and read the bound address instead")]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A plain HTTP/1.1 GET (`Connection: close`); (status, body), None on any
/// error or when `timeout` passes.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let sock: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&sock, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Daemon {
    /// The `host:port` of oneinit's TCP API (`--api-listen 127.0.0.1:0`),
    /// from its `api listening` record; fails the test after 15 s.
    pub fn api_addr(&self) -> String {
        let mut found = None;
        wait_until(secs(15), || {
            found = self.records().into_iter().find_map(|r| {
                (r["msg"] == "api listening")
                    .then(|| {
                        r["listen"]
                            .as_str()?
                            .strip_prefix("http://")
                            .map(str::to_string)
                    })
                    .flatten()
            });
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no `api listening` record: {}", self.stdout()))
    }

    /// The address the metrics listener bound (from its "serving metrics" record).
    pub fn metrics_addr(&self, timeout: Duration) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .records()
                .into_iter()
                .find(|r| r["msg"] == "serving metrics")
                .and_then(|r| r["listen"].as_str().map(str::to_string));
            found.is_some()
        });
        found
    }

    /// One scrape of the metrics listener (body of a 200 answer).
    pub fn scrape(&self, addr: &str) -> Option<String> {
        match http_get(addr, "/metrics", secs(5)) {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }
}

// ------------------------------------------------------------ HTTP stub server

/// What an `HttpStub` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubMode {
    /// 200 "ok"
    Up,
    /// 500 "down"
    Down,
    /// Waits 5 s before answering 200 (longer than any check timeout).
    Slow,
}

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct StubRequest {
    pub at: std::time::SystemTime,
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StubRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct StubShared {
    mode: std::sync::Mutex<StubMode>,
    /// Statuses to answer first, one per request, before `mode` applies.
    script: std::sync::Mutex<std::collections::VecDeque<u16>>,
    requests: std::sync::Mutex<Vec<StubRequest>>,
    stop: std::sync::atomic::AtomicBool,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) that the test
/// switches between up, down and slow, recording every request. Health
/// checks probe it; notifiers post to it. Stopped on drop.
pub struct HttpStub {
    pub addr: std::net::SocketAddr,
    shared: std::sync::Arc<StubShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpStub {
    pub fn start(mode: StubMode) -> HttpStub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind stub");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("stub addr");
        let shared = std::sync::Arc::new(StubShared {
            mode: std::sync::Mutex::new(mode),
            script: Default::default(),
            requests: Default::default(),
            stop: Default::default(),
        });
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || serve(conn, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpStub {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, mode: StubMode) {
        if let Ok(mut m) = self.shared.mode.lock() {
            *m = mode;
        }
    }

    /// Answer these statuses to the next requests, then follow the mode.
    pub fn script(&self, statuses: &[u16]) {
        if let Ok(mut s) = self.shared.script.lock() {
            s.extend(statuses.iter().copied());
        }
    }

    pub fn requests(&self) -> Vec<StubRequest> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn hits(&self) -> usize {
        self.shared.requests.lock().map(|r| r.len()).unwrap_or(0)
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The value of the sample `series` (name with its labels, as exposed:
/// labels sorted by name) in a Prometheus text exposition.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn serve(mut conn: std::net::TcpStream, s: &StubShared) {
    use std::io::{Read, Write};
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    if let Ok(mut r) = s.requests.lock() {
        r.push(StubRequest {
            at: std::time::SystemTime::now(),
            method,
            path,
            headers,
            body,
        });
    }
    let scripted = s.script.lock().ok().and_then(|mut q| q.pop_front());
    let mode = s.mode.lock().map(|m| *m).unwrap_or(StubMode::Up);
    let status = match (scripted, mode) {
        (Some(code), _) => code,
        (None, StubMode::Down) => 500,
        (None, StubMode::Slow) => {
            std::thread::sleep(Duration::from_secs(5));
            200
        }
        (None, StubMode::Up) => 200,
    };
    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = conn.write_all(reply.as_bytes());
}

/// A 127.0.0.1 port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The `ts` of a JSON log record as a time.
pub fn record_time(r: &Value) -> Option<std::time::SystemTime> {
    let ts = r["ts"].as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    let ms = u64::try_from(t.timestamp_millis()).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_millis(ms))
}

// ------------------------------------------- one-shot runs (`oneinit check`)

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
        write_file(self.dir.path(), rel, text)
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

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// What a finished run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `oneinit ARGS` to completion, bounded by `timeout` (see
/// `run_bounded`), with `envs` added and no ONEINIT_CONFIG inherited.
pub fn run_oneinit(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("ONEINIT_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_bounded(&mut cmd, timeout)
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
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) => Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("waiting for {cmd:?} failed: {e}"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// `oneinit check --config PATH`: (exit code, stderr).
pub fn check_config(path: &Path) -> (Option<i32>, String) {
    let path = path.to_string_lossy().to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], secs(30));
    (out.code, out.stderr)
}

/// A config another user (nobody) can read: `oneinit.yaml` holding `yaml`,
/// read-only (0444), in a fresh temp dir opened to everyone (0755; temp
/// dirs are 0700). Returns the dir (removed when dropped) and the file.
pub fn config_for_nobody(prefix: &str, yaml: &str) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let conf = write_file(dir.path(), "oneinit.yaml", yaml);
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o444)).expect("chmod config");
    (dir, conf)
}

/// Writes `text` to `dir/name` (creating folders) and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create test folder");
    }
    fs::write(&path, text).expect("write test file");
    path
}
