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

/// The default API socket path: `oneinit.sock` in the runtime directory.
pub fn default_socket() -> PathBuf {
    runtime_dir().join("oneinit.sock")
}

fn dir_writable(p: &Path) -> bool {
    p.is_dir() && nix::unistd::access(p, nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK).is_ok()
}
