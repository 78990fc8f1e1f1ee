//! Why oneinit could not start, and the one place that turns it into an
//! exit code (SPEC 1): 2 for a configuration or usage error, printed before
//! anything starts; 1 when the process itself could not be set up.

use oneinit::api::ApiError;
use oneinit::import::ImportError;
use oneinit_actors::config_loader::ConfigError;
use oneinit_actors::model::signal::Signal;

/// The exit code of a configuration or usage error.
pub const EXIT_USAGE: u8 = 2;
/// The exit code of a failure that is not the user's input.
pub const EXIT_FAILURE: u8 = 1;

/// A startup step that failed; nothing has been started when it is returned.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("-g and -e apply to the command after `--` (tini mode); add `-- COMMAND [ARG]...` or remove them")]
    MisplacedTiniFlags,
    #[error("-p {signal}: cannot set the parent-death signal: {source}")]
    ParentDeathSignal { signal: Signal, source: nix::Error },
    #[error("no configuration found (tried {}); pass --config FILE, set ONEINIT_CONFIG, or run a command with `oneinit -- COMMAND`", .tried.join(", "))]
    NoConfig { tried: Vec<String> },
    /// Every error of the configuration, each naming its source and position.
    #[error("{}", lines(.0))]
    Config(Vec<ConfigError>),
    #[error("the service name `main` is reserved for the command after `--`; rename the service in the configuration")]
    ReservedMain,
    /// `user`/`group` that cannot be used, one line per service.
    #[error("{}", .0.join("\n"))]
    Identity(Vec<String>),
    /// Socket-activation keys that are wrong or addresses that cannot be
    /// bound, one line per problem.
    #[error("{}", .0.join("\n"))]
    Activation(Vec<String>),
    /// A refused, invalid or taken API or metrics listener, TLS files, tokens.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// `import-supervisord`: the file cannot be converted.
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn lines(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl StartupError {
    /// SPEC 1: 2 for a config or usage error, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::Runtime(_) => EXIT_FAILURE,
            _ => EXIT_USAGE,
        }
    }

    /// Prints the error on stderr: lists that already name their source
    /// (compiler style, `SOURCE:LINE:COL: message`) one per line as they
    /// are, anything else as one `oneinit: ...` line.
    pub fn report(&self) {
        match self {
            StartupError::Config(_)
            | StartupError::Identity(_)
            | StartupError::Activation(_)
            | StartupError::Import(_) => eprintln!("{self}"),
            _ => eprintln!("oneinit: {self}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let config = StartupError::Config(vec![ConfigError {
            source: "a.yaml".into(),
            line: Some(3),
            col: Some(5),
            message: "unknown key `x`".into(),
        }]);
        assert_eq!(config.exit_code(), 2);
        assert_eq!(config.to_string(), "a.yaml:3:5: unknown key `x`");
        assert_eq!(StartupError::MisplacedTiniFlags.exit_code(), 2);
        assert_eq!(
            StartupError::Api(ApiError::Bind("taken".into())).exit_code(),
            2
        );
        let runtime = StartupError::Runtime(std::io::Error::from_raw_os_error(
            nix::errno::Errno::EMFILE as i32,
        ));
        assert_eq!(runtime.exit_code(), 1);
    }
}
