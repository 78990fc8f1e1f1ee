//! `oneinit`: flags, logging, PID-1 setup, actors, HTTP server, exit code.

use clap::{Parser, Subcommand};
use oneinit_actors::config_loader;
use std::process::ExitCode;

/// A fast, small init system and process supervisor for containers.
#[derive(Parser, Debug)]
#[command(name = "oneinit", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Configuration file or URL; repeat to merge several (later ones as if included by the first).
    #[arg(long = "config", value_name = "PATH|URL", global = true)]
    config: Vec<String>,
    /// Serve the API here too (`unix:///path` or `host:port`); repeatable.
    #[arg(long = "api-listen", value_name = "ADDR")]
    api_listen: Vec<String>,
    /// Format of oneinit's own log lines.
    #[arg(long = "log-format", value_name = "json|text")]
    log_format: Option<String>,
    /// Lowest level of oneinit's own log lines (captured service output is always kept).
    #[arg(long = "log-level", value_name = "LEVEL")]
    log_level: Option<String>,
    /// Run COMMAND as the critical service `main` and exit with its status (like tini).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Validate the configuration and exit 0 (valid) or 2 (errors, one per line).
    Check {
        /// Print the merged configuration as YAML.
        #[arg(long)]
        print: bool,
    },
    /// Convert a supervisord.conf to oneinit YAML on stdout.
    ImportSupervisord {
        /// The supervisord configuration file.
        file: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.sub {
        Some(Sub::Check { print }) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            match rt.block_on(config_loader::load(&cli.config)) {
                Ok(loaded) => {
                    if print {
                        print!(
                            "{}",
                            serde_yaml::to_string(&loaded.config).unwrap_or_default()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    ExitCode::from(2)
                }
            }
        }
        Some(Sub::ImportSupervisord { file }) => import_supervisord(&file),
        None => ExitCode::SUCCESS,
    }
}

/// `oneinit import-supervisord FILE`: YAML on stdout, warnings on stderr,
/// exit 2 when the file cannot be converted.
fn import_supervisord(file: &str) -> ExitCode {
    match oneinit::import::convert_supervisord(std::path::Path::new(file)) {
        Ok(conversion) => {
            for w in &conversion.warnings {
                eprintln!("{w}");
            }
            print!("{}", conversion.yaml);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
