//! Who is calling, and may they (SPEC 4.1): bearer tokens (stored as sha256,
//! compared in constant time, never logged), mTLS client-certificate CNs,
//! unix-socket peer credentials, roles and `services` globs. The connection
//! facts come from `on_connect` (see `conn`); this module decides.

use super::conn::ConnInfo;
use super::error::HttpError;
use actix_web::HttpRequest;
use oneinit_actors::model::config::{AuthConfig, Role, TokenConfig};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// Token name, `cn:NAME`, `uid:N` or `anonymous` (for logs, never the secret).
    pub name: String,
    pub role: Role,
    /// Service-name globs this caller is limited to; empty = all.
    pub services: Vec<String>,
}

impl Principal {
    fn admin(name: String) -> Self {
        Principal {
            name,
            role: Role::Admin,
            services: Vec::new(),
        }
    }

    /// May this caller see and act on `service`?
    pub fn can_see(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|g| glob_match(g, service))
    }

    /// 403 unless the role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), HttpError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(HttpError::forbidden(format!(
                "{} has role {}, this needs {}; use a token with that role",
                self.name,
                role_name(self.role),
                role_name(needed)
            )))
        }
    }

    /// 403 unless the caller's scope covers `service`.
    pub fn require_service(&self, service: &str) -> Result<(), HttpError> {
        if self.can_see(service) {
            Ok(())
        } else {
            Err(HttpError::forbidden(format!(
                "{} is not allowed to access service {service}; its scope is {}",
                self.name,
                self.services.join(", ")
            )))
        }
    }
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Viewer => "viewer",
        Role::Operator => "operator",
        Role::Admin => "admin",
    }
}

struct TokenEntry {
    name: String,
    hash: [u8; 32],
    role: Role,
    services: Vec<String>,
}

struct ClientEntry {
    cn: String,
    role: Role,
    services: Vec<String>,
}

/// Why the secrets of `api.auth.tokens` cannot be used; each message names
/// the token and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("api.auth.tokens[{name}].sha256: not hex ({source}); give the 64-hex-digit sha256 of the token")]
    NotHex {
        name: String,
        source: hex::FromHexError,
    },
    #[error("api.auth.tokens[{name}].sha256: expected 64 hex digits (32 bytes), got {len}")]
    WrongLength { name: String, len: usize },
    #[error("api.auth.tokens[{name}].token_file: {path}: {source}")]
    TokenFile {
        name: String,
        path: String,
        source: std::io::Error,
    },
    #[error("api.auth.tokens[{name}].token_env: environment variable {var} is not set")]
    TokenEnvUnset { name: String, var: String },
    #[error("api.auth.tokens[{name}]: {from} is empty; put the token there")]
    EmptySecret { name: String, from: String },
    #[error("api.auth.tokens[{name}]: set exactly one of sha256, token_file, token_env")]
    NotOneSecret { name: String },
}

/// The resolved `api.auth` section: secrets already hashed.
pub struct Authenticator {
    /// `None`: no `auth` section; access control is the socket mode / loopback.
    enabled: bool,
    tokens: Vec<TokenEntry>,
    clients: Vec<ClientEntry>,
    own_uid: u32,
}

impl Authenticator {
    /// Reads `token_file` / `token_env` now, so a missing secret stops the start.
    pub fn new(auth: Option<&AuthConfig>) -> Result<Self, AuthError> {
        let own_uid = nix::unistd::getuid().as_raw();
        let Some(auth) = auth else {
            return Ok(Authenticator {
                enabled: false,
                tokens: Vec::new(),
                clients: Vec::new(),
                own_uid,
            });
        };
        let mut tokens = Vec::new();
        for t in &auth.tokens {
            let hash = token_hash(t)?;
            tokens.push(TokenEntry {
                name: t.name.clone(),
                hash,
                role: t.role,
                services: t.services.clone(),
            });
        }
        let clients = auth
            .clients
            .iter()
            .map(|c| ClientEntry {
                cn: c.cn.clone(),
                role: c.role,
                services: c.services.clone(),
            })
            .collect();
        Ok(Authenticator {
            enabled: true,
            tokens,
            clients,
            own_uid,
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A digest of every resolved credential (names, roles, scopes, token
    /// hashes): tells a reload whether a `token_file` or `token_env` now
    /// holds another secret. Never shown.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([self.enabled as u8]);
        for t in &self.tokens {
            h.update(t.name.as_bytes());
            h.update(t.hash);
            h.update([t.role as u8]);
            h.update(t.services.join("\0").as_bytes());
            h.update([0xff]);
        }
        for c in &self.clients {
            h.update(c.cn.as_bytes());
            h.update([c.role as u8]);
            h.update(c.services.join("\0").as_bytes());
            h.update([0xfe]);
        }
        h.finalize().into()
    }

    /// Finds the caller of `req`, or 401/403.
    pub fn authenticate(&self, req: &HttpRequest) -> Result<Principal, HttpError> {
        let conn = req
            .conn_data::<ConnInfo>()
            .cloned()
            .unwrap_or_else(ConnInfo::plain_tcp);
        let bearer = bearer_token(req)?;
        self.decide(&conn, bearer.as_deref())
    }

    /// The decision, apart from actix types (unit-tested).
    pub fn decide(&self, conn: &ConnInfo, bearer: Option<&str>) -> Result<Principal, HttpError> {
        if let ConnInfo::Unix { uid: Some(uid) } = conn {
            if *uid == 0 || *uid == self.own_uid {
                return Ok(Principal::admin(format!("uid:{uid}")));
            }
        }
        if !self.enabled {
            // No auth section: the socket mode or the loopback/insecure
            // listener check at start is the only control.
            return Ok(Principal::admin("anonymous".into()));
        }
        if let ConnInfo::Tcp {
            client_cn: Some(cn),
            ..
        } = conn
        {
            if let Some(c) = self.clients.iter().find(|c| c.cn == *cn) {
                return Ok(Principal {
                    name: format!("cn:{cn}"),
                    role: c.role,
                    services: c.services.clone(),
                });
            }
            if bearer.is_none() {
                return Err(HttpError::forbidden(format!(
                    "client certificate CN {cn:?} is not listed in api.auth.clients; ask an admin to add it"
                )));
            }
        }
        let Some(token) = bearer else {
            return Err(HttpError::unauthorized(
                "authentication required: send Authorization: Bearer TOKEN (onecli --token)",
            ));
        };
        self.match_token(token).ok_or_else(|| {
            HttpError::unauthorized(
                "invalid token: check the token (onecli --token / $ONECLI_TOKEN)",
            )
        })
    }

    /// Compares against every configured token in constant time each, and
    /// does not stop at the first match, so timing says nothing.
    fn match_token(&self, token: &str) -> Option<Principal> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for t in &self.tokens {
            let eq: bool = presented.ct_eq(&t.hash).into();
            if eq && found.is_none() {
                found = Some(Principal {
                    name: t.name.clone(),
                    role: t.role,
                    services: t.services.clone(),
                });
            }
        }
        found
    }
}

/// The sha256 of a token, from the one of `sha256`, `token_file` and
/// `token_env` it sets.
fn token_hash(t: &TokenConfig) -> Result<[u8; 32], AuthError> {
    let name = || t.name.clone();
    match (&t.sha256, &t.token_file, &t.token_env) {
        (Some(hex_hash), None, None) => {
            let bytes = hex::decode(hex_hash.trim()).map_err(|source| AuthError::NotHex {
                name: name(),
                source,
            })?;
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| AuthError::WrongLength {
                name: name(),
                len: bytes.len(),
            })
        }
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|source| AuthError::TokenFile {
                name: name(),
                path: path.clone(),
                source,
            })?;
            non_empty_hash(text.trim(), &t.name, path)
        }
        (None, None, Some(var)) => {
            let text = std::env::var(var).map_err(|_| AuthError::TokenEnvUnset {
                name: name(),
                var: var.clone(),
            })?;
            non_empty_hash(text.trim(), &t.name, var)
        }
        _ => Err(AuthError::NotOneSecret { name: name() }),
    }
}

fn non_empty_hash(secret: &str, name: &str, from: &str) -> Result<[u8; 32], AuthError> {
    if secret.is_empty() {
        return Err(AuthError::EmptySecret {
            name: name.to_string(),
            from: from.to_string(),
        });
    }
    Ok(Sha256::digest(secret.as_bytes()).into())
}

/// The token of `Authorization: Bearer TOKEN`; a malformed header is 401.
fn bearer_token(req: &HttpRequest) -> Result<Option<String>, HttpError> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| HttpError::unauthorized("Authorization header is not valid text"))?;
    let mut parts = text.splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default().trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(HttpError::unauthorized(
            "Authorization header must be `Bearer TOKEN`",
        ));
    }
    Ok(Some(token.to_string()))
}

/// Shell-style glob: `*` any run, `?` one character, everything else literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
