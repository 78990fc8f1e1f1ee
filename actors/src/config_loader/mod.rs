//! ConfigLoader: reads the configuration sources into one `Config`.
//! (Minimal first version: one local YAML file; the full loader replaces it.)

use crate::model::config::Config;
use std::fmt;

/// One configuration error, printed compiler style.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub source: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.source, l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.source, l, self.message),
            _ => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// The merged configuration and what it was read from.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub sources: Vec<String>,
    pub warnings: Vec<String>,
}

pub async fn load(sources: &[String]) -> Result<LoadedConfig, Vec<ConfigError>> {
    let mut config = Config::default();
    for source in sources {
        let err = |message: String| ConfigError {
            source: source.clone(),
            line: None,
            col: None,
            message,
        };
        let text = std::fs::read_to_string(source).map_err(|e| vec![err(e.to_string())])?;
        let c: Config = serde_yaml::from_str(&text).map_err(|e| vec![err(e.to_string())])?;
        config.services.extend(c.services);
        // Sections the metrics and logging code reads (the full loader merges all).
        config.metrics = c.metrics;
        config.logging = c.logging;
        config.notifiers.extend(c.notifiers);
    }
    Ok(LoadedConfig {
        config,
        sources: sources.to_vec(),
        warnings: Vec::new(),
    })
}
