//! Config budgets, range checks and access rules against the real binary
//! (SPEC 2, 9; issue 15 items 3 and 5): `oneinit check` (and a start) exit 2
//! with one compiler-style line naming the source, in bounded time and
//! memory, for inputs that used to abort, hang or be accepted.

use crate::util;

use std::process::Command;
use std::time::{Duration, Instant};
use util::{run_bounded, run_oneinit, TestDir, BIN};

const TIMEOUT: Duration = Duration::from_secs(30);

/// `oneinit check --config PATH` with its address space capped at 1 GiB,
/// so an unbounded expansion fails the test instead of the machine.
fn check_capped(path: &str) -> util::Output {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -v 1048576 && exec \"$0\" check --config \"$1\"",
        BIN,
        path,
    ])
    .env_remove("ONEINIT_CONFIG");
    run_bounded(&mut cmd, TIMEOUT)
}

fn expect_one_error(out: &util::Output, prefix: &str, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].starts_with(prefix) && lines[0].contains(needle),
        "want {prefix}…{needle}, got {out:?}"
    );
}

/// The 365-byte file of issue 15: nine levels of ten aliases.
fn alias_bomb() -> String {
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

#[test]
fn alias_bomb_is_a_clear_error_in_bounded_time_and_memory() {
    let d = TestDir::new();
    let path = d.write("bomb.yaml", &alias_bomb()).display().to_string();
    let started = Instant::now();
    let out = check_capped(&path);
    expect_one_error(&out, &format!("{path}:"), "after YAML aliases are expanded");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn alias_bomb_in_an_include_names_the_included_file() {
    let d = TestDir::new();
    let bomb = d
        .write("conf.d/bomb.yaml", &alias_bomb())
        .display()
        .to_string();
    let top = d
        .write("top.yaml", "include: [\"conf.d/*.yaml\"]\nservices: {}\n")
        .display()
        .to_string();
    let out = check_capped(&top);
    expect_one_error(
        &out,
        &format!("{bomb}:"),
        "more than 250000 keys and values",
    );
}

#[test]
fn deep_nesting_is_refused_in_every_format() {
    let d = TestDir::new();
    for (name, text) in [
        (
            "deep.yaml",
            format!("services: {}{}\n", "[".repeat(80), "]".repeat(80)),
        ),
        (
            "deep.json",
            format!("{{\"services\": {}{}}}", "[".repeat(80), "]".repeat(80)),
        ),
        (
            "deep.toml",
            format!("services = {}{}\n", "[".repeat(70), "]".repeat(70)),
        ),
    ] {
        let path = d.write(name, &text).display().to_string();
        let out = check_capped(&path);
        expect_one_error(
            &out,
            &format!("{path}:1:"),
            "nested more than 64 levels deep",
        );
    }
    // Far deeper than any parser's own limit: an error, never a crash.
    for (name, text) in [
        (
            "deeper.yaml",
            format!("a: {}{}\n", "[".repeat(200_000), "]".repeat(200_000)),
        ),
        (
            "deeper.json",
            format!("{{\"a\": {}{}}}", "[".repeat(200_000), "]".repeat(200_000)),
        ),
        (
            "deeper.toml",
            format!("a = {}{}\n", "[".repeat(200_000), "]".repeat(200_000)),
        ),
    ] {
        let path = d.write(name, &text).display().to_string();
        let out = check_capped(&path);
        assert_eq!(out.code, Some(2), "{name}: {out:?}");
        assert!(
            out.stderr.starts_with(&format!("{path}:1:")),
            "{name}: {out:?}"
        );
    }
}

#[test]
fn oversize_document_is_refused() {
    let d = TestDir::new();
    let filler = format!("# {}\n", "x".repeat(1022));
    let text = format!("services: {{}}\n{}", filler.repeat(11 * 1024));
    let path = d.write("big.yaml", &text).display().to_string();
    let out = check_capped(&path);
    expect_one_error(
        &out,
        &format!("{path}: the document is too large"),
        "split it",
    );
}

#[test]
fn endless_file_is_refused_without_reading_it_all() {
    let out = check_capped("/dev/zero");
    expect_one_error(&out, "/dev/zero: the document is too large", "limit");
}

#[test]
fn huge_sweep_grace_is_refused_at_check_time() {
    // Accepted before, and `Instant + grace` panicked at shutdown.
    let d = TestDir::new();
    let path = d
        .write("g.yaml", "shutdown:\n  sweep_grace: 18446744073709551615\n")
        .display()
        .to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], TIMEOUT);
    expect_one_error(&out, &format!("{path}:2:16:"), "longer than the maximum");
}

#[test]
fn zero_health_interval_is_refused_with_the_minimum() {
    let d = TestDir::new();
    let path = d
        .write(
            "h.yaml",
            "services:\n  web:\n    command: [\"sleep\", \"60\"]\n    health:\n      - exec: {command: [\"true\"]}\n        interval: 0\n",
        )
        .display()
        .to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], TIMEOUT);
    expect_one_error(
        &out,
        &format!("{path}:6:19: \"health[0].interval\" of service \"web\" is 0s"),
        "the minimum is 100ms",
    );
}

#[test]
fn insecure_listener_is_refused_at_its_entry_by_check_and_start() {
    let d = TestDir::new();
    let path = d
        .write(
            "l.yaml",
            "api:\n  listen: [\"unix:///nonexistent/x.sock\", \"0.0.0.0:0\"]\nservices: {}\n",
        )
        .display()
        .to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], TIMEOUT);
    expect_one_error(
        &out,
        &format!("{path}:2:42: insecure listener refused"),
        "api.insecure: true",
    );
    // A start refuses it the same way, before anything runs.
    let out = run_oneinit(&["--config", &path], &[], TIMEOUT);
    expect_one_error(
        &out,
        &format!("{path}:2:42: insecure listener refused"),
        "api.insecure: true",
    );
}

#[test]
fn empty_token_scope_is_a_config_error() {
    let d = TestDir::new();
    let path = d
        .write(
            "t.yaml",
            "api:\n  auth:\n    tokens:\n      - name: ci\n        sha256: \"00\"\n        role: operator\n        services: []\n",
        )
        .display()
        .to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], TIMEOUT);
    expect_one_error(
        &out,
        &format!("{path}:7:19:"),
        "gives this token no service",
    );
}

#[test]
fn metrics_path_with_pattern_braces_is_refused() {
    // The router read `{x` as a malformed pattern and panicked in every
    // API worker at start.
    let d = TestDir::new();
    let path = d
        .write("m.yaml", "metrics:\n  path: \"/{x\"\n")
        .display()
        .to_string();
    let out = run_oneinit(&["check", "--config", &path], &[], TIMEOUT);
    expect_one_error(
        &out,
        &format!("{path}:2:9: metrics.path"),
        "plain absolute path",
    );
}

/// An include whose read never ends (a FIFO nobody writes to) stopped the
/// start for good, and `oneinit check` too; now both end with exit 2 after
/// the 10 s read timeout, naming the include.
#[test]
fn an_include_whose_read_never_ends_is_an_error_not_a_hang() {
    let d = TestDir::new();
    let fifo = d.path().join("never.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let path = d
        .write(
            "c.yaml",
            "include: [never.yaml]\nservices:\n  a: {command: [sleep, \"1\"]}\n",
        )
        .display()
        .to_string();
    for args in [vec!["check", "--config", &path], vec!["--config", &path]] {
        let out = run_oneinit(&args, &[], TIMEOUT);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(&format!("{path}:1:"))
                && out.stderr.contains("did not end within 10s")
                && out.stderr.contains("include regular files"),
            "{args:?}: {out:?}"
        );
    }
}

/// Two links back to their own folder and 30 levels of `*`: the glob crate
/// walked 2^30 paths (the start never came); now the walk stops after its
/// budget of directory entries with exit 2 and a line that says what to do.
#[test]
fn an_include_glob_that_reaches_everywhere_is_refused_quickly() {
    let d = TestDir::new();
    std::os::unix::fs::symlink(".", d.path().join("a")).expect("symlink");
    std::os::unix::fs::symlink(".", d.path().join("b")).expect("symlink");
    let pattern = format!("{}x.yaml", "*/".repeat(30));
    let path = d
        .write("c.yaml", &format!("include: [\"{pattern}\"]\n"))
        .display()
        .to_string();
    let out = check_capped(&path);
    expect_one_error(
        &out,
        &format!("{path}:1:11: include pattern \"{pattern}\" is too broad"),
        "name the folder to search",
    );
}
