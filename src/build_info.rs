//! What this binary is: version, git commit and target triple, set by
//! `build.rs` (the commit is `unknown` for a build outside a git checkout).

/// `0.1.0 (abc1234, x86_64-unknown-linux-musl)`: what `--version` prints
/// after the program name.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ONEINIT_GIT_COMMIT"),
    ", ",
    env!("ONEINIT_TARGET"),
    ")"
);
