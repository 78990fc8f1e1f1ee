//! Secrets in oneinit's environment (SPEC 9): the variables named by
//! `api.auth.tokens[].token_env`, `ONECLI_TOKEN` and the top-level
//! `secrets_env` never reach a child process (service, exec check, notifier
//! command) unless a service names them explicitly in `environment:`
//! (`X: ${X}`, expanded by the config loader as any other value).
//!
//! How: oneinit's own environment is left as it is, and every environment
//! built for a child starts from `inherited_vars()`, which leaves the secret
//! names out. Removing them from the process environment instead
//! (`unsetenv`) would race with `getenv` in threads that already exist (the
//! runtime's blocking pool, the resolver) — undefined behaviour in glibc,
//! which is why Rust 2024 makes `remove_var` unsafe — and would make
//! `${X}` and `token_env` fail on the next reload. The set of names only
//! grows: a name that was a secret once stays one until oneinit exits.

use crate::model::config::Config;
use std::collections::BTreeSet;
use std::sync::RwLock;

/// The client's token variable; a secret whether or not the config names it.
pub const ONECLI_TOKEN: &str = "ONECLI_TOKEN";

static NAMES: RwLock<BTreeSet<String>> = RwLock::new(BTreeSet::new());

/// The secret variable names a configuration declares: every `token_env`,
/// every `secrets_env` entry, and `ONECLI_TOKEN`.
pub fn names_in(config: &Config) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = config.secrets_env.iter().cloned().collect();
    if let Some(auth) = &config.api.auth {
        names.extend(auth.tokens.iter().filter_map(|t| t.token_env.clone()));
    }
    names.insert(ONECLI_TOKEN.to_string());
    names
}

/// Adds the secret names of `config` (at start and on every reload).
pub fn protect(config: &Config) {
    let new = names_in(config);
    match NAMES.write() {
        Ok(mut names) => names.extend(new),
        Err(poisoned) => poisoned.into_inner().extend(new),
    }
}

/// Is `name` a secret that children must not inherit?
pub fn is_secret(name: &str) -> bool {
    if name == ONECLI_TOKEN {
        return true;
    }
    match NAMES.read() {
        Ok(names) => names.contains(name),
        Err(poisoned) => poisoned.into_inner().contains(name),
    }
}

/// oneinit's environment as children may inherit it: UTF-8 variables,
/// secrets left out.
pub fn inherited_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !is_secret(k))
        .collect()
}

/// One variable as a child may inherit it (None for a secret).
pub fn inherited_var(name: &str) -> Option<String> {
    if is_secret(name) {
        return None;
    }
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{AuthConfig, Role, TokenConfig};

    #[test]
    fn config_names_and_filter() {
        let mut config = Config {
            secrets_env: vec!["ONEINIT_TEST_SECRET_DB".into()],
            ..Default::default()
        };
        config.api.auth = Some(AuthConfig {
            tokens: vec![TokenConfig {
                name: "adm".into(),
                sha256: None,
                token_file: None,
                token_env: Some("ONEINIT_TEST_SECRET_ADM".into()),
                role: Role::Admin,
                services: vec![],
            }],
            ..Default::default()
        });
        let names = names_in(&config);
        for n in [
            "ONEINIT_TEST_SECRET_DB",
            "ONEINIT_TEST_SECRET_ADM",
            ONECLI_TOKEN,
        ] {
            assert!(names.contains(n), "{n}");
        }
        std::env::set_var("ONEINIT_TEST_SECRET_ADM", "s3cret");
        std::env::set_var("ONEINIT_TEST_NOT_SECRET", "plain");
        assert_eq!(
            inherited_var("ONEINIT_TEST_SECRET_ADM").as_deref(),
            Some("s3cret")
        );
        protect(&config);
        assert_eq!(inherited_var("ONEINIT_TEST_SECRET_ADM"), None);
        let vars = inherited_vars();
        assert!(vars.iter().all(|(k, _)| k != "ONEINIT_TEST_SECRET_ADM"));
        assert!(vars
            .iter()
            .any(|(k, v)| k == "ONEINIT_TEST_NOT_SECRET" && v == "plain"));
        // Still readable by oneinit itself (token_env, `${X}` on reload).
        assert_eq!(
            std::env::var("ONEINIT_TEST_SECRET_ADM").as_deref(),
            Ok("s3cret")
        );
    }
}
