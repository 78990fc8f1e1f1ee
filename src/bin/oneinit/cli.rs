//! oneinit's command line (SPEC 1): the flags, the subcommands, and the
//! closed sets of values clap checks itself (`--log-format`, `--log-level`),
//! so a misspelt value is a usage error (exit 2) naming the accepted ones.

use clap::{Parser, Subcommand, ValueEnum};
use oneinit_actors::model::config::{LogFormat, LogLevel};
use oneinit_actors::model::signal::{parse_signal, Signal, UnknownSignal};

/// A fast, small init system and process supervisor for containers.
#[derive(Parser, Debug)]
#[command(name = "oneinit", version = oneinit::build_info::LONG_VERSION, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Configuration file or URL; repeat to merge several (later ones as if included by the first).
    #[arg(long = "config", value_name = "PATH|URL", global = true)]
    pub config: Vec<String>,
    /// Serve the API here too (`unix:///path` or `host:port`); repeatable.
    #[arg(long = "api-listen", value_name = "ADDR")]
    pub api_listen: Vec<String>,
    /// Format of oneinit's own log lines [default: json, or logging.format].
    #[arg(long = "log-format", value_name = "FORMAT", value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// Lowest level of oneinit's own log lines; captured service output is always kept
    /// [default: info, or logging.level].
    #[arg(long = "log-level", value_name = "LEVEL", value_enum)]
    pub log_level: Option<LogLevelArg>,
    /// Run COMMAND as the critical service `main` and exit with its status (like tini).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Tini mode: send the signals for COMMAND to its whole process group, not
    /// just to its process (tini's -g; also set by TINI_KILL_PROCESS_GROUP).
    #[arg(short = 'g')]
    pub group: bool,
    /// Accepted for tini compatibility; oneinit is always a subreaper.
    #[arg(short = 's')]
    pub subreaper: bool,
    /// Tini mode: exit 0 when COMMAND exits with CODE (0-255); repeatable (tini's -e).
    #[arg(short = 'e', value_name = "CODE")]
    pub expect_exit: Vec<u8>,
    /// Signal oneinit receives when its parent process dies, e.g. TERM or KILL
    /// (tini's -p; PR_SET_PDEATHSIG).
    #[arg(short = 'p', value_name = "SIGNAL", value_parser = parse_signal_arg)]
    pub parent_death_signal: Option<Signal>,
    #[command(subcommand)]
    pub sub: Option<Sub>,
}

#[derive(Subcommand, Debug)]
pub enum Sub {
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

/// `--log-format`: the spellings of the config key `logging.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// One JSON object per line.
    Json,
    /// Plain text lines, for people.
    Text,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Json => LogFormat::Json,
            LogFormatArg::Text => LogFormat::Text,
        }
    }
}

/// `--log-level`: the spellings of the config key `logging.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevelArg {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<LogLevelArg> for LogLevel {
    fn from(arg: LogLevelArg) -> Self {
        match arg {
            LogLevelArg::Trace => LogLevel::Trace,
            LogLevelArg::Debug => LogLevel::Debug,
            LogLevelArg::Info => LogLevel::Info,
            LogLevelArg::Warn => LogLevel::Warn,
            LogLevelArg::Error => LogLevel::Error,
        }
    }
}

/// `-p SIGNAL`: a name (`TERM`, `SIGUSR1`, `RTMIN+1`) or a number.
fn parse_signal_arg(text: &str) -> Result<Signal, UnknownSignal> {
    parse_signal(text)
}

impl Cli {
    /// Tini mode: a command after `--`.
    pub fn tini(&self) -> bool {
        !self.command.is_empty()
    }

    /// tini's flags: `-g` and `-e` only mean something for the command after `--`.
    pub fn misplaced_tini_flags(&self) -> bool {
        !self.tini() && (self.group || !self.expect_exit.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command-line spellings are the config file's (serde) spellings.
    #[test]
    fn flag_values_match_the_config_spellings() {
        for arg in LogLevelArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            let from_config: LogLevel =
                serde_json::from_value(serde_json::json!(name.clone())).expect("config spelling");
            assert_eq!(LogLevel::from(*arg), from_config, "{name:?}");
        }
        for arg in LogFormatArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            let from_config: LogFormat =
                serde_json::from_value(serde_json::json!(name.clone())).expect("config spelling");
            assert_eq!(LogFormat::from(*arg), from_config, "{name:?}");
        }
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_accepted_ones() {
        let err = Cli::try_parse_from(["oneinit", "--log-level", "loud"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let text = err.to_string();
        assert!(text.contains("trace, debug, info, warn, error"), "{text}");
        let err = Cli::try_parse_from(["oneinit", "--log-format", "xml"]).unwrap_err();
        assert!(err.to_string().contains("json, text"), "{err}");
    }
}
