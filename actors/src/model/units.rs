//! Durations and sizes as the config writes them (SPEC 2): `"250ms"`, `"1.5s"`,
//! `"2m"`, `"1h"` or a number of seconds; `"512K"`, `"10MB"`, `"1GiB"` or a
//! number of bytes (binary units, as supervisord, Docker and systemd read them).
//! Pure parsing, no I/O.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A config duration. Serialises back to a human string (`"1.5s"`), so
/// `oneinit check --print` round-trips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfDuration(pub Duration);

/// A config size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfSize(pub u64);

impl ConfDuration {
    pub const fn from_secs(s: u64) -> Self {
        ConfDuration(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        ConfDuration(Duration::from_millis(ms))
    }
    pub fn get(self) -> Duration {
        self.0
    }
}

/// A duration or size that cannot be read. `text` is what was written
/// (quoted when it was a string), so the message shows it as the user
/// wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid duration {text}: not a number")]
    DurationNotANumber { text: String },
    #[error("invalid duration {text}: a duration cannot be negative")]
    DurationNegative { text: String },
    #[error(
        "invalid duration {text}: longer than the maximum of {max} (10 years)",
        max = format_duration(MAX_DURATION)
    )]
    DurationTooLong { text: String },
    #[error("invalid duration {text:?}: expected e.g. \"250ms\", \"1.5s\", \"2m\", \"1h\" or a number of seconds")]
    DurationSyntax { text: String },
    #[error("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h or d)")]
    DurationUnit { text: String, unit: String },
    #[error("invalid size {text}: not a number")]
    SizeNotANumber { text: String },
    #[error("invalid size {text}: a size cannot be negative")]
    SizeNegative { text: String },
    #[error("invalid size {text}: larger than the maximum of {MAX_SIZE} bytes (8 EiB)")]
    SizeTooLarge { text: String },
    #[error(
        "invalid size {text:?}: expected e.g. \"512K\", \"10MB\", \"1GiB\" or a number of bytes"
    )]
    SizeSyntax { text: String },
    #[error(
        "invalid size {text:?}: unknown unit {unit:?} (use K, M, G, T, optionally with B or iB)"
    )]
    SizeUnit { text: String, unit: String },
}

/// The longest duration any field takes: ten years. Longer values mean
/// "never" and would overflow time arithmetic (`Instant + 2^64 s` panics).
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);
/// The largest size any field takes (the kernel's limits are signed).
pub const MAX_SIZE: u64 = i64::MAX as u64;

/// A duration written as a number of seconds (integer or float): a
/// number, not negative, then `within_max`. `text` is what was written,
/// for the message.
pub fn duration_from_secs(secs: f64, text: &str) -> Result<Duration, UnitError> {
    if secs.is_nan() {
        return Err(UnitError::DurationNotANumber { text: text.into() });
    }
    if secs < 0.0 {
        return Err(UnitError::DurationNegative { text: text.into() });
    }
    within_max(Duration::try_from_secs_f64(secs).ok(), text)
}

/// The one upper bound every duration goes through, whatever its
/// spelling: at most `MAX_DURATION` (`None`: too large to represent).
fn within_max(d: Option<Duration>, text: &str) -> Result<Duration, UnitError> {
    match d {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(UnitError::DurationTooLong { text: text.into() }),
    }
}

/// The one range check every size goes through (see `duration_from_secs`).
pub fn size_from_bytes(bytes: f64, text: &str) -> Result<u64, UnitError> {
    if bytes.is_nan() {
        return Err(UnitError::SizeNotANumber { text: text.into() });
    }
    if bytes < 0.0 {
        return Err(UnitError::SizeNegative { text: text.into() });
    }
    let rounded = bytes.round();
    if rounded > MAX_SIZE as f64 {
        return Err(UnitError::SizeTooLarge { text: text.into() });
    }
    Ok(rounded as u64)
}

/// Splits `"1.5s"` into the number and the unit; a leading `-` is kept
/// with the number so negative values get their own message.
fn split_number(t: &str) -> (&str, &str) {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len())
        + (t.len() - body.len());
    t.split_at(split)
}

/// Parses `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"1d"`, `"10"` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let t = text.trim();
    let (num, unit) = split_number(t);
    let value: f64 = match num.parse() {
        Ok(v) => v,
        Err(_) => {
            return Err(UnitError::DurationSyntax {
                text: text.to_string(),
            })
        }
    };
    let unit_nanos: u128 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "µs" => 1_000,
        "m" | "min" | "mins" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        other => {
            return Err(UnitError::DurationUnit {
                text: text.to_string(),
                unit: other.to_string(),
            })
        }
    };
    if value < 0.0 {
        return Err(UnitError::DurationNegative {
            text: format!("{text:?}"),
        });
    }
    // The decimal digits exactly, not through a float: "4841467.6" is
    // 4841467.6 s, not 4841467.599999999 s, so what is written formats
    // back to the same text.
    let nanos = decimal_nanos(num, unit_nanos).and_then(|n| u64::try_from(n).ok());
    within_max(nanos.map(Duration::from_nanos), &format!("{text:?}"))
}

/// `num` (digits, at most one '.', an optional sign, as `split_number`
/// cut it and `f64` accepted it; not below zero) times `unit_nanos`,
/// rounded down to the nanosecond; `None` when it overflows.
fn decimal_nanos(num: &str, unit_nanos: u128) -> Option<u128> {
    let digits = num.trim_start_matches(['+', '-']);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut nanos: u128 = 0;
    for b in whole.bytes() {
        nanos = nanos.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    nanos = nanos.checked_mul(unit_nanos)?;
    // Digits past the 20th are below a nanosecond for every unit (a day
    // is < 10^14 ns), and 10^20 * a day's nanoseconds fits in a u128.
    let (mut part, mut scale) = (0u128, 1u128);
    for b in fraction.bytes().take(20) {
        part = part * 10 + u128::from(b - b'0');
        scale *= 10;
    }
    nanos.checked_add(part * unit_nanos / scale)
}

/// Parses `"512K"`, `"10MB"`, `"1GiB"`, `"1024"` (bytes). Binary units.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    let (num, unit) = split_number(t);
    let value: f64 = match num.parse() {
        Ok(v) => v,
        Err(_) => {
            return Err(UnitError::SizeSyntax {
                text: text.to_string(),
            })
        }
    };
    let factor: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(UnitError::SizeUnit {
                text: text.to_string(),
                unit: unit.trim().to_string(),
            })
        }
    };
    // Whole numbers exactly (f64 loses bytes above 2^53).
    if let Ok(n) = num.parse::<u64>() {
        return match n.checked_mul(factor as u64) {
            Some(bytes) if bytes <= MAX_SIZE => Ok(bytes),
            _ => size_from_bytes(f64::INFINITY, &format!("{text:?}")),
        };
    }
    size_from_bytes(value * factor, &format!("{text:?}"))
}

/// Formats a size the way a person writes it (`"10MiB"`, `"512KiB"`, `"100"`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes / unit * unit == bytes {
            return format!("{}{name}", bytes / unit);
        }
    }
    format!("{bytes}")
}

/// Formats a duration the way a person writes it in a config.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}us", d.as_micros())
    } else if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

impl<'de> Deserialize<'de> for ConfDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ConfDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"250ms\", \"1.5s\", \"2m\" or a number of seconds")
            }
            // Every spelling ends in the same range check.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                duration_from_secs(v as f64, &v.to_string())
                    .map(ConfDuration)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                duration_from_secs(v as f64, &v.to_string())
                    .map(ConfDuration)
                    .map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                duration_from_secs(v, &v.to_string())
                    .map(ConfDuration)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(ConfDuration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ConfDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ConfSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ConfSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"512K\", \"10MB\", \"1GiB\" or a number of bytes")
            }
            // Every spelling ends in the same range check.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v > MAX_SIZE {
                    return Err(E::custom(UnitError::SizeTooLarge {
                        text: v.to_string(),
                    }));
                }
                Ok(ConfSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v).map(ConfSize).map_err(|_| {
                    E::custom(UnitError::SizeNegative {
                        text: v.to_string(),
                    })
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                size_from_bytes(v, &v.to_string())
                    .map(ConfSize)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_size(v).map(ConfSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ConfSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests;
