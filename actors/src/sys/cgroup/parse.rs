//! Parsing of /proc/self/mountinfo (where the cgroup hierarchies are
//! mounted) and /proc/self/cgroup (where this process sits in each).

use std::path::PathBuf;

/// One line of /proc/self/mountinfo that is a cgroup mount.
#[derive(Debug, PartialEq)]
pub(super) struct CgroupMount {
    pub point: PathBuf,
    /// `cgroup2`, or the v1 controllers in its super options.
    pub v2: bool,
    pub controllers: Vec<String>,
}

pub(super) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let _source = r.next();
        let opts = r.next().unwrap_or_default();
        let point = PathBuf::from(unescape_mount(point));
        match fstype {
            "cgroup2" => out.push(CgroupMount {
                point,
                v2: true,
                controllers: Vec::new(),
            }),
            "cgroup" => out.push(CgroupMount {
                point,
                v2: false,
                controllers: opts.split(',').map(str::to_string).collect(),
            }),
            _ => {}
        }
    }
    out
}

/// mountinfo escapes spaces etc. as `\040`.
pub(super) fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(n) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/proc/self/cgroup`: (controllers, path) per line; v2 has no controllers.
pub(super) fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some((ctrls, path.to_string()))
        })
        .collect()
}
