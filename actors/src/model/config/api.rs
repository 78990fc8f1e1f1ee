//! `api` (SPEC 4) and `metrics` (SPEC 7): the HTTP listener, TLS, tokens,
//! client certificates and the Prometheus endpoint.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `unix:///path` or `host:port`. Empty: the default socket in the runtime dir.
    pub listen: Vec<String>,
    pub tls: Option<TlsConfig>,
    pub auth: Option<AuthConfig>,
    /// Allow a non-loopback TCP listener without TLS and auth.
    pub insecure: bool,
    /// Serve the dashboard at `/ui/`.
    pub ui: bool,
    /// Extra `Host` names a TCP listener answers to, besides its own
    /// address and `localhost` (DNS-rebinding protection, SPEC 9).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: Vec::new(),
            tls: None,
            auth: None,
            insecure: false,
            ui: true,
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
    #[serde(default)]
    pub client_ca: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
    pub clients: Vec<ClientCertConfig>,
    pub client_auth: Option<ClientAuthMode>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthMode {
    Required,
    Optional,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

/// A bearer token: exactly one of `sha256`, `token_file`, `token_env`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub token_file: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    pub role: Role,
    /// Globs of service names this token may see and act on; empty = all.
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientCertConfig {
    pub cn: String,
    pub role: Role,
    #[serde(default)]
    pub services: Vec<String>,
}

// ------------------------------------------------------------ metrics (SPEC 7)

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub path: String,
    /// true: `/metrics` needs the viewer role.
    pub auth: bool,
    /// An extra listener (`host:port`) that serves only the metrics.
    pub listen: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            path: "/metrics".into(),
            auth: false,
            listen: None,
        }
    }
}
