//! Build information and link options of the `oneinit` and `onecli`
//! executables.
//!
//! # Version string
//!
//! `oneinit --version` prints `oneinit 0.1.0 (abc1234, x86_64-unknown-linux-musl)`:
//! the package version, the git commit the binary was built from and the
//! target triple (which says the architecture and glibc or musl). The commit
//! comes from `$ONEINIT_GIT_COMMIT` when set (a build from a tarball or a
//! Docker context without `.git` can pass it in), else from `git`, else it
//! is `unknown`.
//!
//! # Link options
//!
//! glibc builds are linked as position-dependent executables (`-no-pie`). A
//! PIE must be relocated at every start: the loader reads ~1 MiB of
//! relocation records and writes every pointer of `.data.rel.ro` (vtables,
//! static tables; ~1.3 MiB here), so both stay resident for the life of
//! PID 1 — about 2 MiB of a supervisor whose whole RSS target is 8 MiB. The
//! cost is that the executable itself loads at a fixed address (shared
//! libraries, the heap and the stacks are still randomized).
//!
//! `ONEINIT_PIE=1 cargo build ...` links a PIE instead, with packed
//! relative relocations (DT_RELR, glibc ≥ 2.36), which keeps ASLR for the
//! executable at about 0.8 MiB more RSS (measured with 100 services).
//!
//! musl builds (`scripts/build-static.sh`) are fully static. rustc links them
//! as static-pie by default, which has the same start-up relocation cost;
//! `.cargo/config.toml` sets `-C relocation-model=static` for the musl
//! targets, and rustc then links a plain static executable (`-static
//! -no-pie`) by itself, so no link argument is added here. Nothing is
//! loaded at run time, so there is no library address to randomize either.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_options();
    version_info();
}

fn link_options() {
    println!("cargo:rerun-if-env-changed=ONEINIT_PIE");
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if env == "musl" {
        return;
    }
    if std::env::var_os("ONEINIT_PIE").is_some_and(|v| v == "1") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    } else {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

/// Sets `ONEINIT_GIT_COMMIT` and `ONEINIT_TARGET` for `env!` in the crate.
fn version_info() {
    println!("cargo:rerun-if-env-changed=ONEINIT_GIT_COMMIT");
    let commit = std::env::var("ONEINIT_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ONEINIT_GIT_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=ONEINIT_TARGET={target}");
}

/// The short commit of HEAD, and the files to watch so a new commit
/// re-runs this script. `None` outside a git checkout or without git.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    // Only the repository this crate lives in: a tarball unpacked inside some
    // other checkout must not report that checkout's commit.
    let toplevel = git(&["rev-parse", "--show-toplevel"])?;
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    if std::fs::canonicalize(&toplevel).ok()? != std::fs::canonicalize(&manifest).ok()? {
        return None;
    }
    let commit = git(&["rev-parse", "--short=7", "HEAD"])?;
    // HEAD moves on checkout; the branch ref (loose or packed) on commit.
    // Only existing files: cargo re-runs the script every time for a
    // missing one.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in watch {
        if let Some(p) = git(&["rev-parse", "--git-path", &path]) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    Some(commit)
}
