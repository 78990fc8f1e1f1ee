//! Where oneinit keeps its runtime files (API socket, NOTIFY_SOCKET, state):
//! `$ONEINIT_RUNTIME_DIR`, else `/run/oneinit` when writable, else
//! `$XDG_RUNTIME_DIR/oneinit`, else `/tmp/oneinit-$UID` (SPEC 1). onecli finds
//! the default socket by the same rule.
//!
//! A directory that exists but is not owned by oneinit's uid, or is group-
//! or world-writable, is skipped with a warning (SPEC 9): another user could
//! have planted it to receive the socket that onecli sends its token to.
//! An explicit `$ONEINIT_RUNTIME_DIR` that fails the check is an error.

use std::path::{Path, PathBuf};

/// The runtime directory for this process, by the SPEC rule. Does not create it.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ONEINIT_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let run = Path::new("/run/oneinit");
    if (dir_writable(run) && check_owner(run, &[own_uid()]).is_ok())
        || (!run.exists() && dir_writable(Path::new("/run")))
    {
        return run.to_path_buf();
    }
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let base = PathBuf::from(xdg);
        let dir = base.join("oneinit");
        if dir_writable(&base) && (!dir.exists() || check_owner(&dir, &[own_uid()]).is_ok()) {
            return dir;
        }
    }
    PathBuf::from(format!("/tmp/oneinit-{}", nix::unistd::getuid()))
}

fn own_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// Why a runtime directory is not safe to use.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeDirError {
    #[error("runtime directory {}: {source}", dir.display())]
    Unreadable {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("runtime directory {} is not a directory (a symlink or file); remove it", dir.display())]
    NotADirectory { dir: PathBuf },
    #[error(
        "runtime directory {} is owned by uid {uid}, not {expected}; another user may have created it: \
         remove it or set ONEINIT_RUNTIME_DIR to a folder of your own",
        dir.display()
    )]
    ForeignOwner {
        dir: PathBuf,
        uid: u32,
        /// The uids that may own it, as "1000 or 0".
        expected: String,
    },
    #[error(
        "runtime directory {} is group- or world-writable (mode {mode:o}); chmod go-w it or \
         set ONEINIT_RUNTIME_DIR to a private folder",
        dir.display()
    )]
    Writable { dir: PathBuf, mode: u32 },
}

/// Ok when `dir` is a real directory (not a symlink) owned by one of
/// `owners` and not writable by group or others; else why not.
pub fn check_owner(dir: &Path, owners: &[u32]) -> Result<(), RuntimeDirError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|source| RuntimeDirError::Unreadable {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(RuntimeDirError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    if !owners.contains(&meta.uid()) {
        return Err(RuntimeDirError::ForeignOwner {
            dir: dir.to_path_buf(),
            uid: meta.uid(),
            expected: owners
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(RuntimeDirError::Writable {
            dir: dir.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// What a client (onecli) checks before it sends a token over the unix
/// socket at `socket`: the socket's folder belongs to the client's own uid
/// or root and no one else can write to it.
pub fn check_socket_dir(socket: &Path) -> Result<(), RuntimeDirError> {
    let dir = socket.parent().unwrap_or(Path::new("/"));
    check_owner(dir, &[own_uid(), 0])
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
    let explicit = std::env::var_os("ONEINIT_RUNTIME_DIR").is_some_and(|d| !d.is_empty());
    let mut last_err = None;
    for (dir, mode) in candidates {
        if dir.exists() {
            match check_owner(&dir, &[own_uid()]) {
                Ok(()) if dir_writable(&dir) => return Ok(dir),
                Ok(()) => continue,
                Err(e) if explicit => {
                    return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))
                }
                Err(e) => {
                    eprintln!("warning: {e}; skipping it");
                    last_err = Some(std::io::Error::new(std::io::ErrorKind::PermissionDenied, e));
                    continue;
                }
            }
        }
        match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&dir)
        {
            Ok(()) if dir_writable(&dir) && check_owner(&dir, &[own_uid()]).is_ok() => {
                return Ok(dir)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn owner_and_mode_checks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("rt");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_owner(&dir, &[own_uid()]).is_ok());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_owner(&dir, &[own_uid()]).unwrap_err();
        assert!(e.to_string().contains("world-writable"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_owner(&dir, &[own_uid().wrapping_add(1)]).unwrap_err();
        assert!(e.to_string().contains("owned by uid"), "{e}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check_owner(&link, &[own_uid()]).is_err());
    }
}
