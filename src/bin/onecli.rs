//! `onecli`: the REST client of oneinit (SPEC 1). clap commands, table or
//! JSON output, and the exit codes scripts rely on: 0 ok, 1 failure
//! reported, 2 usage, 3 no such service, 4 unauthorized/forbidden,
//! 5 server unreachable.

use clap::{Parser, Subcommand, ValueEnum};
use futures_util::StreamExt;
use oneinit::client::{render, Client, ClientError, Response, SseParser};
use oneinit_actors::model::view::{GraphView, LogLine, ReadinessView, ServiceView};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Control a running oneinit: status, start/stop, logs, reload, health.
#[derive(Parser, Debug)]
#[command(name = "onecli", version)]
struct Cli {
    /// Where oneinit listens: unix:///path, http://host:port or https://host:port
    /// [default: $ONECLI_SERVER, else oneinit.sock in oneinit's runtime directory]
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    /// Bearer token for the API [default: $ONECLI_TOKEN].
    #[arg(long, global = true, env = "ONECLI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format: an aligned table for people, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Trust this PEM CA certificate for https servers (besides the system roots).
    #[arg(long, global = true, value_name = "FILE")]
    cacert: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum StreamArg {
    Stdout,
    Stderr,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Show services: name, type, state, health, pid, uptime, restarts (all when none named).
    Status { services: Vec<String> },
    /// List all services; --tree draws the dependency tree.
    List {
        /// Draw the dependency tree instead of the table.
        #[arg(long)]
        tree: bool,
    },
    /// Start services.
    Start(Control),
    /// Stop services.
    Stop(Control),
    /// Restart services.
    Restart(Control),
    /// Send a signal (HUP, USR1, RTMIN+2, 15, ...) to every running instance of a service.
    Signal { service: String, signal: String },
    /// Start one run of an on-demand / per-demand service and print its instance id.
    Trigger { service: String },
    /// Print a service's captured output.
    Logs {
        service: String,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Keep printing new lines until Ctrl-C.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only this stream.
        #[arg(long, value_enum)]
        stream: Option<StreamArg>,
    },
    /// Re-read the configuration and print what was added, removed, changed.
    Reload,
    /// Show readiness (the /readyz view); exit 0 when every autostart service is ready.
    Health,
    /// Print the raw Prometheus metrics.
    Metrics,
}

#[derive(clap::Args, Debug)]
struct Control {
    #[arg(required = true, value_name = "SERVICE")]
    services: Vec<String>,
    /// Wait until ready (start, restart) or stopped (stop); exit 1 if it fails.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    timeout: String,
}

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
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Usage(m) => fail(2, m),
            ClientError::Unreachable(m) => fail(5, m),
        }
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

async fn status(c: &Client, out: Output, names: &[String]) -> Result<(), Failure> {
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

async fn list(c: &Client, out: Output, tree: bool) -> Result<(), Failure> {
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
                s.kind.clone(),
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

async fn control(c: &Client, out: Output, action: &str, args: &Control) -> Result<(), Failure> {
    let wait = oneinit_actors::model::units::parse_duration(&args.timeout)
        .map_err(|e| fail(2, format!("--timeout {}: {e}", args.timeout)))?;
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

async fn logs(
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

async fn reload(c: &Client, out: Output) -> Result<(), Failure> {
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

async fn health(c: &Client, out: Output) -> Result<(), Failure> {
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

async fn metrics(c: &Client) -> Result<(), Failure> {
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

async fn run(cli: Cli) -> Result<(), Failure> {
    let server = cli
        .server
        .clone()
        .or_else(|| {
            std::env::var("ONECLI_SERVER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| {
            format!(
                "unix://{}",
                oneinit_actors::sys::runtime_dir::default_socket().display()
            )
        });
    let c = Client::new(&server, cli.token.clone(), cli.cacert.as_deref())?;
    let out = cli.output;
    match &cli.cmd {
        Cmd::Status { services } => status(&c, out, services).await,
        Cmd::List { tree } => list(&c, out, *tree).await,
        Cmd::Start(a) => control(&c, out, "start", a).await,
        Cmd::Stop(a) => control(&c, out, "stop", a).await,
        Cmd::Restart(a) => control(&c, out, "restart", a).await,
        Cmd::Signal { service, signal } => {
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
        Cmd::Trigger { service } => {
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
        Cmd::Logs {
            service,
            tail,
            follow,
            stream,
        } => logs(&c, out, service, *tail, *follow, *stream).await,
        Cmd::Reload => reload(&c, out).await,
        Cmd::Health => health(&c, out).await,
        Cmd::Metrics => metrics(&c).await,
    }
}

fn main() -> ExitCode {
    // clap exits 2 on usage errors and 0 for --help/--version.
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("onecli: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("onecli: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
