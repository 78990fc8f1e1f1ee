//! Tests for durations and sizes: spellings, units, range checks, round trips.

use super::*;

#[test]
fn durations() {
    let cases = [
        ("250ms", 250),
        ("1.5s", 1500),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("10", 10_000),
        ("0", 0),
        (" 3s ", 3000),
    ];
    for (text, ms) in cases {
        assert_eq!(
            parse_duration(text).unwrap(),
            Duration::from_millis(ms),
            "{text}"
        );
    }
    for bad in ["", "abc", "5x", "-1s", "1.2.3s"] {
        assert!(parse_duration(bad).is_err(), "{bad} should not parse");
    }
}

#[test]
fn sizes() {
    let cases = [
        ("512K", 512 * 1024),
        ("10MB", 10 * 1024 * 1024),
        ("1GiB", 1024 * 1024 * 1024),
        ("1024", 1024),
        ("1kb", 1024),
        ("1.5M", 1_572_864),
    ];
    for (text, bytes) in cases {
        assert_eq!(parse_size(text).unwrap(), bytes, "{text}");
    }
    for bad in ["", "ten", "5Q", "-3K"] {
        assert!(parse_size(bad).is_err(), "{bad} should not parse");
    }
}

/// Every spelling of a duration goes through the same range check.
#[test]
fn duration_ranges_whatever_the_spelling() {
    use serde_json::json;
    let ok = [
        (json!(0), 0.0),
        (json!(90), 90.0),
        (json!(1.5), 1.5),
        (json!("1h"), 3600.0),
        (json!(MAX_DURATION.as_secs()), MAX_DURATION.as_secs_f64()),
        (json!("3650d"), MAX_DURATION.as_secs_f64()),
    ];
    for (v, secs) in ok {
        let d: ConfDuration = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(d.get().as_secs_f64(), secs, "{v}");
    }
    let bad = [
        (json!(u64::MAX), "longer than the maximum"),
        (json!(MAX_DURATION.as_secs() + 1), "longer than the maximum"),
        (json!(i64::MIN), "cannot be negative"),
        (json!(-1), "cannot be negative"),
        (json!(-0.5), "cannot be negative"),
        (json!(1e300), "longer than the maximum"),
        (json!("3651d"), "longer than the maximum"),
        (json!("-1s"), "cannot be negative"),
        (json!("NaN"), "invalid duration"),
        (json!("inf"), "invalid duration"),
        (json!("1e9"), "unknown unit"),
    ];
    for (v, want) in bad {
        let e = serde_json::from_value::<ConfDuration>(v.clone()).unwrap_err();
        assert!(e.to_string().contains(want), "{v}: {e}");
    }
    assert!(duration_from_secs(f64::NAN, "x").is_err());
    assert!(duration_from_secs(f64::INFINITY, "x").is_err());
}

#[test]
fn size_ranges_whatever_the_spelling() {
    use serde_json::json;
    for (v, bytes) in [
        (json!(0), 0),
        (json!("1K"), 1024),
        (json!(MAX_SIZE), MAX_SIZE),
    ] {
        let s: ConfSize = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.0, bytes, "{v}");
    }
    for (v, want) in [
        (json!(u64::MAX), "larger than the maximum"),
        (json!(-1), "cannot be negative"),
        (json!(-1.0), "cannot be negative"),
        (json!(1e300), "larger than the maximum"),
        (json!("8EiB"), "unknown unit"),
        (json!("9000000T"), "larger than the maximum"),
        (json!("-3K"), "cannot be negative"),
    ] {
        let e = serde_json::from_value::<ConfSize>(v.clone()).unwrap_err();
        assert!(e.to_string().contains(want), "{v}: {e}");
    }
    assert_eq!(format_size(10 * 1024 * 1024), "10MiB");
    assert_eq!(format_size(1500), "1500");
    // Exact above 2^53, where a float would round.
    assert_eq!(parse_size("9007199254740993"), Ok(9_007_199_254_740_993));
}

#[test]
fn duration_round_trip() {
    for text in ["250ms", "2s", "2m", "1h"] {
        assert_eq!(format_duration(parse_duration(text).unwrap()), text);
    }
}

/// Found by the units_cron fuzz target: through a float, "4841467.6" was
/// 4841467.599999999 s, formatted as "4841467599999us", which parsed to
/// more than the original. Decimal digits are now read exactly.
#[test]
fn decimal_durations_are_exact_and_format_back_to_themselves() {
    let cases = [
        (
            "4841467.6",
            Duration::new(4_841_467, 600_000_000),
            "4841467600ms",
        ),
        ("0.1", Duration::from_millis(100), "100ms"),
        ("1.000001", Duration::new(1, 1_000), "1000001us"),
        ("0.3ms", Duration::from_micros(300), "300us"),
        ("1.5us", Duration::from_nanos(1_500), "1us"),
        ("+2.5m", Duration::from_secs(150), "150s"),
        (".5h", Duration::from_secs(1800), "30m"),
        ("1.", Duration::from_secs(1), "1s"),
        ("-0", Duration::ZERO, "0s"),
        ("0.0000000001", Duration::ZERO, "0s"),
        (
            "1.99999999999999999999999999s",
            Duration::new(1, 999_999_999),
            "1999999us",
        ),
    ];
    for (text, want, formatted) in cases {
        let d = parse_duration(text).unwrap();
        assert_eq!(d, want, "{text}");
        assert_eq!(format_duration(d), formatted, "{text}");
        assert!(parse_duration(formatted).unwrap() <= d, "{text}");
    }
    assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
    for long in ["3650.0000001d", "315360000.000000001", &"9".repeat(60)] {
        assert!(
            matches!(parse_duration(long), Err(UnitError::DurationTooLong { .. })),
            "{long}"
        );
    }
}
