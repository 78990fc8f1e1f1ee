//! Readiness of child pipes for the log thread: one epoll set per thread,
//! registered once with tokio's reactor, and one small slot per pipe.
//!
//! Why not tokio's `pipe::Receiver`: each one is a reactor registration of
//! its own, a 128-byte aligned allocation of ~260 bytes, two per process;
//! at 1,000 services that was ~0.6 MiB (heaptrack). Here a pipe costs a
//! slot in a Vec (a flag and what to call when it gets ready). Reads are
//! plain `read(2)` calls, so
//! a pipe counts as empty only when the kernel says so (tokio answers
//! WouldBlock from the readiness its reactor last saw, which can predate
//! what a child wrote just before it exited).
//!
//! Edge-triggered: a slot is marked ready by an event and stays ready until
//! a read meets EAGAIN (`ReadEnd::read`), so the reader must read until then
//! before it waits (`capture.rs` does). A waiting reader is not a task: it
//! leaves a call (`ReadEnd::on_ready`: a function and a number) that the
//! driver makes at the next event. Everything runs on the log thread: the
//! driver task and the readers never run at the same time.

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use tokio::io::unix::AsyncFd;

/// Events taken from the epoll set per `epoll_wait`.
const EVENTS: usize = 64;

/// What the driver calls when a pipe gets ready: `f(arg)`.
pub(crate) type OnReady = (fn(usize), usize);

#[derive(Default)]
struct Slot {
    ready: bool,
    on_ready: Option<OnReady>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// The driver ended (the runtime shuts down): every wait fails.
    closed: bool,
}

/// The log thread's epoll set and the state of each pipe in it.
struct Reactor {
    epoll: Epoll,
    /// The epoll set's readiness, from tokio's reactor (a duplicate fd of
    /// the same set).
    ready: AsyncFd<OwnedFd>,
    slots: RefCell<Slots>,
}

thread_local! {
    static REACTOR: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
    /// What one read takes in, before it is appended to the pipe's buffer.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Reactor {
    /// This thread's reactor; the first call starts its driver task, so it
    /// must run inside the thread's `LocalSet` (the log arbiter).
    fn current() -> io::Result<Rc<Reactor>> {
        REACTOR.with_borrow_mut(|r| {
            if let Some(r) = r.as_ref() {
                return Ok(r.clone());
            }
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
            let reactor = Rc::new(Reactor {
                ready: crate::sys::socket::watch(&epoll.0)?,
                epoll,
                slots: RefCell::new(Slots::default()),
            });
            tokio::task::spawn_local(drive(reactor.clone()));
            *r = Some(reactor.clone());
            Ok(reactor)
        })
    }
}

/// Marks the slots of the pipes that got events ready and makes their
/// `on_ready` calls. When tokio's reactor fails (the runtime shuts down),
/// every waiting reader is called once more and sees `closed`.
async fn drive(r: Rc<Reactor>) {
    let mut events = [EpollEvent::empty(); EVENTS];
    let mut calls = Vec::new();
    while let Ok(mut guard) = r.ready.readable().await {
        loop {
            let n = match r.epoll.wait(&mut events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(_) => 0,
            };
            {
                let mut slots = r.slots.borrow_mut();
                for e in &events[..n] {
                    if let Some(s) = slots.slots.get_mut(e.data() as usize) {
                        s.ready = true;
                        calls.extend(s.on_ready.take());
                    }
                }
            }
            // Made with the slots released: a call may use them.
            for (f, arg) in calls.drain(..) {
                f(arg);
            }
            if n < EVENTS {
                break;
            }
        }
        guard.clear_ready();
    }
    {
        let mut slots = r.slots.borrow_mut();
        slots.closed = true;
        calls.extend(slots.slots.iter_mut().filter_map(|s| s.on_ready.take()));
    }
    for (f, arg) in calls {
        f(arg);
    }
}

/// The read end of a child's pipe, in the log thread's epoll set.
pub(crate) struct ReadEnd {
    fd: OwnedFd,
    token: usize,
    reactor: Rc<Reactor>,
}

/// What one `read` found.
pub(crate) enum Read {
    Data,
    Eof,
    Empty,
}

impl ReadEnd {
    /// Puts `fd` (made non-blocking) into this thread's epoll set.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<ReadEnd> {
        let reactor = Reactor::current()?;
        crate::sys::socket::set_nonblocking(&fd)?;
        let token = {
            let mut s = reactor.slots.borrow_mut();
            // Ready at first: whatever is in the pipe already is read
            // before the first wait.
            let slot = Slot {
                ready: true,
                on_ready: None,
            };
            match s.free.pop() {
                Some(token) => {
                    s.slots[token] = slot;
                    token
                }
                None => {
                    s.slots.push(slot);
                    s.slots.len() - 1
                }
            }
        };
        let event = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, token as u64);
        let pipe = ReadEnd { fd, token, reactor };
        pipe.reactor.epoll.add(pipe.fd.as_fd(), event)?;
        Ok(pipe)
    }

    /// The pipe may have something: an event came since a read last met
    /// EAGAIN (or no read did yet).
    pub(crate) fn is_ready(&self) -> bool {
        self.reactor.slots.borrow().slots[self.token].ready
    }

    /// The log thread's reactor is gone (the runtime shuts down): no event
    /// will come any more.
    pub(crate) fn closed(&self) -> bool {
        self.reactor.slots.borrow().closed
    }

    /// At the pipe's next event, the driver calls `f(arg)` (once). Set it
    /// only when the pipe is not ready (`is_ready`) and the reactor not
    /// closed: neither calls it then.
    pub(crate) fn on_ready(&self, f: fn(usize), arg: usize) {
        self.reactor.slots.borrow_mut().slots[self.token].on_ready = Some((f, arg));
    }

    /// Takes back the call `on_ready` left.
    pub(crate) fn clear_on_ready(&self) {
        self.reactor.slots.borrow_mut().slots[self.token].on_ready = None;
    }

    /// One `read(2)` of up to `max` bytes, appended to `buf`. The read
    /// goes through the thread's scratch buffer: reading into `buf`'s
    /// spare room would mean zeroing (and faulting in) 64 KiB for every
    /// read, also the many that find the pipe empty.
    pub(crate) fn read(&self, buf: &mut Vec<u8>, max: usize) -> Read {
        let r = SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < max {
                scratch.resize(max, 0);
            }
            let r = nix::unistd::read(self.fd.as_raw_fd(), &mut scratch[..max]);
            if let Ok(n) = r {
                buf.extend_from_slice(&scratch[..n]);
            }
            r
        });
        match r {
            Ok(0) => Read::Eof,
            Ok(_) => Read::Data,
            Err(Errno::EAGAIN) => {
                self.reactor.slots.borrow_mut().slots[self.token].ready = false;
                Read::Empty
            }
            Err(Errno::EINTR) => Read::Data,
            Err(_) => Read::Eof,
        }
    }
}

impl Drop for ReadEnd {
    fn drop(&mut self) {
        let _ = self.reactor.epoll.delete(self.fd.as_fd());
        let mut s = self.reactor.slots.borrow_mut();
        s.slots[self.token] = Slot::default();
        s.free.push(self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    thread_local! {
        static CALLED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    fn record(arg: usize) {
        CALLED.with_borrow_mut(|c| c.push(arg));
    }

    /// Whether `record(arg)` is called within `within` (taking the call).
    async fn called(arg: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let found = CALLED.with_borrow_mut(|c| {
                let at = c.iter().position(|&a| a == arg);
                at.map(|i| c.remove(i)).is_some()
            });
            if found {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A waiting pipe is called back at its child's write, reads what
    /// came, counts as empty only at EAGAIN, is called back at EOF, and
    /// gives its slot back; a quiet pipe is never called.
    #[actix::test]
    async fn a_pipe_calls_back_at_its_writes_reads_until_eagain_and_frees_its_slot() {
        let (quiet_r, _quiet_w) = std::io::pipe().unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        let quiet = ReadEnd::new(quiet_r.into()).unwrap();
        let end = ReadEnd::new(r.into()).unwrap();
        let mut buf = Vec::new();
        // Ready at first, and empty.
        assert!(end.is_ready());
        assert!(matches!(quiet.read(&mut buf, 4096), Read::Empty));
        assert!(matches!(end.read(&mut buf, 4096), Read::Empty));
        assert!(!end.is_ready() && !end.closed());
        quiet.on_ready(record, 2);
        end.on_ready(record, 1);
        assert!(
            !called(1, Duration::from_millis(100)).await,
            "no write, no call"
        );
        w.write_all(b"hello\n").unwrap();
        assert!(
            called(1, Duration::from_secs(5)).await,
            "the write calls it"
        );
        assert!(end.is_ready());
        assert!(matches!(end.read(&mut buf, 4096), Read::Data));
        assert_eq!(buf, b"hello\n");
        assert!(matches!(end.read(&mut buf, 4096), Read::Empty));
        assert_eq!(buf, b"hello\n", "an empty read leaves the buffer as it was");
        // A call taken back is not made.
        end.on_ready(record, 3);
        end.clear_on_ready();
        end.on_ready(record, 1);
        drop(w);
        assert!(called(1, Duration::from_secs(5)).await, "EOF calls it");
        assert!(matches!(end.read(&mut buf, 4096), Read::Eof));
        assert!(!called(3, Duration::ZERO).await);
        // The other pipe was not called by this one's events.
        assert!(!called(2, Duration::ZERO).await);
        assert!(!quiet.is_ready());
        let token = end.token;
        drop(end);
        let (again, _w2) = std::io::pipe().unwrap();
        let again = ReadEnd::new(again.into()).unwrap();
        assert_eq!(again.token, token, "the slot is reused");
    }
}
