//! Resolving `user` / `group` names to ids and supplementary groups
//! (initgroups semantics, from /etc/passwd and /etc/group via NSS).

use nix::unistd::{getgrouplist, Gid, Group, Uid, User};
use std::ffi::CString;

/// Who a service runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub name: Option<String>,
    pub home: Option<String>,
}

/// A `user` or `group` that cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("user {0:?} does not exist")]
    NoSuchUser(String),
    #[error("group {0:?} does not exist")]
    NoSuchGroup(String),
    /// A uid with no passwd entry has no primary group; oneinit's own
    /// (root's, in a container) would be a silent privilege.
    #[error("user {0:?} has no entry in /etc/passwd, so it has no primary group; set `group` too")]
    NoPrimaryGroup(String),
    #[error("cannot look up user {name:?}: {errno}")]
    UserLookup { name: String, errno: nix::Error },
    #[error("cannot look up uid {uid}: {errno}")]
    UidLookup { uid: u32, errno: nix::Error },
    #[error("cannot look up group {name:?}: {errno}")]
    GroupLookup { name: String, errno: nix::Error },
}

/// For callers whose errors are still messages (`service::plan`).
impl From<IdentityError> for String {
    fn from(e: IdentityError) -> String {
        e.to_string()
    }
}

/// Resolves a user (name or uid) and an optional group (name or gid).
/// The group defaults to the user's primary group; supplementary groups
/// come from /etc/group.
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<Identity>, IdentityError> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let (uid, primary_gid, name, home) = match user {
        Some(u) => {
            let found = lookup_user(u)?;
            match found {
                Some(pw) => (
                    pw.uid.as_raw(),
                    Some(pw.gid.as_raw()),
                    Some(pw.name),
                    Some(pw.dir.to_string_lossy().into_owned()),
                ),
                None => match u.parse::<u32>() {
                    Ok(n) => (n, None, None, None),
                    Err(_) => return Err(IdentityError::NoSuchUser(u.to_string())),
                },
            }
        }
        None => (nix::unistd::getuid().as_raw(), None, None, None),
    };
    let gid = match (group, primary_gid) {
        (Some(g), _) => lookup_group(g)?,
        (None, Some(gid)) => gid,
        (None, None) if user.is_none() => nix::unistd::getgid().as_raw(),
        (None, None) => {
            return Err(IdentityError::NoPrimaryGroup(
                user.unwrap_or_default().to_string(),
            ))
        }
    };
    let mut groups = vec![gid];
    if let Some(n) = &name {
        if let Ok(c) = CString::new(n.as_str()) {
            if let Ok(list) = getgrouplist(&c, Gid::from_raw(gid)) {
                groups = list.into_iter().map(|g| g.as_raw()).collect();
            }
        }
    }
    Ok(Some(Identity {
        uid,
        gid,
        groups,
        name,
        home,
    }))
}

fn lookup_user(u: &str) -> Result<Option<User>, IdentityError> {
    let by_name = User::from_name(u).map_err(|errno| IdentityError::UserLookup {
        name: u.to_string(),
        errno,
    })?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    match u.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n))
            .map_err(|errno| IdentityError::UidLookup { uid: n, errno }),
        Err(_) => Ok(None),
    }
}

fn lookup_group(g: &str) -> Result<u32, IdentityError> {
    let found = Group::from_name(g).map_err(|errno| IdentityError::GroupLookup {
        name: g.to_string(),
        errno,
    })?;
    if let Some(gr) = found {
        return Ok(gr.gid.as_raw());
    }
    g.parse::<u32>()
        .map_err(|_| IdentityError::NoSuchGroup(g.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uid no passwd file on a test machine has.
    const NO_SUCH_UID: &str = "3999871";

    #[test]
    fn numeric_user_without_passwd_entry_needs_a_group() {
        let err = resolve(Some(NO_SUCH_UID), None).unwrap_err();
        assert!(err.to_string().contains("set `group`"), "{err}");
        let id = resolve(Some(NO_SUCH_UID), Some("3999871"))
            .unwrap()
            .unwrap();
        assert_eq!((id.uid, id.gid), (3_999_871, 3_999_871));
        // A user with an entry keeps its primary group.
        let root = resolve(Some("0"), None).unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
    }
}
