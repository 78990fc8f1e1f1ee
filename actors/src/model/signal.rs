//! Signals as oneinit sees them: every Linux signal number 1..=64, with the
//! names users see in `kill -l` (bash, procps, glibc), parsed from what users
//! write (`TERM`, `SIGTERM`, `term`, `15`, `RTMIN+3`, `SIGRTMAX-2`).
//!
//! nix's `Signal` enum stops at 31, so a child killed by a real-time signal
//! (`kill -35`) cannot be represented there; this type covers them all.
//!
//! Naming (SPEC 9), the glibc numbering:
//! - 1..=31: the classic name without `SIG` (`HUP`, `TERM`, `PWR`, ...);
//! - 32 and 33: glibc keeps them for its threads; they have no name and are
//!   shown as the number (`"32"`, `"33"`);
//! - 34..=64: `RTMIN`, `RTMIN+1`, ... `RTMIN+30` (glibc's SIGRTMIN is 34).
//!   `RTMAX` and `RTMAX-N` are accepted on input (64 and 64-N).
//!
//! Plain data, no system calls: sending is `sys::signals::send`.

use nix::libc;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The highest signal number on Linux (x86_64, arm64): `_NSIG - 1`.
pub const MAX: i32 = 64;
/// The first real-time signal as glibc, bash and procps number it.
pub const RTMIN: i32 = 34;

/// A signal number in 1..=64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// A signal name or number oneinit does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {text:?}: use a name such as TERM, HUP, USR1, INT, QUIT, KILL, RTMIN+N, or a number from 1 to 64")]
pub struct UnknownSignal {
    pub text: String,
}

impl Signal {
    pub const SIGHUP: Signal = Signal(libc::SIGHUP);
    pub const SIGINT: Signal = Signal(libc::SIGINT);
    pub const SIGQUIT: Signal = Signal(libc::SIGQUIT);
    pub const SIGILL: Signal = Signal(libc::SIGILL);
    pub const SIGTRAP: Signal = Signal(libc::SIGTRAP);
    pub const SIGABRT: Signal = Signal(libc::SIGABRT);
    pub const SIGBUS: Signal = Signal(libc::SIGBUS);
    pub const SIGFPE: Signal = Signal(libc::SIGFPE);
    pub const SIGKILL: Signal = Signal(libc::SIGKILL);
    pub const SIGUSR1: Signal = Signal(libc::SIGUSR1);
    pub const SIGSEGV: Signal = Signal(libc::SIGSEGV);
    pub const SIGUSR2: Signal = Signal(libc::SIGUSR2);
    pub const SIGPIPE: Signal = Signal(libc::SIGPIPE);
    pub const SIGALRM: Signal = Signal(libc::SIGALRM);
    pub const SIGTERM: Signal = Signal(libc::SIGTERM);
    pub const SIGSTKFLT: Signal = Signal(libc::SIGSTKFLT);
    pub const SIGCHLD: Signal = Signal(libc::SIGCHLD);
    pub const SIGCONT: Signal = Signal(libc::SIGCONT);
    pub const SIGSTOP: Signal = Signal(libc::SIGSTOP);
    pub const SIGTSTP: Signal = Signal(libc::SIGTSTP);
    pub const SIGTTIN: Signal = Signal(libc::SIGTTIN);
    pub const SIGTTOU: Signal = Signal(libc::SIGTTOU);
    pub const SIGURG: Signal = Signal(libc::SIGURG);
    pub const SIGXCPU: Signal = Signal(libc::SIGXCPU);
    pub const SIGXFSZ: Signal = Signal(libc::SIGXFSZ);
    pub const SIGVTALRM: Signal = Signal(libc::SIGVTALRM);
    pub const SIGPROF: Signal = Signal(libc::SIGPROF);
    pub const SIGWINCH: Signal = Signal(libc::SIGWINCH);
    pub const SIGIO: Signal = Signal(libc::SIGIO);
    pub const SIGPWR: Signal = Signal(libc::SIGPWR);
    pub const SIGSYS: Signal = Signal(libc::SIGSYS);

    /// The signal with this number, if it is one (1..=64).
    pub fn new(number: i32) -> Option<Signal> {
        (1..=MAX).contains(&number).then_some(Signal(number))
    }

    /// Every signal, 1..=64.
    pub fn all() -> impl Iterator<Item = Signal> {
        (1..=MAX).map(Signal)
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// A real-time signal (`RTMIN`..`RTMIN+30`, 34..=64).
    pub fn is_realtime(self) -> bool {
        self.0 >= RTMIN
    }

    /// The name users see in `kill -l`, without `SIG`: `TERM`, `RTMIN+1`,
    /// or the number for the nameless 32 and 33.
    pub fn name(self) -> &'static str {
        classic_name(self.0).unwrap_or_else(|| {
            // 32..=64: the table below is indexed from 32.
            NAMES_FROM_32[(self.0 - 32) as usize]
        })
    }
}

/// 32..=64 in glibc's numbering: 32 and 33 are nameless, 34 is RTMIN.
const NAMES_FROM_32: [&str; 33] = [
    "32", "33", "RTMIN", "RTMIN+1", "RTMIN+2", "RTMIN+3", "RTMIN+4", "RTMIN+5", "RTMIN+6",
    "RTMIN+7", "RTMIN+8", "RTMIN+9", "RTMIN+10", "RTMIN+11", "RTMIN+12", "RTMIN+13", "RTMIN+14",
    "RTMIN+15", "RTMIN+16", "RTMIN+17", "RTMIN+18", "RTMIN+19", "RTMIN+20", "RTMIN+21", "RTMIN+22",
    "RTMIN+23", "RTMIN+24", "RTMIN+25", "RTMIN+26", "RTMIN+27", "RTMIN+28", "RTMIN+29", "RTMIN+30",
];

/// Names of 1..=31, by libc's constants (so the numbering is the target's).
fn classic_name(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::SIGHUP => "HUP",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGILL => "ILL",
        libc::SIGTRAP => "TRAP",
        libc::SIGABRT => "ABRT",
        libc::SIGBUS => "BUS",
        libc::SIGFPE => "FPE",
        libc::SIGKILL => "KILL",
        libc::SIGUSR1 => "USR1",
        libc::SIGSEGV => "SEGV",
        libc::SIGUSR2 => "USR2",
        libc::SIGPIPE => "PIPE",
        libc::SIGALRM => "ALRM",
        libc::SIGTERM => "TERM",
        libc::SIGSTKFLT => "STKFLT",
        libc::SIGCHLD => "CHLD",
        libc::SIGCONT => "CONT",
        libc::SIGSTOP => "STOP",
        libc::SIGTSTP => "TSTP",
        libc::SIGTTIN => "TTIN",
        libc::SIGTTOU => "TTOU",
        libc::SIGURG => "URG",
        libc::SIGXCPU => "XCPU",
        libc::SIGXFSZ => "XFSZ",
        libc::SIGVTALRM => "VTALRM",
        libc::SIGPROF => "PROF",
        libc::SIGWINCH => "WINCH",
        libc::SIGIO => "IO",
        libc::SIGPWR => "PWR",
        libc::SIGSYS => "SYS",
        _ => return None,
    })
}

/// Old spellings `kill -l` does not print but `kill` accepts.
fn alias(name: &str) -> Option<i32> {
    Some(match name {
        "IOT" => libc::SIGABRT,
        "POLL" => libc::SIGIO,
        "CLD" => libc::SIGCHLD,
        _ => return None,
    })
}

/// Parses `"HUP"`, `"SIGHUP"`, `"hup"`, `"1"`, `"RTMIN+3"`, `"RTMAX-1"`.
pub fn parse_signal(text: &str) -> Result<Signal, UnknownSignal> {
    let unknown = || UnknownSignal {
        text: text.to_string(),
    };
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::new(n).ok_or_else(unknown);
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = realtime_number(name) {
        return Signal::new(n)
            .filter(|s| s.is_realtime())
            .ok_or_else(unknown);
    }
    Signal::all()
        .find(|s| classic_name(s.0) == Some(name))
        .or_else(|| alias(name).and_then(Signal::new))
        .ok_or_else(unknown)
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` as a number (not range-checked).
fn realtime_number(name: &str) -> Option<i32> {
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(sign)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i32>().ok()
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return offset(rest, '+').map(|n| RTMIN + n);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return offset(rest, '-').map(|n| MAX - n);
    }
    None
}

impl FromStr for Signal {
    type Err = UnknownSignal;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_signal(s)
    }
}

/// The short name, `TERM` for SIGTERM, `RTMIN+1` for 35.
pub fn signal_short_name(sig: Signal) -> &'static str {
    sig.name()
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<nix::sys::signal::Signal> for Signal {
    fn from(s: nix::sys::signal::Signal) -> Signal {
        Signal(s as i32)
    }
}

/// A signal named in the config: a name (`"TERM"`, `"RTMIN+2"`) or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalName(pub Signal);

impl SignalName {
    pub fn get(self) -> Signal {
        self.0
    }
}

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for SignalName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = SignalName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a signal name such as \"TERM\" or \"RTMIN+1\", or a signal number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                parse_signal(&v.to_string())
                    .map(SignalName)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                parse_signal(&v.to_string())
                    .map(SignalName)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_signal(v).map(SignalName).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for SignalName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGHUP").unwrap(), Signal::SIGHUP);
        assert_eq!(parse_signal("usr1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("iot").unwrap(), Signal::SIGABRT);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("-1").is_err());
        assert_eq!(signal_short_name(Signal::SIGKILL), "KILL");
    }

    #[test]
    fn realtime_names_follow_glibc() {
        assert_eq!(Signal::new(34).unwrap().name(), "RTMIN");
        assert_eq!(Signal::new(35).unwrap().name(), "RTMIN+1");
        assert_eq!(Signal::new(64).unwrap().name(), "RTMIN+30");
        assert_eq!(Signal::new(32).unwrap().name(), "32");
        assert_eq!(Signal::new(33).unwrap().name(), "33");
        assert_eq!(parse_signal("RTMIN").unwrap().number(), 34);
        assert_eq!(parse_signal("sigrtmin+3").unwrap().number(), 37);
        assert_eq!(parse_signal("RTMAX").unwrap().number(), 64);
        assert_eq!(parse_signal("SIGRTMAX-2").unwrap().number(), 62);
        assert_eq!(parse_signal("32").unwrap().number(), 32);
        for bad in [
            "RTMIN+31", "RTMAX-31", "RTMIN+", "RTMIN-1", "RTMAX+1", "RTMIN+x",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad} refused");
        }
    }

    /// Every signal has a name, the name parses back to the same number,
    /// and 1..=31 agree with nix (the target's libc numbering).
    #[test]
    fn every_signal_round_trips() {
        assert_eq!(Signal::all().count(), 64);
        for sig in Signal::all() {
            assert_eq!(parse_signal(sig.name()), Ok(sig), "{sig}");
            if !matches!(sig.number(), 32 | 33) {
                assert_eq!(parse_signal(&format!("SIG{}", sig.name())), Ok(sig));
            }
            if let Ok(n) = nix::sys::signal::Signal::try_from(sig.number()) {
                assert_eq!(format!("SIG{}", sig.name()), n.as_str());
                assert_eq!(Signal::from(n), sig);
            }
        }
        for n in 1..=31 {
            assert!(
                nix::sys::signal::Signal::try_from(n).is_ok(),
                "{n} is a classic signal"
            );
        }
    }

    #[test]
    fn config_values() {
        let s: SignalName = serde_json::from_str("\"RTMIN+2\"").unwrap();
        assert_eq!(s.get().number(), 36);
        let s: SignalName = serde_json::from_str("40").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"RTMIN+6\"");
        assert!(serde_json::from_str::<SignalName>("65").is_err());
    }
}
