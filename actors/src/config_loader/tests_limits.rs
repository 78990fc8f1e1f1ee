//! Loader tests for the budgets (`budget.rs`), the range rules
//! (`ranges.rs`, `model::units`) and the access rules (`access.rs`): each
//! through `load`, so the message and its position are what a user sees.

#![allow(clippy::cloned_ref_to_slice_refs)] // `&[path.clone()]` reads best in tests

use super::budget::{MAX_DOCUMENT_BYTES, MAX_NESTING, MAX_NODES};
use super::tests::{load_err, load_ok, Dir};

/// Nine levels of ten aliases each: 10⁹ values from a few hundred bytes.
pub(crate) fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 10].join(",");
        text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    text
}

fn one_error(errors: &[String]) -> &str {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    &errors[0]
}

#[actix_rt::test]
async fn alias_bomb_is_a_budget_error_at_its_place() {
    let d = Dir::new();
    let path = d.write("bomb.yaml", &alias_bomb());
    let errors = load_err(&[path.clone()]).await;
    let e = one_error(&errors);
    assert!(e.starts_with(&format!("{path}:")), "{e}");
    assert!(
        e.contains(&format!(
            "more than {MAX_NODES} keys and values after YAML aliases"
        )),
        "{e}"
    );
}

#[actix_rt::test]
async fn moderate_aliases_still_work() {
    let d = Dir::new();
    let path = d.write(
        "ok.yaml",
        "services:\n  a: {command: [\"true\"], environment: &env {A: \"1\", B: \"2\"}}\n  b: {command: [\"true\"], environment: *env}\n",
    );
    let loaded = load_ok(&[path]).await;
    assert_eq!(loaded.config.services["b"].environment["B"], "2");
}

fn nested(format: &str, depth: usize) -> String {
    let open = "[".repeat(depth);
    let close = "]".repeat(depth);
    match format {
        "yaml" => format!("services:\n  x: {{command: {open}{close}}}\n"),
        "json" => format!("{{\"services\": {{\"x\": {{\"command\": {open}{close}}}}}}}"),
        _ => format!("[services.x]\ncommand = {open}{close}\n"),
    }
}

#[actix_rt::test]
async fn deep_nesting_is_a_budget_error_in_every_format() {
    let d = Dir::new();
    for format in ["yaml", "json", "toml"] {
        // services, x, command: three levels before the brackets.
        let path = d.write(&format!("deep.{format}"), &nested(format, MAX_NESTING));
        let errors = load_err(&[path.clone()]).await;
        let e = one_error(&errors);
        assert!(e.starts_with(&format!("{path}:")), "{format}: {e}");
        assert!(
            e.contains(&format!("nested more than {MAX_NESTING} levels deep")),
            "{format}: {e}"
        );
        // Far deeper: still one clear error, no crash (the parsers' own
        // recursion limits may answer first).
        let path = d.write(&format!("deeper.{format}"), &nested(format, 100_000));
        let errors = load_err(&[path.clone()]).await;
        assert!(
            errors[0].starts_with(&format!("{path}:")),
            "{format}: {errors:?}"
        );
    }
}

#[actix_rt::test]
async fn oversize_document_is_refused_before_parsing() {
    let d = Dir::new();
    let mut text = String::from("services: {}\n");
    let line = format!("# {}\n", "x".repeat(1000));
    while text.len() <= MAX_DOCUMENT_BYTES {
        text.push_str(&line);
    }
    let path = d.write("big.yaml", &text);
    let errors = load_err(&[path.clone()]).await;
    let e = one_error(&errors);
    assert!(
        e.starts_with(&format!("{path}: the document is too large")),
        "{e}"
    );
}

#[actix_rt::test]
async fn wide_documents_parse_in_linear_time() {
    // 30,000 keys in one map: a duplicate check by scanning took minutes.
    let d = Dir::new();
    let mut text = String::from("services:\n");
    for i in 0..30_000 {
        text.push_str(&format!(
            "  s{i}: {{command: [\"true\"], autostart: false}}\n"
        ));
    }
    let path = d.write("wide.yaml", &text);
    let started = std::time::Instant::now();
    let loaded = load_ok(&[path]).await;
    assert_eq!(loaded.config.services.len(), 30_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn defaults_times_services_is_charged() {
    let d = Dir::new();
    let mut text = String::from("defaults:\n  environment:\n");
    for i in 0..2_000 {
        text.push_str(&format!("    V{i}: \"x\"\n"));
    }
    text.push_str("services:\n");
    for i in 0..200 {
        text.push_str(&format!("  s{i}: {{command: [\"true\"]}}\n"));
    }
    let path = d.write("defaults.yaml", &text);
    let errors = load_err(&[path.clone()]).await;
    let e = one_error(&errors);
    assert!(
        e.starts_with(&format!("{path}:1:1:")) && e.contains("after `defaults` are copied"),
        "{e}"
    );
}

#[actix_rt::test]
async fn second_yaml_document_is_an_error() {
    let d = Dir::new();
    let path = d.write("two.yaml", "services: {}\n---\nservices: {}\n");
    let errors = load_err(&[path.clone()]).await;
    assert!(
        one_error(&errors).starts_with(&format!("{path}:2:1: a second YAML document")),
        "{errors:?}"
    );
}

#[actix_rt::test]
async fn durations_are_range_checked_in_every_spelling() {
    let d = Dir::new();
    let cases = [
        ("18446744073709551615", "longer than the maximum"),
        ("-1", "cannot be negative"),
        ("\"-5s\"", "cannot be negative"),
        ("1e300", "longer than the maximum"),
        ("\"999999999h\"", "longer than the maximum"),
        (".nan", "invalid duration"),
        (".inf", "invalid duration"),
        ("\"soon\"", "invalid duration"),
    ];
    for (value, want) in cases {
        let path = d.write(
            "d.yaml",
            &format!("shutdown:\n  sweep_grace: {value}\nservices: {{}}\n"),
        );
        let errors = load_err(&[path.clone()]).await;
        let e = one_error(&errors);
        assert!(
            e.starts_with(&format!("{path}:2:")) && e.contains(want),
            "{value}: {e}"
        );
    }
    // TOML's nan and inf are floats, not strings: refused the same way.
    for value in ["nan", "inf", "-1.5"] {
        let path = d.write("d.toml", &format!("[shutdown]\nsweep_grace = {value}\n"));
        let errors = load_err(&[path]).await;
        assert!(
            one_error(&errors).contains("invalid"),
            "{value}: {errors:?}"
        );
    }
    // The accepted spellings are the same amount.
    for value in ["90", "90.0", "\"90s\"", "\"1.5m\""] {
        let path = d.write("ok.yaml", &format!("shutdown: {{sweep_grace: {value}}}\n"));
        let loaded = load_ok(&[path]).await;
        assert_eq!(loaded.config.shutdown.sweep_grace.get().as_secs(), 90);
    }
}

#[actix_rt::test]
async fn sizes_are_range_checked_in_every_spelling() {
    let d = Dir::new();
    for (value, want) in [
        ("18446744073709551615", "larger than the maximum"),
        ("-1", "cannot be negative"),
        ("\"-3K\"", "cannot be negative"),
        ("\"9000000T\"", "larger than the maximum"),
        ("0", "the minimum is 1"),
    ] {
        let path = d.write(
            "s.yaml",
            &format!("services:\n  a:\n    command: [\"true\"]\n    logs: {{max_size: {value}}}\n"),
        );
        let errors = load_err(&[path.clone()]).await;
        let e = one_error(&errors);
        assert!(e.contains(want), "{value}: {e}");
        assert!(e.starts_with(&format!("{path}:4:")), "{value}: {e}");
    }
}

#[actix_rt::test]
async fn zero_intervals_and_timeouts_are_refused_with_the_minimum() {
    let d = Dir::new();
    let path = d.write(
        "z.yaml",
        "remote: {watch: 0s, timeout: 0}\n\
         services:\n\
         \x20 web:\n\
         \x20   command: [\"true\"]\n\
         \x20   health: [{process: {}, interval: 0}]\n\
         \x20   readiness: {check: {tcp: {address: \"127.0.0.1:1\"}, interval: 50ms, timeout: 0s}}\n\
         \x20 job:\n\
         \x20   type: oneshot\n\
         \x20   command: [\"true\"]\n\
         \x20   schedule: {interval: 0}\n",
    );
    let errors = load_err(&[path.clone()]).await;
    let want = [
        format!("{path}:1:17: \"remote.watch\" is 0s; the minimum is 100ms"),
        format!("{path}:1:30: \"remote.timeout\" is 0s; the minimum is 1ms"),
        format!("{path}:5:38: \"health[0].interval\" of service \"web\" is 0s; the minimum is 100ms"),
        format!("{path}:6:66: \"readiness.check.interval\" of service \"web\" is 50ms; the minimum is 100ms"),
        format!("{path}:6:81: \"readiness.check.timeout\" of service \"web\" is 0s; the minimum is 1ms"),
        format!("{path}:10:26: \"schedule.interval\" of service \"job\" is 0s; the minimum is 100ms"),
    ];
    for w in &want {
        assert!(
            errors.iter().any(|e| e.starts_with(w.as_str())),
            "missing {w:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), want.len(), "{errors:#?}");
}

#[actix_rt::test]
async fn empty_scope_on_a_token_is_an_error() {
    let d = Dir::new();
    let path = d.write(
        "t.yaml",
        "api:\n  auth:\n    tokens:\n      - {name: ci, sha256: \"00\", role: viewer, services: []}\n      - {name: all, sha256: \"11\", role: viewer}\n",
    );
    let errors = load_err(&[path.clone()]).await;
    let e = one_error(&errors);
    assert!(
        e.starts_with(&format!("{path}:4:"))
            && e.contains("\"services: []\" gives this token no service"),
        "{e}"
    );
}

#[actix_rt::test]
async fn numeric_user_without_passwd_entry_needs_a_group() {
    let d = Dir::new();
    let path = d.write(
        "u.yaml",
        "services:\n  a:\n    command: [\"true\"]\n    user: \"3999871\"\n  b:\n    command: [\"true\"]\n    user: \"3999871\"\n    group: \"3999871\"\n",
    );
    let errors = load_err(&[path.clone()]).await;
    let e = one_error(&errors);
    assert!(
        e.starts_with(&format!("{path}:4:11:")) && e.contains("set \"group\""),
        "{e}"
    );
}

#[actix_rt::test]
async fn insecure_listeners_are_reported_at_their_entry() {
    let d = Dir::new();
    let path = d.write(
        "l.yaml",
        "api:\n  listen:\n    - \"unix:///tmp/x.sock\"\n    - \"0.0.0.0:9900\"\nmetrics:\n  listen: \"[::]:9100\"\n",
    );
    let errors = load_err(&[path.clone()]).await;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "{path}:4:7: insecure listener refused: \"0.0.0.0:9900\""
        )),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with(&format!(
            "{path}:6:11: insecure listener refused: metrics.listen"
        )),
        "{errors:#?}"
    );
    // Loopback, or explicitly insecure: accepted.
    let ok = d.write(
        "ok.yaml",
        "api: {listen: [\"127.0.0.1:9900\", \"0.0.0.0:1\"], insecure: true}\n",
    );
    load_ok(&[ok]).await;
}

#[actix_rt::test]
async fn long_toml_line_is_read_in_linear_time() {
    // Every value's column used to be counted from the start of the text:
    // 249,000 values on one line took 45 s; now well under a second.
    let d = Dir::new();
    let items = vec!["\"x\""; 200_000].join(",");
    let path = d.write(
        "long.toml",
        &format!("[notifiers.n.command]\ncommand = [{items}]\n"),
    );
    let started = std::time::Instant::now();
    let loaded = load_ok(&[path]).await;
    assert!(loaded.config.notifiers.contains_key("n"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn cpu_limit_must_be_a_positive_number_of_cores() {
    let d = Dir::new();
    for value in ["0", "-1.5", "1e9"] {
        let path = d.write(
            "c.yaml",
            &format!("services:\n  a:\n    command: [\"true\"]\n    limits: {{cpu: {value}}}\n"),
        );
        let errors = load_err(&[path.clone()]).await;
        let e = one_error(&errors);
        assert!(
            e.starts_with(&format!("{path}:4:")) && e.contains("use a number of cores"),
            "{value}: {e}"
        );
    }
    let path = d.write(
        "ok.yaml",
        "services:\n  a: {command: [\"true\"], limits: {cpu: 0.5}}\n",
    );
    load_ok(&[path]).await;
}
