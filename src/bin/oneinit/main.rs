//! `oneinit`: the supervisor binary. `main` reads as the sequence of its
//! startup steps (see `steps`): prepare the process, find and load the
//! configuration, add tini's `main`, check identities, bind the activation
//! sockets and the API listeners, start the logging, start the actors and
//! the API, then serve until shutdown. A failed step is a `StartupError`,
//! which `main` alone turns into an exit code (2 for configuration and
//! usage errors, 1 otherwise; SPEC 1).

mod actors;
mod cli;
mod commands;
mod error;
mod steps;
mod tini;

use clap::Parser;
use cli::{Cli, Sub};
use error::StartupError;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    // clap exits 2 on usage errors (a bad flag or value) and 0 for --help/--version.
    let cli = Cli::parse();
    let result = match &cli.sub {
        Some(Sub::Check { print }) => commands::check(&cli.config, *print).map(|()| 0),
        Some(Sub::ImportSupervisord { file }) => commands::import_supervisord(file).map(|()| 0),
        None => supervise(cli),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            e.report();
            ExitCode::from(e.exit_code())
        }
    }
}

/// Supervises until shutdown; answers oneinit's exit code (SPEC 1).
fn supervise(cli: Cli) -> Result<u8, StartupError> {
    let nofile = steps::prepare_process(&cli)?;
    let sources = steps::find_sources(&cli)?;
    let runtime = steps::runtime()?;
    // Helpers (exec checks, command notifiers) spawn on this thread, the
    // system arbiter's: clone them from a private fd table too, as the
    // launcher threads do for services (`sys::spawn::forker`).
    let _ = oneinit_actors::sys::spawn::forker::use_on_this_thread();
    let system = actix::System::with_tokio_rt(move || runtime);
    let (mut config, remote_digests) = if sources.used {
        let loaded = system.block_on(steps::load_config(&sources.list))?;
        (loaded.config, loaded.remote_digests)
    } else {
        Default::default()
    };
    // Secrets (token_env, secrets_env, ONECLI_TOKEN) never reach children.
    oneinit_actors::secrets::protect(&config);
    steps::add_tini_main(&mut config, &cli, &sources)?;
    steps::check_identities(&config, &sources.list)?;
    let sockets = steps::bind_activation_sockets(&config, &sources.list)?;
    let (api, metrics) = steps::bind_api(&config, &cli.api_listen)?;
    let logging = steps::start_logging(&cli, &config);
    steps::adopt_orphans(&logging.log, nofile);

    let plan = actors::Plan {
        config,
        sockets,
        // Where a reload reads from; nothing without a configuration file.
        reload_sources: if sources.used {
            sources.list
        } else {
            Vec::new()
        },
        remote_digests,
        tini: cli.tini(),
        pass_signals: cli.tini() && !sources.used,
    };
    let handle = system.block_on(async { actors::start(plan, &logging, api, metrics) });

    let code = system.run_with_code().unwrap_or(1);
    let code = tini::exit_code(code, cli.tini(), &cli.expect_exit);
    if let Some(api) = &handle {
        api.remove_sockets();
    }
    finish_logging(logging);
    Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
}

/// Writes out what is still buffered; bounded by progress: a flush gives
/// up once stdout takes nothing.
fn finish_logging(logging: steps::Logging) {
    let steps::Logging { sink, log, .. } = logging;
    drop(log);
    sink.flush(Duration::from_secs(60));
}
