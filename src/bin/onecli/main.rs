//! `onecli`: the REST client of oneinit (SPEC 1). clap commands, table or
//! JSON output, and the exit codes scripts rely on: 0 ok, 1 failure
//! reported, 2 usage, 3 no such service, 4 unauthorized/forbidden,
//! 5 server unreachable.

mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use commands::Failure;
use oneinit::client::Client;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Control a running oneinit: status, start/stop, logs, reload, health.
#[derive(Parser, Debug)]
#[command(name = "onecli", version = oneinit::build_info::LONG_VERSION)]
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
pub(crate) enum Output {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub(crate) enum StreamArg {
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
pub(crate) struct Control {
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Wait until ready (start, restart) or stopped (stop); exit 1 if it fails.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Duration,
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
        Cmd::Status { services } => commands::status(&c, out, services).await,
        Cmd::List { tree } => commands::list(&c, out, *tree).await,
        Cmd::Start(a) => commands::control(&c, out, "start", a).await,
        Cmd::Stop(a) => commands::control(&c, out, "stop", a).await,
        Cmd::Restart(a) => commands::control(&c, out, "restart", a).await,
        Cmd::Signal { service, signal } => commands::signal(&c, out, service, signal).await,
        Cmd::Trigger { service } => commands::trigger(&c, out, service).await,
        Cmd::Logs {
            service,
            tail,
            follow,
            stream,
        } => commands::logs(&c, out, service, *tail, *follow, *stream).await,
        Cmd::Reload => commands::reload(&c, out).await,
        Cmd::Health => commands::health(&c, out).await,
        Cmd::Metrics => commands::metrics(&c).await,
    }
}

/// `--timeout`: a duration such as `500ms`, `30s`, `2m`; a bad one is a
/// usage error (exit 2) saying what is accepted.
fn parse_timeout(text: &str) -> Result<Duration, oneinit_actors::model::units::UnitError> {
    oneinit_actors::model::units::parse_duration(text)
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
