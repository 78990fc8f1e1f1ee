//! The rustls server configuration of the TCP listeners, from the PEM files
//! of `api.tls` (SPEC 4.1): server certificate and key, and with
//! `client_ca` a client-certificate verifier (`client_auth: required`,
//! the default, or `optional`).

use oneinit_actors::model::config::{ClientAuthMode, TlsConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::io::BufReader;
use std::sync::Arc;

fn read_certs(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("api.tls.{what}: {path}: {e}"))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("api.tls.{what}: {path}: not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "api.tls.{what}: {path}: no `BEGIN CERTIFICATE` block found; give a PEM certificate"
        ));
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("api.tls.key: {path}: {e}"))?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(|e| format!("api.tls.key: {path}: not a PEM key file: {e}"))?
        .ok_or_else(|| {
            format!("api.tls.key: {path}: no private key found; give a PEM (PKCS#8, PKCS#1 or SEC1) key")
        })
}

/// Builds the server config; every error names the file and the key.
pub fn server_config(
    tls: &TlsConfig,
    client_auth: Option<ClientAuthMode>,
) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&tls.cert, "cert")?;
    let key = read_key(&tls.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("api.tls: {e}"))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let mut roots = RootCertStore::empty();
            for ca in read_certs(ca_path, "client_ca")? {
                roots
                    .add(ca)
                    .map_err(|e| format!("api.tls.client_ca: {ca_path}: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match client_auth.unwrap_or(ClientAuthMode::Required) {
                ClientAuthMode::Required => verifier,
                ClientAuthMode::Optional => verifier.allow_unauthenticated(),
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("api.tls.client_ca: {ca_path}: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    // actix-web adds the `http/1.1` ALPN protocol itself.
    builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "api.tls: {} / {}: certificate and key do not fit: {e}",
            tls.cert, tls.key
        )
    })
}
