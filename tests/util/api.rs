//! Helpers of the API and onecli tests: an in-process API server on port 0
//! backed by the fake supervisor (`super::fake`), a real `oneinit` with a
//! TCP API listener (`ApiDaemon`), a PKI made with rcgen for TLS/mTLS,
//! token hashing, and bounded async waits.

use super::fake::FakeManager;
use actix::prelude::*;
use oneinit::api::{self, ApiBackend, ApiHandle, ApiSettings};
use oneinit_actors::model::config::{ApiConfig, MetricsConfig};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub fn sha_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn quiet_log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// An API served in-process on 127.0.0.1:0 (plus any listeners in `api`),
/// backed by a `FakeManager`.
pub struct FakeApi {
    pub handle: Option<ApiHandle>,
    pub fake: Addr<FakeManager>,
    /// `http://127.0.0.1:PORT` or `https://...`.
    pub base: String,
    pub tmp: tempfile::TempDir,
}

impl FakeApi {
    pub async fn start(api: ApiConfig, metrics: MetricsConfig) -> FakeApi {
        Self::start_with(api, metrics, FakeManager::new()).await
    }

    pub async fn start_with(
        mut api: ApiConfig,
        metrics: MetricsConfig,
        fake: FakeManager,
    ) -> FakeApi {
        let tmp = tempfile::tempdir().expect("tempdir");
        if api.listen.is_empty() {
            api.listen
                .push(format!("unix://{}/api.sock", tmp.path().display()));
        }
        let fake = fake.start();
        let settings = ApiSettings::new(api, metrics, vec!["127.0.0.1:0".into()]);
        let handle = api::start(
            settings,
            ApiBackend::new(&fake, Some(fake.clone().recipient())),
            quiet_log(),
        )
        .await
        .expect("API starts");
        let base = handle
            .addresses
            .iter()
            .find(|a| a.starts_with("http"))
            .cloned()
            .expect("a TCP address");
        FakeApi {
            handle: Some(handle),
            fake,
            base,
            tmp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn socket(&self) -> String {
        self.handle
            .as_ref()
            .and_then(|h| {
                h.addresses
                    .iter()
                    .find(|a| a.starts_with("unix://"))
                    .cloned()
            })
            .expect("a unix address")
    }

    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.stop(Duration::from_secs(2)).await;
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// One request: (status, JSON body — or the text as a JSON string when the
/// body is not JSON).
pub async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut rb = http().request(m, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    } else if method != "GET" {
        // As onecli does: mutating requests say JSON (SPEC 9 browser safety).
        rb = rb.header("Content-Type", "application/json");
    }
    let resp = rb.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Asserts `body` matches the documented response of METHOD PATH STATUS
/// in the OpenAPI document (a JSON body needs a documented schema).
pub fn assert_documented(method: &str, path: &str, status: u16, body: &serde_json::Value) {
    let doc = oneinit::api::openapi::document(&MetricsConfig::default());
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path} {status} is not documented"
    );
    match resp["content"]["application/json"].get("schema") {
        Some(schema) => super::openapi_schema::validate(
            &doc,
            schema,
            body,
            &format!("{method} {path} {status}"),
        )
        .unwrap_or_else(|e| panic!("{e}\nbody: {body}")),
        None => assert!(
            !body.is_object(),
            "{method} {path} {status}: a JSON body without a documented schema: {body}"
        ),
    }
}

/// A CA, a server certificate for 127.0.0.1/localhost, and client certificates.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "oneinit test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let ca = params.self_signed(&ca_key).expect("CA");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).expect("write ca");
        Pki { dir, ca, ca_key }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Writes NAME.crt / NAME.key signed by this CA; answers (cert, key) PEMs.
    pub fn issue(&self, name: &str, cn: &str, server: bool) -> (String, String) {
        let sans = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            vec![]
        };
        let mut params = rcgen::CertificateParams::new(sans).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![if server {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("sign");
        let (c, k) = (cert.pem(), key.serialize_pem());
        std::fs::write(self.dir.path().join(format!("{name}.crt")), &c).expect("write");
        std::fs::write(self.dir.path().join(format!("{name}.key")), &k).expect("write");
        (c, k)
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }
}

/// Polls `f` every 50 ms until it answers Some, for at most `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A free TCP port (bound, then released): racy; see `super::free_port`.
#[deprecated(note = "racy: ApiDaemon::spawn listens on 127.0.0.1:0 and reads the address")]
pub fn free_port() -> u16 {
    #[allow(deprecated)]
    super::free_port()
}

/// A real `oneinit` process serving the API on 127.0.0.1, with its own temp dir, config and runtime dir;
/// killed (TERM, then KILL) on drop so no test leaves it behind.
pub struct ApiDaemon {
    pub child: Option<std::process::Child>,
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` (or https with TLS); empty when oneinit
    /// exited before listening.
    pub base: String,
    /// The port oneinit bound for `127.0.0.1:0`; 0 when it exited first.
    pub port: u16,
}

impl ApiDaemon {
    /// Writes `config` (YAML) and starts `oneinit --config c.yaml
    /// --api-listen 127.0.0.1:0`, then waits (≤ 15 s) until it logs the
    /// address it bound (`api listening`) or exits (a refused start);
    /// does not wait for the API to answer.
    pub fn spawn(config: &str, extra_args: &[&str]) -> ApiDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, config).expect("write config");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oneinit"));
        cmd.arg("--config")
            .arg(&cfg)
            .arg("--api-listen")
            .arg("127.0.0.1:0")
            .args(extra_args)
            .env("ONEINIT_RUNTIME_DIR", dir.path().join("rt"))
            .current_dir(dir.path());
        Self::spawn_command(cmd, dir)
    }

    /// Starts `cmd` (an `oneinit` with a TCP `--api-listen ...:0`) with its
    /// log in `dir/out.log`, and waits (≤ 15 s) for the first TCP address it
    /// logs as `api listening`, or for its exit.
    pub fn spawn_command(mut cmd: std::process::Command, dir: tempfile::TempDir) -> ApiDaemon {
        let out = dir.path().join("out.log");
        let child = cmd
            .stdout(std::fs::File::create(&out).expect("create out.log"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("oneinit starts");
        let mut d = ApiDaemon {
            child: Some(child),
            dir,
            base: String::new(),
            port: 0,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(base) = d.listening() {
                d.port = base
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port in the api listening record");
                d.base = base;
                return d;
            }
            let exited = match d.child.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => true,
            };
            if exited {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "oneinit logged no `api listening` record within 15s: {}",
                std::fs::read_to_string(&out).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first TCP address of an `api listening` record in the log.
    fn listening(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.path("out.log")).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["msg"] == "api listening")
            .filter_map(|r| r["listen"].as_str().map(str::to_string))
            .find(|a| a.starts_with("http"))
    }

    /// `spawn` and wait (≤ 15 s) until `/healthz` answers 200 over plain HTTP.
    pub async fn start(config: &str) -> ApiDaemon {
        let d = Self::spawn(config, &[]);
        d.wait_healthy(&http()).await;
        d
    }

    pub async fn wait_healthy(&self, client: &reqwest::Client) {
        let url = format!("{}/healthz", self.base);
        let ok = wait_for(Duration::from_secs(15), || {
            let c = client.clone();
            let u = url.clone();
            async move {
                match c.get(&u).send().await {
                    Ok(r) if r.status() == 200 => Some(()),
                    _ => None,
                }
            }
        })
        .await;
        assert!(ok.is_some(), "oneinit did not answer {url} within 15s");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn socket(&self) -> String {
        format!("unix://{}/rt/oneinit.sock", self.dir.path().display())
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Waits (bounded) for the process to exit; answers its code and stderr.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(i32, String)> {
        let child = self.child.as_mut()?;
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                self.child = None;
                return Some((status.code().unwrap_or(-1), err));
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ApiDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
