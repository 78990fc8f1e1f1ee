//! The stages of a spawned child, as the status pipe reports them.

/// The steps of the child, in order; the number is what the status pipe
/// carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Signals = 0,
    Session = 1,
    Stdio = 2,
    Sockets = 3,
    Workdir = 5,
    Rlimit = 6,
    Cgroup = 7,
    Groups = 8,
    Gid = 9,
    Uid = 10,
    Exec = 11,
    NoNewPrivs = 12,
}

impl Stage {
    const ALL: [Stage; 12] = [
        Stage::Signals,
        Stage::Session,
        Stage::Stdio,
        Stage::Sockets,
        Stage::Workdir,
        Stage::Rlimit,
        Stage::Cgroup,
        Stage::Groups,
        Stage::Gid,
        Stage::Uid,
        Stage::Exec,
        Stage::NoNewPrivs,
    ];

    pub(super) fn from_raw(n: i32) -> Stage {
        Self::ALL
            .into_iter()
            .find(|s| *s as i32 == n)
            .unwrap_or(Stage::Exec)
    }

    /// What the child was doing, for the spawn error ("... failed: errno").
    pub(super) fn describe(self) -> &'static str {
        match self {
            Stage::Signals => "resetting signals",
            Stage::Session => "setsid",
            Stage::Stdio => "redirecting stdio",
            Stage::Sockets => "passing sockets",
            Stage::Workdir => "changing to workdir",
            Stage::Rlimit => "setting a resource limit",
            Stage::Cgroup => "entering the cgroup",
            Stage::Groups => "setting groups",
            Stage::Gid => "setting the group id",
            Stage::Uid => "setting the user id",
            Stage::Exec => "exec",
            Stage::NoNewPrivs => "setting no_new_privs",
        }
    }
}
