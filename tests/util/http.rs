//! A tiny HTTP/1.1 server for the remote-configuration tests: a thread on
//! 127.0.0.1 (ephemeral port) answering canned replies per path, so 404,
//! 500-then-200, a server that never answers, redirect loops, a 100 MB body
//! or an endless one are one line each. `start_tls` serves https with a
//! given certificate. Stops (and frees its threads) on drop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, Content-Type (None: no header), body.
    Body(u16, Option<&'static str>, String),
    /// 302 to this location.
    Redirect(String),
    /// Read the request, then never answer (until the server stops).
    Hang,
    /// 200 with this many bytes of `#` and a Content-Length header.
    Huge(u64),
    /// 200 without Content-Length, bytes until the client gives up.
    Endless,
    /// 200 with this body (and its Content-Length), one byte per interval.
    Trickle(String, Duration),
}

impl Reply {
    pub fn yaml(body: &str) -> Reply {
        Reply::Body(200, None, body.to_string())
    }
    pub fn status(code: u16) -> Reply {
        Reply::Body(code, None, format!("status {code}\n"))
    }
}

#[derive(Default)]
struct Routes {
    /// Replies per path, used in order; the last one repeats.
    replies: HashMap<String, Vec<Reply>>,
    hits: HashMap<String, usize>,
}

/// The server's TLS settings (https), shared by the connection threads.
type Tls = Option<Arc<rustls::ServerConfig>>;

pub struct HttpServer {
    pub port: u16,
    https: bool,
    routes: Arc<Mutex<Routes>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    pub fn start() -> HttpServer {
        HttpServer::start_with(None)
    }

    /// An https server presenting `cert_chain` (DER) with `key` (PKCS#8 DER).
    pub fn start_tls(cert_chain: Vec<Vec<u8>>, key: Vec<u8>) -> HttpServer {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let certs = cert_chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a valid test certificate");
        HttpServer::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Tls) -> HttpServer {
        let https = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test http server");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (routes.clone(), stop.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, r, s, tls));
        HttpServer {
            port,
            https,
            routes,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/path` (`https://` for a TLS server).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// Answers `path` with `replies` in order (the last one repeats).
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        if let Ok(mut r) = self.routes.lock() {
            r.replies.insert(path.to_string(), replies);
        }
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.routes
            .lock()
            .map(|r| r.hits.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, routes: Arc<Mutex<Routes>>, stop: Arc<AtomicBool>, tls: Tls) {
    let mut workers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (r, s) = (routes.clone(), stop.clone());
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                let tls = tls.clone();
                workers.push(std::thread::spawn(move || match tls {
                    None => serve(stream, r, s),
                    Some(config) => {
                        if let Ok(conn) = rustls::ServerConnection::new(config) {
                            serve(rustls::StreamOwned::new(conn, stream), r, s);
                        }
                    }
                }));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    drop(listener);
    for w in workers {
        let _ = w.join();
    }
}

fn serve<S: Read + Write>(stream: S, routes: Arc<Mutex<Routes>>, stop: Arc<AtomicBool>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let reply = {
        let Ok(mut r) = routes.lock() else { return };
        *r.hits.entry(path.clone()).or_insert(0) += 1;
        match r.replies.get_mut(&path) {
            Some(list) if list.len() > 1 => Some(list.remove(0)),
            Some(list) => list.first().cloned(),
            None => None,
        }
    };
    let out = reader.get_mut();
    let reply = reply.unwrap_or(Reply::status(404));
    let _ = match reply {
        Reply::Body(code, ctype, body) => {
            let ctype = ctype.map_or(String::new(), |c| format!("Content-Type: {c}\r\n"));
            write!(
                out,
                "HTTP/1.1 {code} X\r\n{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Reply::Redirect(to) => write!(
            out,
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Reply::Hang => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        Reply::Huge(len) => {
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
            stream_bytes(out, head, Some(len), &stop)
        }
        Reply::Endless => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string();
            stream_bytes(out, head, None, &stop)
        }
        Reply::Trickle(body, every) => (|| {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            for b in body.bytes() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                out.write_all(&[b])?;
                out.flush()?;
                std::thread::sleep(every);
            }
            Ok(())
        })(),
    };
    let _ = out.flush();
}

/// Writes `head` then `#`s (`len` of them, or until the peer is gone).
fn stream_bytes(
    out: &mut impl Write,
    head: String,
    len: Option<u64>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    out.write_all(head.as_bytes())?;
    let chunk = vec![b'#'; 64 * 1024];
    let mut sent = 0u64;
    while !matches!(len, Some(l) if sent >= l) && !stop.load(Ordering::SeqCst) {
        let n = len.map_or(chunk.len() as u64, |l| (l - sent).min(chunk.len() as u64));
        out.write_all(&chunk[..n as usize])?;
        sent += n;
    }
    Ok(())
}
