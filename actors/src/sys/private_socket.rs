//! A unix listening socket that is private from its first moment: bound
//! under umask 0177, so the socket file is created with mode 0600 before
//! `listen()` (std's `UnixListener::bind` binds and listens in one call;
//! a chmod afterwards leaves a window in which any local user can connect).

use nix::sys::stat::{umask, Mode};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// Binds `path` with mode 0600. The umask is process-wide: call this during
/// start-up, before service processes are spawned (children never see the
/// temporary umask: it is restored before this returns).
pub fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    let old = umask(Mode::from_bits_truncate(0o177));
    let result = UnixListener::bind(path);
    umask(old);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn socket_is_0600_and_umask_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let before = umask(Mode::from_bits_truncate(0o022));
        umask(before);
        let _l = bind_private(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let after = umask(before);
        assert_eq!(after, before);
    }
}
