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

/// Resolves a user (name or uid) and an optional group (name or gid).
/// The group defaults to the user's primary group; supplementary groups
/// come from /etc/group.
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<Identity>, String> {
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
                    Err(_) => return Err(format!("user {u:?} does not exist")),
                },
            }
        }
        None => (nix::unistd::getuid().as_raw(), None, None, None),
    };
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => primary_gid.unwrap_or(nix::unistd::getgid().as_raw()),
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

fn lookup_user(u: &str) -> Result<Option<User>, String> {
    let by_name = User::from_name(u).map_err(|e| format!("cannot look up user {u:?}: {e}"))?;
    if by_name.is_some() {
        return Ok(by_name);
    }
    match u.parse::<u32>() {
        Ok(n) => {
            User::from_uid(Uid::from_raw(n)).map_err(|e| format!("cannot look up uid {n}: {e}"))
        }
        Err(_) => Ok(None),
    }
}

fn lookup_group(g: &str) -> Result<u32, String> {
    if let Some(gr) = Group::from_name(g).map_err(|e| format!("cannot look up group {g:?}: {e}"))? {
        return Ok(gr.gid.as_raw());
    }
    g.parse::<u32>()
        .map_err(|_| format!("group {g:?} does not exist"))
}
