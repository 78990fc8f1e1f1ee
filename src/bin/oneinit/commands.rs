//! The subcommands that do not supervise: `check` and `import-supervisord`.

use crate::error::StartupError;
use crate::steps;

/// `oneinit check [--print]`: loads and validates the configuration;
/// warnings and how each limit is enforced go to stderr, `--print` writes
/// the merged configuration as YAML on stdout.
pub fn check(config: &[String], print: bool) -> Result<(), StartupError> {
    let sources = if config.is_empty() {
        oneinit_actors::config_loader::default_sources()
    } else {
        config.to_vec()
    };
    let loaded = steps::runtime()?.block_on(steps::load_config(&sources))?;
    // How each limit is enforced here (stderr: stdout stays YAML).
    for line in oneinit_actors::service::limits::check_report(&loaded.config) {
        eprintln!("{line}");
    }
    if print {
        print!(
            "{}",
            serde_yaml::to_string(&loaded.config).unwrap_or_default()
        );
    }
    Ok(())
}

/// `oneinit import-supervisord FILE`: YAML on stdout, warnings on stderr.
pub fn import_supervisord(file: &str) -> Result<(), StartupError> {
    let conversion = oneinit::import::convert_supervisord(std::path::Path::new(file))?;
    for w in &conversion.warnings {
        eprintln!("{w}");
    }
    print!("{}", conversion.yaml);
    Ok(())
}
