//! Tests for remote sources: format detection, retry backoff, sha256 pins.

use super::*;

#[test]
fn format_by_extension_then_content_type_then_yaml() {
    let u = |s: &str| Url::parse(s).unwrap();
    assert_eq!(
        format_of(&u("https://h/a.toml"), Some("application/json")),
        Format::Toml
    );
    assert_eq!(format_of(&u("https://h/a.JSON?x=1"), None), Format::Json);
    assert_eq!(
        format_of(&u("https://h/cfg"), Some("application/json; charset=utf-8")),
        Format::Json
    );
    assert_eq!(
        format_of(&u("https://h/cfg"), Some("application/toml")),
        Format::Toml
    );
    assert_eq!(
        format_of(&u("https://h/cfg"), Some("text/yaml")),
        Format::Yaml
    );
    assert_eq!(format_of(&u("https://h/cfg"), None), Format::Yaml);
}

#[test]
fn backoff_doubles_and_is_capped() {
    assert_eq!(backoff(0), Duration::from_millis(200));
    assert_eq!(backoff(1), Duration::from_millis(400));
    assert_eq!(backoff(3), Duration::from_millis(1600));
    assert_eq!(backoff(10), MAX_BACKOFF);
    assert_eq!(backoff(40), MAX_BACKOFF);
}

#[test]
fn pin_mismatch_shows_both_hashes() {
    let url = Url::parse("https://h/a.yaml").unwrap();
    let good = hex::encode(Sha256::digest(b"x: 1\n"));
    assert!(decode(&url, b"x: 1\n", None, Some(&good.to_uppercase())).is_ok());
    let err = decode(&url, b"x: 2\n", None, Some(&good))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&good), "{err}");
    assert!(
        err.contains(&hex::encode(Sha256::digest(b"x: 2\n"))),
        "{err}"
    );
}
