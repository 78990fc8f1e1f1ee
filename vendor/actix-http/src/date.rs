use std::{
    cell::Cell,
    fmt::{self, Write},
    rc::Rc,
    time::{Duration, Instant, SystemTime},
};

/// "Thu, 01 Jan 1970 00:00:00 GMT".len()
pub(crate) const DATE_VALUE_LENGTH: usize = 29;

#[derive(Clone, Copy)]
pub(crate) struct Date {
    pub(crate) bytes: [u8; DATE_VALUE_LENGTH],
    pos: usize,
}

impl Date {
    fn new() -> Date {
        let mut date = Date {
            bytes: [0; DATE_VALUE_LENGTH],
            pos: 0,
        };
        date.update();
        date
    }

    fn update(&mut self) {
        self.pos = 0;
        write!(self, "{}", httpdate::HttpDate::from(SystemTime::now())).unwrap();
    }
}

impl fmt::Write for Date {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let len = s.len();
        self.bytes[self.pos..self.pos + len].copy_from_slice(s.as_bytes());
        self.pos += len;
        Ok(())
    }
}

/// Cached `Date` header value.
///
/// oneinit patch: upstream refreshes the cache from a task that wakes every
/// 500 ms for as long as the server runs, which makes an idle supervisor
/// wake up twice a second per worker. Here the value is refreshed lazily,
/// when it is read and older than 500 ms, so an idle server never wakes.
pub(crate) struct DateService {
    current: Rc<Cell<(Date, Instant)>>,
}

impl DateService {
    pub(crate) fn new() -> Self {
        let current = Rc::new(Cell::new((Date::new(), Instant::now())));
        DateService { current }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::now()
    }

    pub(crate) fn with_date<F: FnMut(&Date)>(&self, mut f: F) {
        let (mut date, at) = self.current.get();
        let now = Instant::now();
        if now.duration_since(at) >= Duration::from_millis(500) {
            date.update();
            self.current.set((date, now));
        }
        f(&date);
    }
}

impl fmt::Debug for DateService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DateService").finish_non_exhaustive()
    }
}

