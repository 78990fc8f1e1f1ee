//! `${VAR}` and `${VAR:-default}` expansion of string values (SPEC 2):
//! `$$` is a literal `$`, any other `$` stays as written (so `$1` and `$HOME`
//! reach a shell untouched), and `${VAR}` of an unset variable without a
//! default is an error naming the variable and where it was written.

use super::budget::{Budget, BudgetExceeded, MAX_TEXT_BYTES};
use super::formats::resolve_plain;
use super::tree::{Node, Value};
use super::ConfigError;

/// Why a string could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error(
        "environment variable \"{name}\" is not set; set it or write \"${{{name}:-default}}\""
    )]
    Unset { name: String },
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
}

/// Expands one string with `lookup` as the environment. Errors name the
/// first unset variable.
pub fn expand_str(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_start) = after.strip_prefix('{') {
            let Some(end) = body_start.find('}') else {
                // No closing brace: not a reference, keep it as written.
                out.push('$');
                rest = after;
                continue;
            };
            let body = &body_start[..end];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if !is_var_name(name) {
                out.push('$');
                rest = after;
                continue;
            }
            match (lookup(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(ExpandError::Unset {
                        name: name.to_string(),
                    })
                }
            }
            rest = &body_start[end + 1..];
            if out.len() > MAX_TEXT_BYTES {
                return Err(BudgetExceeded::Text(" after ${VAR} expansion").into());
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands every string value of `root` from the process environment.
/// What an expansion adds to a string is charged to `budget` (text bytes):
/// a long variable named many times is stopped like an alias bomb.
pub fn expand_tree(root: &mut Node, budget: &mut Budget, errors: &mut Vec<ConfigError>) {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut exceeded = false;
    root.for_each_str_mut(&mut |value, pos| {
        let Value::Str { text, plain } = value else {
            return;
        };
        if exceeded || !text.contains('$') {
            return;
        }
        let expanded = expand_str(text, &lookup).and_then(|new| {
            let grown = new.len().saturating_sub(text.len());
            match budget.take(0, grown, " after ${VAR} expansion") {
                Ok(()) => Ok(new),
                Err(e) => {
                    exceeded = true;
                    Err(e.into())
                }
            }
        });
        match expanded {
            // An unquoted YAML scalar gets its type from the expanded text.
            Ok(new) if *plain => *value = resolve_plain(&new),
            Ok(new) => *text = new,
            Err(e) => errors.push(pos.error(e.to_string())),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expansion_cases() {
        let cases = [
            ("plain", "plain"),
            ("${HOST}:5432", "db.local:5432"),
            ("${MISSING:-fallback}", "fallback"),
            ("${EMPTY:-fallback}", "fallback"),
            ("${HOST:-x}", "db.local"),
            ("cost $$5", "cost $5"),
            ("$$${HOST}", "$db.local"),
            ("echo $1 $HOME", "echo $1 $HOME"),
            ("trailing $", "trailing $"),
            ("${not closed", "${not closed"),
            ("${1bad}", "${1bad}"),
            ("${MISSING:-}", ""),
        ];
        for (input, want) in cases {
            assert_eq!(expand_str(input, &env).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn unset_variable_is_an_error_naming_it() {
        let err = expand_str("x ${NOPE} y", &env).unwrap_err();
        assert!(err.to_string().contains("\"NOPE\""), "{err}");
    }
}
