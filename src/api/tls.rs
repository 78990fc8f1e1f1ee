//! The rustls server configuration of the TCP listeners, from the PEM files
//! of `api.tls` (SPEC 4.1): server certificate and key, and with
//! `client_ca` a client-certificate verifier (`client_auth: required`,
//! the default, or `optional`).

use oneinit_actors::model::config::{ClientAuthMode, TlsConfig};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::io::BufReader;
use std::sync::{Arc, RwLock};

/// Why the TLS files of `api.tls` cannot be used; each message names the
/// key and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("api.tls.{key}: {path}: {source}")]
    Open {
        key: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("api.tls.{key}: {path}: not a PEM certificate file: {source}")]
    NotCertificatePem {
        key: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("api.tls.{key}: {path}: no `BEGIN CERTIFICATE` block found; give a PEM certificate")]
    NoCertificate { key: &'static str, path: String },
    #[error("api.tls.key: {path}: not a PEM key file: {source}")]
    NotKeyPem {
        path: String,
        source: std::io::Error,
    },
    #[error("api.tls.key: {path}: no private key found; give a PEM (PKCS#8, PKCS#1 or SEC1) key")]
    NoKey { path: String },
    #[error("api.tls: {cert} / {key}: certificate and key do not fit: {source}")]
    KeyMismatch {
        cert: String,
        key: String,
        source: rustls::Error,
    },
    #[error("api.tls.client_ca: {path}: {source}")]
    ClientCa { path: String, source: rustls::Error },
    #[error("api.tls.client_ca: {path}: {source}")]
    ClientVerifier {
        path: String,
        source: rustls::server::VerifierBuilderError,
    },
    #[error("api.tls: {0}")]
    Protocols(rustls::Error),
    #[error(
        "api.tls.client_ca: adding or removing the client CA needs a restart of oneinit; \
         keep it as it was for the reload"
    )]
    ClientCaNeedsRestart,
}

fn open(path: &str, key: &'static str) -> Result<BufReader<std::fs::File>, TlsError> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|source| TlsError::Open {
            key,
            path: path.to_string(),
            source,
        })
}

fn read_certs(path: &str, key: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut open(path, key)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::NotCertificatePem {
            key,
            path: path.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            key,
            path: path.to_string(),
        });
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut open(path, "key")?)
        .map_err(|source| TlsError::NotKeyPem {
            path: path.to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_string(),
        })
}

/// The PEM files as read, to tell whether a reload changed them.
fn digest_files(paths: &[&str]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(std::fs::read(p).unwrap_or_default());
        h.update([0]);
    }
    h.finalize().to_vec()
}

/// The server certificate, swapped on reload; read at every handshake.
#[derive(Debug)]
struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        })
    }
}

/// The client-certificate verifier (`client_ca`), swapped on reload. One
/// handshake may see two verifiers when a reload lands in the middle; both
/// are complete verifiers, so that is harmless. Root hints are not sent:
/// they would borrow from a verifier a reload may drop (clients send their
/// configured certificate anyway).
#[derive(Debug)]
struct VerifierSlot(RwLock<Arc<dyn ClientCertVerifier>>);

impl VerifierSlot {
    fn get(&self) -> Arc<dyn ClientCertVerifier> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl ClientCertVerifier for VerifierSlot {
    fn offer_client_auth(&self) -> bool {
        self.get().offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.get().client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.get()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.get().supported_verify_schemes()
    }
}

/// The swappable parts of a served TLS configuration.
pub struct Reloadable {
    cert: Arc<CertSlot>,
    verifier: Option<Arc<VerifierSlot>>,
    digest: RwLock<Vec<u8>>,
}

/// New TLS material, read and checked, not yet in use.
pub struct Prepared {
    cert: Arc<CertifiedKey>,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    digest: Vec<u8>,
    /// The files' contents differ from what is served.
    pub changed: bool,
}

fn tls_paths(tls: &TlsConfig) -> Vec<&str> {
    let mut paths = vec![tls.cert.as_str(), tls.key.as_str()];
    paths.extend(tls.client_ca.as_deref());
    paths
}

fn certified_key(tls: &TlsConfig) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = read_certs(&tls.cert, "cert")?;
    let key = read_key(&tls.key)?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(certs, key, &provider)
        .map(Arc::new)
        .map_err(|source| TlsError::KeyMismatch {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            source,
        })
}

fn client_verifier(
    ca_path: &str,
    client_auth: Option<ClientAuthMode>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in read_certs(ca_path, "client_ca")? {
        roots.add(ca).map_err(|source| TlsError::ClientCa {
            path: ca_path.to_string(),
            source,
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let verifier = match client_auth.unwrap_or(ClientAuthMode::Required) {
        ClientAuthMode::Required => verifier,
        ClientAuthMode::Optional => verifier.allow_unauthenticated(),
    };
    verifier.build().map_err(|source| TlsError::ClientVerifier {
        path: ca_path.to_string(),
        source,
    })
}

/// Builds the server config; every error names the file and the key. The
/// certificate and the client verifier can be replaced later through the
/// returned `Reloadable` without touching open connections.
pub fn server_config(
    tls: &TlsConfig,
    client_auth: Option<ClientAuthMode>,
) -> Result<(ServerConfig, Reloadable), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = Arc::new(CertSlot(RwLock::new(certified_key(tls)?)));
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?;
    let (builder, verifier) = match &tls.client_ca {
        None => (builder.with_no_client_auth(), None),
        Some(ca_path) => {
            let slot = Arc::new(VerifierSlot(RwLock::new(client_verifier(
                ca_path,
                client_auth,
            )?)));
            (builder.with_client_cert_verifier(slot.clone()), Some(slot))
        }
    };
    // actix-web adds the `http/1.1` ALPN protocol itself.
    let config = builder.with_cert_resolver(cert.clone());
    let reloadable = Reloadable {
        cert,
        verifier,
        digest: RwLock::new(digest_files(&tls_paths(tls))),
    };
    Ok((config, reloadable))
}

impl Reloadable {
    /// Reads the files of `tls` again and checks them. A change between
    /// having and not having `client_ca` needs a restart (the handshake
    /// offers client authentication or not for the listener's life).
    pub fn prepare(
        &self,
        tls: &TlsConfig,
        client_auth: Option<ClientAuthMode>,
    ) -> Result<Prepared, TlsError> {
        let digest = digest_files(&tls_paths(tls));
        let cert = certified_key(tls)?;
        let verifier = match (&tls.client_ca, &self.verifier) {
            (Some(ca), Some(_)) => Some(client_verifier(ca, client_auth)?),
            (None, None) => None,
            _ => return Err(TlsError::ClientCaNeedsRestart),
        };
        let current = match self.digest.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        Ok(Prepared {
            changed: current != digest,
            cert,
            verifier,
            digest,
        })
    }

    /// Serves `p` from the next handshake on.
    pub fn commit(&self, p: Prepared) {
        match self.cert.0.write() {
            Ok(mut g) => *g = p.cert,
            Err(e) => *e.into_inner() = p.cert,
        }
        if let (Some(slot), Some(v)) = (&self.verifier, p.verifier) {
            match slot.0.write() {
                Ok(mut g) => *g = v,
                Err(e) => *e.into_inner() = v,
            }
        }
        match self.digest.write() {
            Ok(mut g) => *g = p.digest,
            Err(e) => *e.into_inner() = p.digest,
        }
    }
}
