//! The commands of onecli: each sends its request, checks the answer, and
//! prints a table for people or JSON for scripts. A failure is a `Failure`:
//! the exit code SPEC 1 gives it and one line for stderr.

use crate::{Control, Output, StreamArg};
use futures_util::StreamExt;
use oneinit::client::{render, Client, ClientError, Response, SseParser};
use oneinit_actors::model::view::{GraphView, LogLine, ReadinessView, ServiceView};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

/// Like println!/print!, but a closed stdout (`onecli ... | head`) is not a panic.
macro_rules! outln {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// A failed command: the exit code and the one stderr line.
pub(crate) struct Failure {
    pub code: u8,
    pub message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = if e.is_usage() { 2 } else { 5 };
        fail(code, e.to_string())
    }
}

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// 2xx → the JSON body; otherwise the exit code SPEC 1 gives the status.
fn check(resp: &Response, what: &str) -> Result<Value, Failure> {
    if (200..300).contains(&resp.status) {
        return Ok(resp.json().unwrap_or(Value::Null));
    }
    let (code, msg) = resp.error_text();
    let (exit, hint) = match resp.status {
        401 => (4, " (give a token with --token or $ONECLI_TOKEN)"),
        403 => (4, " (this token's role or scope does not allow it)"),
        404 if code == "not_found" => (3, ""),
        _ => (1, ""),
    };
    Err(fail(exit, format!("{what}: {msg}{hint}")))
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_json(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn parse<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, Failure> {
    serde_json::from_value(v).map_err(|e| {
        fail(1, format!("{what}: unexpected answer from the server ({e}); are onecli and oneinit the same version?"))
    })
}

pub(crate) async fn status(c: &Client, out: Output, names: &[String]) -> Result<(), Failure> {
    let mut services: Vec<ServiceView> = Vec::new();
    if names.is_empty() {
        let v = check(
            &c.call("GET", "/v1/services", None, CALL_TIMEOUT).await?,
            "status",
        )?;
        services = parse(v["services"].clone(), "status")?;
    } else {
        for n in names {
            let path = format!("/v1/services/{}", encode(n));
            let v = check(&c.call("GET", &path, None, CALL_TIMEOUT).await?, n)?;
            services.push(parse(v, n)?);
        }
    }
    match out {
        Output::Json => print_json(&json!({ "services": services })),
        Output::Table => out!("{}", render::status_table(&services)),
    }
    Ok(())
}

pub(crate) async fn list(c: &Client, out: Output, tree: bool) -> Result<(), Failure> {
    if tree {
        let v = check(
            &c.call("GET", "/v1/graph", None, CALL_TIMEOUT).await?,
            "list --tree",
        )?;
        match out {
            Output::Json => print_json(&v),
            Output::Table => out!("{}", render::tree(&parse::<GraphView>(v, "graph")?)),
        }
        return Ok(());
    }
    let v = check(
        &c.call("GET", "/v1/services", None, CALL_TIMEOUT).await?,
        "list",
    )?;
    if out == Output::Json {
        print_json(&v);
        return Ok(());
    }
    let services: Vec<ServiceView> = parse(v["services"].clone(), "list")?;
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.kind.as_str().to_string(),
                s.state.as_str().to_string(),
                if s.autostart { "yes" } else { "no" }.to_string(),
                s.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out!(
        "{}",
        render::table(
            &["NAME", "TYPE", "STATE", "AUTOSTART", "DESCRIPTION"],
            &rows
        )
    );
    Ok(())
}

pub(crate) async fn control(
    c: &Client,
    out: Output,
    action: &str,
    args: &Control,
) -> Result<(), Failure> {
    let wait = args.timeout;
    let query = if args.wait {
        format!("?wait=true&timeout={}ms", wait.as_millis())
    } else {
        String::new()
    };
    let mut first_failure: Option<Failure> = None;
    let mut results = Vec::new();
    for name in &args.services {
        let path = format!("/v1/services/{}/{action}{query}", encode(name));
        let resp = c.call("POST", &path, None, wait + CALL_TIMEOUT).await?;
        match check(&resp, &format!("{action} {name}")) {
            Ok(v) => {
                if out == Output::Table {
                    outln!("{name}: {}", v["state"].as_str().unwrap_or("?"));
                }
                results.push(v);
            }
            Err(f) => {
                eprintln!("onecli: {}", f.message);
                first_failure.get_or_insert(f);
            }
        }
    }
    if out == Output::Json {
        print_json(&json!({ "services": results }));
    }
    match first_failure {
        // Already printed; keep the code.
        Some(f) => Err(fail(f.code, String::new())),
        None => Ok(()),
    }
}

pub(crate) async fn logs(
    c: &Client,
    out: Output,
    service: &str,
    tail: Option<usize>,
    follow: bool,
    stream: Option<StreamArg>,
) -> Result<(), Failure> {
    let mut query = Vec::new();
    if let Some(n) = tail {
        query.push(format!("tail={n}"));
    }
    if let Some(s) = stream {
        query.push(format!(
            "stream={}",
            if s == StreamArg::Stdout {
                "stdout"
            } else {
                "stderr"
            }
        ));
    }
    if follow {
        query.push("follow=true".into());
    }
    let path = format!("/v1/services/{}/logs?{}", encode(service), query.join("&"));
    let what = format!("logs {service}");
    if !follow {
        let v = check(&c.call("GET", &path, None, CALL_TIMEOUT).await?, &what)?;
        if out == Output::Json {
            print_json(&v);
            return Ok(());
        }
        let lines: Vec<LogLine> = parse(v["lines"].clone(), &what)?;
        let mut stdout = std::io::stdout().lock();
        for l in lines {
            let _ = writeln!(stdout, "{}", l.line);
        }
        return Ok(());
    }
    let mut s = c.send("GET", &path, None).await?;
    if !(200..300).contains(&s.status) {
        let mut body = Vec::new();
        while let Some(Ok(chunk)) = s.body.next().await {
            body.extend_from_slice(&chunk);
        }
        let resp = Response {
            status: s.status,
            body: body.into(),
        };
        check(&resp, &what)?;
    }
    let mut parser = SseParser::default();
    while let Some(chunk) = s.body.next().await {
        let chunk = chunk.map_err(|e| fail(5, format!("{what}: the stream broke: {e}")))?;
        let mut stdout = std::io::stdout().lock();
        for data in parser.push(&chunk) {
            if out == Output::Json {
                let _ = writeln!(stdout, "{data}");
            } else if let Ok(l) = serde_json::from_str::<LogLine>(&data) {
                let _ = writeln!(stdout, "{}", l.line);
            }
        }
        let _ = stdout.flush();
    }
    Ok(())
}

pub(crate) async fn reload(c: &Client, out: Output) -> Result<(), Failure> {
    let v = check(
        &c.call("POST", "/v1/reload", None, CALL_TIMEOUT).await?,
        "reload",
    )?;
    if out == Output::Json {
        print_json(&v);
        return Ok(());
    }
    for key in ["added", "removed", "changed", "unchanged"] {
        let names: Vec<&str> = v[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let shown = if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        };
        outln!("{key:<10} {shown}");
    }
    Ok(())
}

pub(crate) async fn health(c: &Client, out: Output) -> Result<(), Failure> {
    let resp = c.call("GET", "/readyz", None, CALL_TIMEOUT).await?;
    if resp.status != 200 && resp.status != 503 {
        check(&resp, "health")?;
    }
    let v = resp.json().unwrap_or(Value::Null);
    let view: ReadinessView = parse(v.clone(), "health")?;
    match out {
        Output::Json => print_json(&v),
        Output::Table if view.ready => outln!("ready"),
        Output::Table => outln!("not ready: {}", view.not_ready.join(", ")),
    }
    if view.ready {
        Ok(())
    } else {
        Err(fail(1, String::new()))
    }
}

pub(crate) async fn metrics(c: &Client) -> Result<(), Failure> {
    let resp = c.call("GET", "/metrics", None, CALL_TIMEOUT).await?;
    check_text(&resp)?;
    out!("{}", String::from_utf8_lossy(&resp.body));
    Ok(())
}

fn check_text(resp: &Response) -> Result<(), Failure> {
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        check(resp, "metrics").map(|_| ())
    }
}

pub(crate) async fn signal(
    c: &Client,
    out: Output,
    service: &str,
    signal: &str,
) -> Result<(), Failure> {
    let path = format!("/v1/services/{}/signal", encode(service));
    let body = json!({ "signal": signal });
    let what = format!("signal {service}");
    let v = check(
        &c.call("POST", &path, Some(&body), CALL_TIMEOUT).await?,
        &what,
    )?;
    match out {
        Output::Json => print_json(&v),
        Output::Table => outln!(
            "sent {} to {service}",
            v["signal"].as_str().unwrap_or(signal)
        ),
    }
    Ok(())
}

pub(crate) async fn trigger(c: &Client, out: Output, service: &str) -> Result<(), Failure> {
    let path = format!("/v1/services/{}/trigger", encode(service));
    let v = check(
        &c.call("POST", &path, None, CALL_TIMEOUT).await?,
        &format!("trigger {service}"),
    )?;
    match out {
        Output::Json => print_json(&v),
        Output::Table => outln!("{}", v["instance"]),
    }
    Ok(())
}
