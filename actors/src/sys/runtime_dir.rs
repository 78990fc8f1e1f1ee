//! Where oneinit keeps its runtime files (API socket, NOTIFY_SOCKET, state):
//! `$ONEINIT_RUNTIME_DIR`, else `/run/oneinit` when writable, else
//! `$XDG_RUNTIME_DIR/oneinit`, else `/tmp/oneinit-$UID` (SPEC 1). onecli finds
//! the default socket by the same rule.

use std::path::{Path, PathBuf};

/// The runtime directory for this process, by the SPEC rule. Does not create it.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ONEINIT_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let run = Path::new("/run/oneinit");
    if dir_writable(run) || (!run.exists() && dir_writable(Path::new("/run"))) {
        return run.to_path_buf();
    }
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let base = PathBuf::from(xdg);
        if dir_writable(&base) {
            return base.join("oneinit");
        }
    }
    PathBuf::from(format!("/tmp/oneinit-{}", nix::unistd::getuid()))
}

/// Finds and creates the runtime directory (0755 for /run/oneinit, 0700
/// elsewhere), falling back along the SPEC chain when a candidate cannot be
/// created (read-only root, non-root user).
pub fn ensure_runtime_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ONEINIT_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        candidates.push((PathBuf::from(dir), 0o700));
    } else {
        candidates.push((PathBuf::from("/run/oneinit"), 0o755));
        if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            candidates.push((PathBuf::from(xdg).join("oneinit"), 0o700));
        }
        candidates.push((
            PathBuf::from(format!("/tmp/oneinit-{}", nix::unistd::getuid())),
            0o700,
        ));
    }
    let mut last_err = None;
    for (dir, mode) in candidates {
        if dir_writable(&dir) {
            return Ok(dir);
        }
        match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&dir)
        {
            Ok(()) if dir_writable(&dir) => return Ok(dir),
            Ok(()) => {}
            Err(e) => {
                last_err = Some(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no writable runtime directory")))
}

/// The default API socket path: `oneinit.sock` in the runtime directory.
pub fn default_socket() -> PathBuf {
    runtime_dir().join("oneinit.sock")
}

fn dir_writable(p: &Path) -> bool {
    p.is_dir()
        && nix::unistd::access(
            p,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok()
}
