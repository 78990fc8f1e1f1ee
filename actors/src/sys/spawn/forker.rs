//! Cloning from a thread with a private fd table. A child starts with a
//! copy of its parent thread's fd table and closes what it does not keep
//! before `exec`, one file at a time; oneinit's table holds two pipe ends
//! per service, so at 1,000 services every spawn copied and closed about
//! 2,000 files. In a startup profile at N = 1,000 that was 40% of the
//! launcher threads' time (`filp_flush`, `dnotify_flush`, `close_range`,
//! `dup_fd`), and it grows with every service.
//!
//! A `Forker` is a thread whose table holds only fds 0-2 and a socket
//! (`fd_table::make_private`). The spawning thread prepares everything as
//! before, passes the child's fds (stdio, status pipe, sockets) over the
//! socket, and the forker runs the clone: the child copies a few fds. The
//! forker does nothing else (no wakeups of other threads, no fds of the
//! process's table), and the spawning thread waits for its answer, so
//! the plan it lends stays alive.

use super::child::{self, ChildPlan};
use crate::sys::fd_table;
use std::cell::RefCell;
use std::io;
#[cfg(test)]
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Duration;

/// Most fds a child gets: its status pipe, stdio and listening sockets.
const CHILD_FDS: usize = 4 + child::MAX_LISTEN_FDS;

pub struct Forker {
    /// Our end of the socket, in the process's table.
    sock: OwnedFd,
    /// One request at a time (the forker belongs to one thread).
    requests: SyncSender<LentPlan>,
    replies: Receiver<Reply>,
}

/// A clone's result; `None`: the fds did not arrive, nothing was cloned.
type Reply = Option<io::Result<libc::pid_t>>;

/// A plan lent to the forker thread for one clone.
struct LentPlan(*const ChildPlan);

// SAFETY: the plan's pointers are only read by the forker while the
// lending thread waits for the reply (`Forker::clone_vfork`), so the plan
// and the buffers it points to outlive every use; nothing is written.
unsafe impl Send for LentPlan {}

thread_local! {
    /// The forker of this thread (`use_on_this_thread`), if any.
    static MINE: RefCell<Option<Forker>> = const { RefCell::new(None) };
}

/// From now on the spawns of the calling thread clone through a forker of
/// its own. An error (a kernel before 5.9, no thread) leaves them cloning
/// here, as before.
pub fn use_on_this_thread() -> io::Result<()> {
    let forker = Forker::start()?;
    MINE.with_borrow_mut(|m| *m = Some(forker));
    Ok(())
}

/// `child::clone_vfork`, through this thread's forker when it has one.
/// The forker is only a shortcut: when it cannot be used (its thread is
/// gone, or passing the fds failed: qemu-user's recvmsg, for one, fails
/// now and then with EINVAL), it is let go and this thread clones itself,
/// this time and from then on.
pub(super) fn clone_vfork(plan: &ChildPlan) -> io::Result<libc::pid_t> {
    let through_forker = MINE.with_borrow(|m| m.as_ref().map(|f| f.clone_vfork(plan)));
    match through_forker {
        Some(Ok(done)) => done,
        Some(Err(Unusable)) => {
            MINE.with_borrow_mut(|m| *m = None);
            child::clone_vfork(plan)
        }
        None => child::clone_vfork(plan),
    }
}

/// The forker cannot clone for us; nothing was cloned.
struct Unusable;

impl Forker {
    fn start() -> io::Result<Forker> {
        let (here, there) = fd_table::pair()?;
        let (requests, rx) = sync_channel::<LentPlan>(0);
        let (reply_tx, replies) = sync_channel::<Reply>(1);
        let (ready_tx, ready_rx) = sync_channel::<bool>(1);
        let there_raw = there.as_raw_fd();
        std::thread::Builder::new()
            .name("oneinit-fork".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let private = fd_table::make_private(there_raw).is_ok();
                let _ = ready_tx.send(private);
                if private {
                    serve(&there, &rx, &reply_tx);
                }
            })?;
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(true) => {
                // `there` lives on in the forker's table; the process's
                // copy of that fd number goes.
                let _ = nix::unistd::close(there_raw);
                Ok(Forker {
                    sock: here,
                    requests,
                    replies,
                })
            }
            _ => Err(io::Error::other("no private fd table for the forker")),
        }
    }

    /// The clone's result, or `Unusable` when the fds could not be passed
    /// or no forker thread answers.
    fn clone_vfork(&self, plan: &ChildPlan) -> Result<io::Result<libc::pid_t>, Unusable> {
        let fds = plan.fds();
        fd_table::send(&self.sock, &[fds.len() as u8], &fds).map_err(|_| Unusable)?;
        self.requests.send(LentPlan(plan)).map_err(|_| Unusable)?;
        self.replies.recv().ok().flatten().ok_or(Unusable)
    }
}

/// The forker thread: one clone per request, with the request's fds (sent
/// just before it) now in this thread's table.
fn serve(sock: &OwnedFd, requests: &Receiver<LentPlan>, replies: &SyncSender<Reply>) {
    while let Ok(plan) = requests.recv() {
        let result = clone_with_sent_fds(sock, &plan);
        let failed = result.is_none();
        let _ = replies.send(result);
        if failed {
            // The socket may hold a message out of step: stop here; the
            // spawning thread clones itself from now on.
            return;
        }
    }
}

/// The clone, or `None` when the request's fds did not arrive whole.
fn clone_with_sent_fds(sock: &OwnedFd, plan: &LentPlan) -> Reply {
    let mut count = [0u8; 1];
    // Sent before the request: it is queued already.
    let (n, fds) = fd_table::recv::<CHILD_FDS>(sock, &mut count).ok()??;
    if n != 1 || fds.len() != usize::from(count[0]) {
        return None;
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: the lender waits for our reply (`Forker::clone_vfork`), so
    // the plan is alive and unchanged while we read it.
    let plan = unsafe { &*plan.0 };
    // The child's fds, renumbered for this table; the copies here close
    // when `fds` drops, after the child has exec'd.
    let mine = plan.with_fds(&raw);
    Some(child::clone_vfork(&mine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::spawn::tests::{run, sh};
    use crate::sys::spawn::{spawn, SpawnSpec};

    /// This process's forker threads: (fds in their table, blocked signals).
    fn forkers() -> Vec<(usize, u64)> {
        let tasks = std::fs::read_dir("/proc/self/task").expect("tasks");
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "oneinit-fork")
            })
            .filter_map(|t| {
                let fds = std::fs::read_dir(t.path().join("fd")).ok()?.count();
                let status = std::fs::read_to_string(t.path().join("status")).ok()?;
                let blocked = status.lines().find_map(|l| l.strip_prefix("SigBlk:"))?;
                Some((fds, u64::from_str_radix(blocked.trim(), 16).ok()?))
            })
            .collect()
    }

    #[test]
    fn spawns_through_a_forker_get_their_fds_from_a_table_without_the_processs() {
        // Fds of the process the forker must not copy into each child.
        let held: Vec<OwnedFd> = (0..200)
            .map(|_| std::fs::File::open("/dev/null").expect("open").into())
            .collect();
        let (listen_r, listen_w) = nix::unistd::pipe().expect("pipe");
        let listen_raw = listen_r.as_raw_fd();
        let t = std::thread::spawn(move || {
            use_on_this_thread().expect("forker");
            let sizes = forkers();
            // stdout and the exit status come through the forker.
            let (_, out, code) = run(&sh("echo out; echo err >&2; exit 3"));
            // stdin from a pipe, stderr captured on its own.
            let mut spec = sh("read line; echo \"got $line\" >&2");
            spec.stdin_pipe = true;
            let child = spawn(&spec).expect("spawn");
            std::fs::File::from(child.stdin.expect("stdin"))
                .write_all(b"hello\n")
                .expect("write");
            let mut err = String::new();
            std::fs::File::from(child.stderr.expect("stderr"))
                .read_to_string(&mut err)
                .expect("read");
            nix::sys::wait::waitpid(child.pid, None).expect("wait");
            // A listening socket (here a pipe) arrives as fd 3, and the
            // child has nothing else open.
            let mut spec = sh("echo $LISTEN_FDS; ls /proc/self/fd | wc -l; cat <&3");
            spec.listen_fds = vec![listen_raw];
            spec.listen_names = vec!["x".into()];
            let (_, listen_out, _) = run(&spec);
            // A program that does not exist: the status pipe reports it.
            let missing = spawn(&SpawnSpec {
                argv: vec!["/nonexistent/program".into()],
                ..SpawnSpec::default()
            })
            .expect_err("no such program");
            (sizes, out, code, err, listen_out, missing.exit_code)
        });
        std::fs::File::from(listen_w)
            .write_all(b"through the socket\n")
            .expect("write");
        let (sizes, out, code, err, listen_out, missing) = t.join().expect("thread");
        assert!(!sizes.is_empty(), "no forker thread was found");
        assert!(
            sizes.iter().all(|&(n, _)| n <= 5),
            "forker tables: {sizes:?}"
        );
        // No signal handler of the process may run there (its fds are not
        // the process's): SIGCHLD and SIGTERM at least are blocked.
        let must = (1u64 << (libc::SIGCHLD - 1)) | (1u64 << (libc::SIGTERM - 1));
        assert!(
            sizes.iter().all(|&(_, b)| b & must == must),
            "forker masks: {sizes:?}"
        );
        assert_eq!((out.as_str(), code), ("out\n", 3));
        assert_eq!(err, "got hello\n");
        // LISTEN_FDS=1; fds 0-3 and `ls`'s own; then fd 3's content.
        assert_eq!(listen_out, "1\n5\nthrough the socket\n");
        assert_eq!(missing, 127);
        drop(held);
    }

    #[test]
    fn a_forker_that_cannot_take_the_fds_is_let_go_and_the_spawn_still_happens() {
        let (got, forker_left) = std::thread::spawn(|| {
            use_on_this_thread().expect("forker");
            // Break the way to the forker, as a failing sendmsg would.
            MINE.with_borrow(|m| {
                let f = m.as_ref().expect("a forker");
                nix::sys::socket::shutdown(f.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both)
                    .expect("shutdown");
            });
            let (_, out, code) = run(&sh("echo still started; exit 4"));
            ((out, code), MINE.with_borrow(|m| m.is_some()))
        })
        .join()
        .expect("thread");
        assert_eq!(got, ("still started\n".to_string(), 4));
        assert!(!forker_left, "the broken forker is let go");
    }
}
