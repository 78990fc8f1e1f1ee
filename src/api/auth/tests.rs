//! Unit tests of the authentication decisions.

use super::*;
use oneinit_actors::model::config::{ClientCertConfig, TokenConfig};

fn token(name: &str, secret: &str, role: Role, services: &[&str]) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        sha256: Some(hex::encode(Sha256::digest(secret.as_bytes()))),
        token_file: None,
        token_env: None,
        role,
        services: services.iter().map(|s| s.to_string()).collect(),
    }
}

fn auth() -> Authenticator {
    Authenticator::new(Some(&AuthConfig {
        tokens: vec![
            token("v", "view-secret", Role::Viewer, &[]),
            token("ci", "ci-secret", Role::Operator, &["web*"]),
        ],
        clients: vec![ClientCertConfig {
            cn: "admin.example.com".into(),
            role: Role::Admin,
            services: vec![],
        }],
        client_auth: None,
    }))
    .unwrap()
}

#[test]
fn globs() {
    assert!(glob_match("web*", "web"));
    assert!(glob_match("web*", "web-1"));
    assert!(!glob_match("web*", "db"));
    assert!(glob_match("*-worker", "a-worker"));
    assert!(glob_match("w?b", "web"));
    assert!(!glob_match("w?b", "weeb"));
    assert!(glob_match("*", ""));
    assert!(glob_match("a*b*c", "aXXbYYc"));
    assert!(!glob_match("a*b*c", "aXXbYY"));
}

#[test]
fn tokens_resolve_to_roles() {
    let a = auth();
    let tcp = ConnInfo::plain_tcp();
    let p = a.decide(&tcp, Some("view-secret")).unwrap();
    assert_eq!((p.name.as_str(), p.role), ("v", Role::Viewer));
    let p = a.decide(&tcp, Some("ci-secret")).unwrap();
    assert!(p.can_see("web-2") && !p.can_see("db"));
    assert_eq!(a.decide(&tcp, Some("nope")).unwrap_err().status, 401);
    assert_eq!(a.decide(&tcp, None).unwrap_err().status, 401);
}

#[test]
fn unix_peers() {
    let a = auth();
    let me = nix::unistd::getuid().as_raw();
    let p = a.decide(&ConnInfo::Unix { uid: Some(me) }, None).unwrap();
    assert_eq!(p.role, Role::Admin);
    let other = ConnInfo::Unix {
        uid: Some(me.wrapping_add(4242).max(1)),
    };
    if me != 0 {
        assert_eq!(a.decide(&other, None).unwrap_err().status, 401);
        assert_eq!(
            a.decide(&other, Some("view-secret")).unwrap().role,
            Role::Viewer
        );
    }
}

#[test]
fn client_certs() {
    let a = auth();
    let admin = ConnInfo::Tcp {
        client_cn: Some("admin.example.com".into()),
        local: None,
        tls: true,
    };
    assert_eq!(a.decide(&admin, None).unwrap().role, Role::Admin);
    let stranger = ConnInfo::Tcp {
        client_cn: Some("who".into()),
        local: None,
        tls: true,
    };
    assert_eq!(a.decide(&stranger, None).unwrap_err().status, 403);
    assert_eq!(
        a.decide(&stranger, Some("view-secret")).unwrap().role,
        Role::Viewer
    );
}

#[test]
fn no_auth_section_is_admin() {
    let a = Authenticator::new(None).unwrap();
    let p = a.decide(&ConnInfo::plain_tcp(), None).unwrap();
    assert_eq!(p.role, Role::Admin);
}

#[test]
fn roles_order() {
    let p = Principal {
        name: "x".into(),
        role: Role::Operator,
        services: vec![],
    };
    assert!(p.require(Role::Viewer).is_ok());
    assert!(p.require(Role::Operator).is_ok());
    assert_eq!(p.require(Role::Admin).unwrap_err().status, 403);
}

#[test]
fn bad_secret_sources_are_errors() {
    let mut t = token("x", "s", Role::Viewer, &[]);
    t.token_env = Some("ONEINIT_TEST_SURELY_UNSET_VAR".into());
    let cfg = AuthConfig {
        tokens: vec![t.clone()],
        ..Default::default()
    };
    assert!(Authenticator::new(Some(&cfg)).is_err());
    t.sha256 = None;
    let cfg = AuthConfig {
        tokens: vec![t],
        ..Default::default()
    };
    let err = Authenticator::new(Some(&cfg)).err().unwrap();
    assert!(matches!(err, AuthError::TokenEnvUnset { .. }), "{err}");
    assert!(
        err.to_string().contains("ONEINIT_TEST_SURELY_UNSET_VAR"),
        "{err}"
    );
}
