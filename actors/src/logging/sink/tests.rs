//! Tests for the log sink: a stuck or closed stdout fills the budget, counts drops, and recovers.

use super::*;
use std::sync::mpsc::{channel, Receiver};

/// An output that waits for the test before every write.
struct Gated(Receiver<()>, std::sync::mpsc::Sender<usize>);

impl Write for Gated {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.recv();
        let _ = self.1.send(data.len());
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn taken_by_writer(sink: &LogSink) {
    while !sink.lock().buf.is_empty() {
        std::thread::yield_now();
    }
}

#[test]
fn a_stuck_writer_fills_the_budget_then_own_records_drop_and_room_comes_back() {
    let (open, gate) = channel();
    let (wrote, written) = channel();
    let sink = LogSink::start_with(Box::new(Gated(gate, wrote)), Duration::from_secs(3600));
    // The writer takes the first record and waits in `write`.
    assert!(sink.try_write(b"first\n"));
    taken_by_writer(&sink);
    let line = [b'x'; 99];
    let mut captured = 0;
    while sink.room() >= 100 {
        sink.write_captured(&[&line[..], b"\n"].concat());
        captured += 1;
    }
    assert_eq!(captured, QUEUE_BYTES / 100);
    // oneinit's own records still fit, in the reserve, then drop.
    let own = (0..RESERVE).filter(|_| sink.try_write(&[b'o'; 99])).count();
    assert!(
        (RESERVE / 99 - 1..=RESERVE / 99 + 1).contains(&own),
        "{own}"
    );
    assert!(sink.own_dropped() > 0);
    assert!(!sink.stuck(), "an hour of stall timeout has not passed");
    // Unblocked, the writer drains everything and room comes back.
    let total = 6 + captured * 100 + own * 99;
    let mut bytes = 0;
    while bytes < total {
        let _ = open.send(());
        bytes += written
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer wrote");
    }
    sink.flush(Duration::from_secs(10));
    assert_eq!(sink.room(), QUEUE_BYTES);
    assert!(sink.try_write(b"again\n"));
}

#[test]
fn a_writer_that_takes_nothing_is_stuck_after_the_stall_timeout() {
    let (_open, gate) = channel();
    let (wrote, _written) = channel();
    let sink = LogSink::start_with(Box::new(Gated(gate, wrote)), Duration::from_millis(200));
    assert!(!sink.stuck());
    assert!(sink.try_write(b"first\n"));
    taken_by_writer(&sink);
    let t = Instant::now();
    while !sink.stuck() {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(t.elapsed() >= Duration::from_millis(150));
    // A bounded flush returns.
    sink.flush(Duration::from_secs(10));
}

#[test]
fn a_closed_stdout_counts_as_stuck_at_once() {
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = LogSink::start(Box::new(Closed));
    assert!(sink.try_write(b"lost\n"));
    sink.flush(Duration::from_secs(10));
    assert!(sink.stuck());
}
