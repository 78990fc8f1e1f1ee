//! On-demand and per-demand services, socket activation and schedules
//! against the real binary (SPEC 2.3 `socket`/`schedule`/`max_instances`,
//! SPEC 3): real sockets on 127.0.0.1 and in temp dirs, real processes.

use crate::util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::*;

/// A socket-activated echo server the way systemd-aware programs are
/// written: it takes fd 3 (LISTEN_FDS), answers with its pid and the
/// LISTEN_* variables, and exits after 300 ms without a connection.
const ECHO_PY: &str = r#"
import os, socket, sys
fds = int(os.environ.get("LISTEN_FDS", "0"))
assert fds >= 1, "no LISTEN_FDS"
kind = socket.AF_UNIX if sys.argv[1] == "unix" else socket.AF_INET
s = socket.socket(kind, socket.SOCK_STREAM, fileno=3)
s.settimeout(0.3)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    with c:
        data = c.recv(100)
        c.sendall(b"%s pid=%d listen_pid=%s fds=%d names=%s\n" % (
            data.strip(), os.getpid(), os.environ["LISTEN_PID"].encode(), fds,
            os.environ["LISTEN_FDNAMES"].encode()))
"#;

fn write_echo(d: &Daemon) -> String {
    let path = d.path("echo.py");
    std::fs::write(&path, ECHO_PY).expect("write echo.py");
    path.to_string_lossy().into_owned()
}

/// A TCP port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

fn ask(mut s: impl Read + Write, msg: &str) -> String {
    s.write_all(msg.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = BufReader::new(s).read_line(&mut out);
    out
}

fn ask_tcp(port: u16, msg: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(secs(10))).expect("timeout");
    ask(s, msg)
}

/// `key=value` from an echo reply.
fn field(reply: &str, key: &str) -> String {
    reply
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

/// Waits until `n` records with this event exist for the service.
fn wait_events(d: &Daemon, event: &str, service: &str, n: usize, timeout: Duration) -> bool {
    wait_until(timeout, || d.events(event, Some(service)).len() >= n)
}

#[test]
fn first_tcp_connection_starts_an_on_demand_service_and_it_listens_again() {
    let port = free_port();
    let d = Daemon::start(&format!(
        r#"
services:
  echo:
    type: on-demand
    command: ["python3", "{{dir}}/echo.py", "tcp"]
    socket:
      listen: ["tcp://127.0.0.1:{port}"]
"#
    ));
    write_echo(&d);
    assert!(
        wait_until(secs(10), || d.stdout().contains("listening for activation")),
        "{}{}",
        d.stdout(),
        d.stderr()
    );
    // Part of the test: nothing may start without a connection; 300 ms
    // gives a wrongly started service time to show.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        d.events("spawned", Some("echo")).is_empty(),
        "started at boot: {}",
        d.stdout()
    );

    let first = ask_tcp(port, "one");
    assert!(first.starts_with("one "), "reply {first:?}: {}", d.stdout());
    let pid = field(&first, "pid");
    assert_eq!(
        field(&first, "listen_pid"),
        pid,
        "LISTEN_PID is the child's own pid"
    );
    assert_eq!(field(&first, "fds"), "1");
    assert_eq!(field(&first, "names"), "echo");

    // It exits after 300 ms idle and returns to listening.
    assert!(
        wait_events(&d, "exited", "echo", 1, secs(10)),
        "{}",
        d.stdout()
    );
    let second = ask_tcp(port, "two");
    assert!(
        second.starts_with("two "),
        "reply {second:?}: {}",
        d.stdout()
    );
    assert_ne!(field(&second, "pid"), pid, "a new process answered");
    assert_eq!(field(&second, "listen_pid"), field(&second, "pid"));
    assert_eq!(d.events("spawned", Some("echo")).len(), 2);
}

#[test]
fn unix_socket_activation_with_mode() {
    let d = Daemon::start(
        r#"
services:
  echo:
    type: on-demand
    command: ["python3", "{dir}/echo.py", "unix"]
    socket:
      listen: ["unix://{dir}/sock/echo.sock"]
      mode: "0600"
"#,
    );
    write_echo(&d);
    let path = d.path("sock/echo.sock");
    assert!(
        wait_until(secs(10), || path.exists()),
        "{}{}",
        d.stdout(),
        d.stderr()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("socket file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let s = UnixStream::connect(&path).expect("connect");
    s.set_read_timeout(Some(secs(10))).expect("timeout");
    let reply = ask(s, "hi");
    assert!(reply.starts_with("hi "), "reply {reply:?}: {}", d.stdout());
    assert_eq!(field(&reply, "listen_pid"), field(&reply, "pid"));
}

#[test]
fn bind_error_exits_2_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut d = Daemon::start(&format!(
        r#"
services:
  first:
    command: ["sh", "-c", "touch {{dir}}/ran; sleep 30"]
  echo:
    type: on-demand
    command: ["true"]
    socket:
      listen: ["tcp://127.0.0.1:{port}"]
"#
    ));
    assert_eq!(d.wait_exit(secs(10)), Some(2), "{}", d.stdout());
    assert!(d.stderr().contains("cannot bind"), "{}", d.stderr());
    assert!(d.stderr().contains("service echo"), "{}", d.stderr());
    assert!(
        !d.path("ran").exists(),
        "a service ran before the sockets were bound"
    );
}

#[test]
fn requires_pulls_an_on_demand_dependency_up() {
    let d = Daemon::start(
        r#"
services:
  db:
    type: on-demand
    command: ["sh", "-c", "echo up >> {dir}/db.up; exec sleep 30"]
  web:
    requires: [db]
    command: ["sh", "-c", "echo up >> {dir}/web.up; exec sleep 30"]
"#,
    );
    assert!(
        wait_until(secs(10), || d.path("web.up").exists()),
        "{}",
        d.stdout()
    );
    assert_eq!(
        lines(&d.path("db.up")),
        vec!["up"],
        "db started once, before web"
    );
}

#[test]
fn accept_mode_serves_50_concurrent_connections_with_at_most_4_instances() {
    let port = free_port();
    let d = Daemon::start(&format!(
        r#"
services:
  greet:
    type: per-demand
    max_instances: 4
    command: ["sh", "-c", "read line; sleep 0.05; echo \"hello $line from $ONEINIT_INSTANCE\""]
    socket:
      listen: ["tcp://127.0.0.1:{port}"]
      accept: true
"#
    ));
    assert!(
        wait_until(secs(10), || d.stdout().contains("listening for activation")),
        "{}{}",
        d.stdout(),
        d.stderr()
    );
    let oneinit = d.oneinit_pid().expect("oneinit pid");
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, most) = (done.clone(), most.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let alive = children_of(oneinit)
                    .into_iter()
                    .filter(|p| proc_state(*p).is_some_and(|s| s != 'Z'))
                    .count();
                most.fetch_max(alive, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let clients: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                s.set_read_timeout(Some(secs(30))).expect("timeout");
                (i, ask(s, &format!("c{i}\n")))
            })
        })
        .collect();
    let mut instances = std::collections::BTreeSet::new();
    for c in clients {
        let (i, reply) = c.join().expect("client thread");
        assert!(
            reply.starts_with(&format!("hello c{i} from ")),
            "client {i}: {reply:?}"
        );
        instances.insert(
            reply
                .trim()
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    assert_eq!(
        instances.len(),
        50,
        "one instance per connection, ids never reused"
    );
    let most = most.load(Ordering::Relaxed);
    assert!((1..=4).contains(&most), "{most} instances alive at once");
    assert!(
        wait_events(&d, "exited", "greet", 50, secs(10)),
        "{}",
        d.stdout()
    );
}

#[test]
fn interval_schedule_runs_about_once_a_second() {
    let d = Daemon::start(
        r#"
services:
  tick:
    type: oneshot
    command: ["sh", "-c", "date +%s.%N >> {dir}/ticks"]
    schedule: {interval: 1s}
"#,
    );
    let start = Instant::now();
    assert!(
        wait_until(secs(10), || d.stdout().contains("oneinit started")),
        "{}{}",
        d.stdout(),
        d.stderr()
    );
    // Part of the test: the interval is measured over ~5 s of wall time.
    std::thread::sleep(Duration::from_millis(5300).saturating_sub(start.elapsed()));
    let n = lines(&d.path("ticks")).len();
    assert!((4..=6).contains(&n), "{n} runs in ~5 s: {}", d.stdout());
}

#[test]
fn overlap_skip_never_runs_two_at_once() {
    let d = Daemon::start(
        r#"
services:
  slow:
    type: per-demand
    max_instances: 8
    command: ["sh", "-c", "mkdir {dir}/lock || echo overlap >> {dir}/bad; echo run >> {dir}/runs; sleep 0.7; rmdir {dir}/lock"]
    schedule: {interval: 200ms, overlap: skip, run_on_start: true}
"#,
    );
    assert!(
        wait_until(secs(10), || lines(&d.path("runs")).len() >= 3),
        "{}",
        d.stdout()
    );
    assert!(
        !d.path("bad").exists(),
        "two runs overlapped: {}",
        d.stdout()
    );
    assert!(
        d.stdout().contains("scheduled run skipped"),
        "{}",
        d.stdout()
    );
}

#[test]
fn scheduled_oneshot_does_not_run_at_boot_without_run_on_start() {
    let d = Daemon::start(
        r#"
services:
  nightly:
    type: oneshot
    command: ["sh", "-c", "touch {dir}/ran"]
    schedule: {cron: "0 3 * * *", timezone: "Europe/Berlin"}
"#,
    );
    assert!(
        wait_until(secs(10), || d.stdout().contains("oneinit started")),
        "{}{}",
        d.stdout(),
        d.stderr()
    );
    // Part of the test: a cron schedule must not fire at start-up.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!d.path("ran").exists());
}

#[test]
fn a_bad_listen_address_is_a_config_error() {
    let mut d = Daemon::start(
        r#"
services:
  web:
    type: on-demand
    command: ["true"]
    socket: {listen: ["127.0.0.1:80"]}
"#,
    );
    assert_eq!(d.wait_exit(secs(10)), Some(2), "{}", d.stdout());
    let err = d.stderr();
    assert!(
        err.contains("service web: socket.listen \"127.0.0.1:80\""),
        "{err}"
    );
    assert!(err.contains("tcp://HOST:PORT"), "{err}");
    assert!(d.events("spawned", None).is_empty());
}
