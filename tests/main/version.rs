//! `oneinit --version` and `onecli --version` (SPEC 9): the version, the git
//! commit the binary was built from and the target triple, e.g.
//! `oneinit 0.1.0 (abc1234, x86_64-unknown-linux-gnu)`.

use crate::util;

use std::process::Command;

fn version_line(bin: &str) -> String {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(out.status.success(), "{bin} --version failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// `NAME VERSION (COMMIT, TARGET)` with a 7-hex-digit commit (or `unknown`).
fn check(line: &str, name: &str) {
    let rest = line
        .strip_prefix(&format!("{name} {} (", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("unexpected version line: {line}"));
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", "))
        .unwrap_or_else(|| panic!("unexpected version line: {line}"));
    assert!(
        commit == "unknown" || (commit.len() == 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "commit in {line}"
    );
    let arch = std::env::consts::ARCH;
    assert!(
        target.starts_with(&format!("{arch}-unknown-linux-"))
            && (target.ends_with("-gnu") || target.ends_with("-musl")),
        "target in {line}"
    );
}

#[test]
fn oneinit_and_onecli_print_version_commit_and_target() {
    check(&version_line(util::BIN), "oneinit");
    check(&version_line(env!("CARGO_BIN_EXE_onecli")), "onecli");
}
