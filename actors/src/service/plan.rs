//! Turns a service's config into a `SpawnSpec` for one instance: argv,
//! environment (inherited, `env_file`, `environment`, ONEINIT_*), identity,
//! umask and workdir. Errors (`PlanError`) are sentences that name the
//! offending key.

use crate::model::config::ServiceConfig;
use crate::sys::identity;
use crate::sys::spawn::SpawnSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Variables oneinit sets or owns; never inherited from oneinit's own env.
const OWN_VARS: &[&str] = &[
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// Why a service's config cannot be turned into a spawn. Shown as the
/// `cannot start` sentence of the service (and counted as exit code 126).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `command` cannot be run as written (the sentence names the key).
    #[error(transparent)]
    Command(#[from] crate::model::config::CommandError),
    /// `user` or `group` cannot be looked up.
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error("cannot run as user {user:?}: oneinit runs as uid {uid}, not root; remove `user`/`group` or start oneinit as root")]
    NotRoot { user: String, uid: u32 },
    #[error("env_file {path}: {source}")]
    EnvFile {
        path: String,
        source: std::io::Error,
    },
    #[error("readiness.notify needs the runtime directory: {0}")]
    RuntimeDir(#[source] std::io::Error),
    #[error("umask {0:?} is not an octal number such as \"0022\"")]
    Umask(String),
}

/// The `user` (or `group`) named by the config, for messages.
fn named_user(cfg: &ServiceConfig) -> String {
    cfg.user
        .as_deref()
        .or(cfg.group.as_deref())
        .unwrap_or_default()
        .to_string()
}

/// Checks at start that the service's `user`/`group` exist and can be
/// switched to (oneinit must be root to run a service as another user).
pub fn check_identity(cfg: &ServiceConfig) -> Result<(), PlanError> {
    let ident = identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())
        .map_err(PlanError::Identity)?;
    let my_uid = nix::unistd::getuid().as_raw();
    match ident {
        Some(id)
            if my_uid != 0 && (id.uid != my_uid || id.gid != nix::unistd::getgid().as_raw()) =>
        {
            Err(PlanError::NotRoot {
                user: named_user(cfg),
                uid: my_uid,
            })
        }
        _ => Ok(()),
    }
}

/// Builds the spawn spec of instance `instance` of `name`.
pub fn spawn_spec(name: &str, cfg: &ServiceConfig, instance: u64) -> Result<SpawnSpec, PlanError> {
    let argv = cfg.command.argv(cfg.shell).map_err(PlanError::Command)?;
    let ident = identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())
        .map_err(PlanError::Identity)?;
    let my_uid = nix::unistd::getuid().as_raw();
    let switch = match &ident {
        Some(id) if id.uid != my_uid || id.gid != nix::unistd::getgid().as_raw() => {
            if my_uid != 0 {
                return Err(PlanError::NotRoot {
                    user: named_user(cfg),
                    uid: my_uid,
                });
            }
            true
        }
        _ => false,
    };
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if cfg.inherit_env {
        // Secrets (`token_env`, `secrets_env`, ONECLI_TOKEN) are left out.
        for (k, v) in crate::secrets::inherited_vars() {
            if !OWN_VARS.contains(&k.as_str()) {
                env.insert(k, v);
            }
        }
    } else {
        for k in ["PATH", "LANG"] {
            if let Some(v) = crate::secrets::inherited_var(k) {
                env.insert(k.into(), v);
            }
        }
        env.entry("PATH".into()).or_insert_with(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        match &ident {
            Some(id) => {
                if let Some(home) = &id.home {
                    env.insert("HOME".into(), home.clone());
                }
                if let Some(user) = &id.name {
                    env.insert("USER".into(), user.clone());
                }
            }
            None => {
                for k in ["HOME", "USER"] {
                    if let Some(v) = crate::secrets::inherited_var(k) {
                        env.insert(k.into(), v);
                    }
                }
            }
        }
    }
    if switch {
        if let Some(id) = &ident {
            if let Some(home) = &id.home {
                env.insert("HOME".into(), home.clone());
            }
            if let Some(user) = &id.name {
                env.insert("USER".into(), user.clone());
                // `inherit_env: false` keeps exactly PATH, HOME, USER, LANG.
                if cfg.inherit_env {
                    env.insert("LOGNAME".into(), user.clone());
                }
            }
        }
    }
    for file in &cfg.env_file {
        let text = std::fs::read_to_string(file).map_err(|source| PlanError::EnvFile {
            path: file.clone(),
            source,
        })?;
        for (k, v) in parse_env_file(&text) {
            env.insert(k, v);
        }
    }
    for (k, v) in &cfg.environment {
        env.insert(k.clone(), v.clone());
    }
    env.insert("ONEINIT_SERVICE".into(), name.to_string());
    env.insert("ONEINIT_INSTANCE".into(), instance.to_string());
    if cfg.readiness.notify {
        // The HealthChecker bound this socket at start (same rule, same dir).
        let dir = crate::sys::runtime_dir::ensure_runtime_dir().map_err(PlanError::RuntimeDir)?;
        let path = crate::sys::notify_socket::socket_path(&dir, name);
        env.insert("NOTIFY_SOCKET".into(), path.to_string_lossy().into_owned());
    }

    let umask = cfg
        .umask
        .as_deref()
        .map(|u| {
            u32::from_str_radix(u.trim_start_matches("0o"), 8)
                .map_err(|_| PlanError::Umask(u.to_string()))
        })
        .transpose()?;
    Ok(SpawnSpec {
        argv,
        env: env.into_iter().collect(),
        workdir: cfg.workdir.as_ref().map(PathBuf::from),
        uid: ident.as_ref().filter(|_| switch).map(|i| i.uid),
        gid: ident.as_ref().filter(|_| switch).map(|i| i.gid),
        groups: ident.map(|i| i.groups).unwrap_or_default(),
        umask,
        capture: cfg.capture(),
        no_new_privs: cfg.no_new_privs,
        ..SpawnSpec::default()
    })
}

/// `KEY=VALUE` lines; `#` comments, blank lines and `export ` are allowed;
/// one pair of surrounding quotes is removed.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = if v.len() >= 2
                && ((v.starts_with('"') && v.ends_with('"'))
                    || (v.starts_with('\'') && v.ends_with('\'')))
            {
                &v[1..v.len() - 1]
            } else {
                v
            };
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines() {
        let parsed = parse_env_file("# c\nA=1\nexport B=\"two words\"\n\nC='x=y'\nbad line\n");
        assert_eq!(
            parsed,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into())
            ]
        );
    }

    #[test]
    fn instance_environment_and_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("e.env");
        std::fs::write(&f, "X=from_file\nY=file\n").unwrap();
        let mut cfg = ServiceConfig {
            command: crate::model::config::Command::Line("echo hi".into()),
            env_file: vec![f.to_string_lossy().into()],
            ..Default::default()
        };
        cfg.environment.insert("X".into(), "from_env".into());
        cfg.inherit_env = false;
        let spec = spawn_spec("web", &cfg, 2).unwrap();
        let get = |k: &str| {
            spec.env
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("X").as_deref(), Some("from_env"));
        assert_eq!(get("Y").as_deref(), Some("file"));
        assert_eq!(get("ONEINIT_SERVICE").as_deref(), Some("web"));
        assert_eq!(get("ONEINIT_INSTANCE").as_deref(), Some("2"));
        assert!(get("PATH").is_some());
        assert_eq!(spec.argv, vec!["echo", "hi"]);
    }
}
