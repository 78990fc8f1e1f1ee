//! Types the merged tree into `model::config::Config` with serde, reporting
//! every unknown key and bad value in one run: on an error the offending key
//! is located (serde_path_to_error), reported at its line and column, removed,
//! and typing is retried (bounded).

use super::tree::{path_string, Node, Seg};
use super::ConfigError;
use crate::model::config::{Config, ServiceConfig};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

/// More errors than this in one document are not worth listing.
const MAX_ERRORS: usize = 100;

/// The typed config (when typing could finish) and the names of services
/// that had errors (their semantic checks would only repeat them).
pub struct Typed {
    pub config: Option<Config>,
    pub broken_services: BTreeSet<String>,
}

pub fn type_config(root: &mut Node, errors: &mut Vec<ConfigError>) -> Typed {
    let mut broken_services = BTreeSet::new();
    let config = type_at::<Config>(root, &[], errors, &mut |path| {
        if let [Seg::Key(s), Seg::Key(name), ..] = path {
            if s == "services" {
                broken_services.insert(name.clone());
            }
        }
    });
    Typed {
        config,
        broken_services,
    }
}

/// Types the top-level `defaults` as a (partial) service, so its unknown
/// keys and bad values are reported once, at `defaults`, and removed before
/// they are copied into every service.
pub fn check_defaults(root: &mut Node, errors: &mut Vec<ConfigError>) {
    if root.get("defaults").and_then(Node::entries).is_some() {
        let prefix = [Seg::Key("defaults".into())];
        type_at::<ServiceConfig>(root, &prefix, errors, &mut |_| {});
    }
}

/// Types the subtree of `root` at `prefix` as `T`; each error is reported
/// (its full path handed to `on_error`), its key removed, and typing retried.
fn type_at<T: DeserializeOwned>(
    root: &mut Node,
    prefix: &[Seg],
    errors: &mut Vec<ConfigError>,
    on_error: &mut dyn FnMut(&[Seg]),
) -> Option<T> {
    // Maps that had an unknown key: a "missing key" there is most likely
    // the same typo, already reported with a hint.
    let mut misspelt: Vec<Vec<Seg>> = Vec::new();
    for _ in 0..MAX_ERRORS {
        let json = root.lookup(prefix)?.0.to_json();
        let err = match serde_path_to_error::deserialize::<_, T>(json) {
            Ok(value) => return Some(value),
            Err(e) => e,
        };
        let mut path = prefix.to_vec();
        path.extend(to_segs(err.path()));
        let message = err.inner().to_string();
        on_error(&path);
        if message.starts_with("unknown field") {
            misspelt.push(path[..path.len().saturating_sub(1)].to_vec());
        }
        let repeated = message.starts_with("missing field") && misspelt.contains(&path);
        if !repeated {
            let (text, prefer_key) = describe(&path, &message);
            errors.push(root.pos_of(&path, prefer_key).error(text));
        }
        if path.len() == prefix.len() || !root.remove(&path) {
            break;
        }
    }
    None
}

fn to_segs(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } | Segment::Enum { variant: key } => Some(Seg::Key(key.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// "in service \"web\"", "in \"restart\" of service \"web\"", "in \"api\"".
fn context(parent: &[Seg]) -> String {
    match parent {
        [] => "at the top level".into(),
        [Seg::Key(s), Seg::Key(name)] if s == "services" => format!("in service \"{name}\""),
        [Seg::Key(s), Seg::Key(name), rest @ ..] if s == "services" => {
            format!("in \"{}\" of service \"{name}\"", path_string(rest))
        }
        _ => format!("in \"{}\"", path_string(parent)),
    }
}

/// The backquoted names after "expected one of" / "expected" in a serde message.
fn expected_names(message: &str) -> Vec<String> {
    let Some(i) = message.find("expected") else {
        return Vec::new();
    };
    message[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The closest candidate to `word`, when it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn hint(word: &str, expected: &[String]) -> String {
    match closest(word, expected.iter().map(String::as_str)) {
        Some(c) => format!(" (did you mean \"{c}\"?)"),
        None if !expected.is_empty() && expected.len() <= 12 => {
            format!(" (expected one of: {})", expected.join(", "))
        }
        None => String::new(),
    }
}

fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_string)
}

/// A readable message for a serde error at `path`, and whether it is best
/// pointed at the key (true) or at the value.
fn describe(path: &[Seg], message: &str) -> (String, bool) {
    let (parent, last) = match path.split_last() {
        Some((last, parent)) => (parent, Some(last)),
        None => (path, None),
    };
    if let Some(key) = quoted(message, "unknown field `") {
        let expected = expected_names(message);
        return (
            format!(
                "unknown key \"{key}\" {}{}",
                context(parent),
                hint(&key, &expected)
            ),
            true,
        );
    }
    let key = match last {
        Some(Seg::Key(k)) => k.clone(),
        Some(Seg::Index(_)) | None => path_string(path),
    };
    if let Some(variant) = quoted(message, "unknown variant `") {
        let expected = expected_names(message);
        return (
            format!(
                "unknown value \"{variant}\" for \"{key}\" {}{}",
                context(parent),
                hint(&variant, &expected)
            ),
            false,
        );
    }
    if let Some(field) = quoted(message, "missing field `") {
        let here = match path {
            [] => "at the top level".to_string(),
            _ => context(path),
        };
        return (format!("missing key \"{field}\" {here}"), false);
    }
    let message = if message.contains("did not match any variant of untagged enum Command") {
        "expected a command: a list of strings or one string".to_string()
    } else {
        message.to_string()
    };
    let what = if path.is_empty() {
        "invalid configuration".to_string()
    } else {
        format!("invalid value for \"{key}\" {}", context(parent))
    };
    (format!("{what}: {message}"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_key_is_found() {
        let keys = ["command", "shell", "user"];
        assert_eq!(closest("comand", keys), Some("command"));
        assert_eq!(closest("zzzz", keys), None);
    }

    #[test]
    fn messages_name_key_service_and_hint() {
        let path = [
            Seg::Key("services".into()),
            Seg::Key("web".into()),
            Seg::Key("comand".into()),
        ];
        let (msg, key) = describe(
            &path,
            "unknown field `comand`, expected one of `type`, `command`",
        );
        assert_eq!(
            msg,
            "unknown key \"comand\" in service \"web\" (did you mean \"command\"?)"
        );
        assert!(key);
        let path = [
            Seg::Key("services".into()),
            Seg::Key("web".into()),
            Seg::Key("restart".into()),
            Seg::Key("delay".into()),
        ];
        let (msg, key) = describe(&path, "invalid duration \"soon\"");
        assert_eq!(
            msg,
            "invalid value for \"delay\" in \"restart\" of service \"web\": invalid duration \"soon\""
        );
        assert!(!key);
    }
}
