//! supervisord's `%(name)s` / `%(process_num)02d` expansions (Python
//! %-formatting over a fixed set of names) and its `environment =` syntax
//! (`KEY="v",K2=v2`). Every `$` the result carries is escaped as `$$` so the
//! oneinit loader hands it to the process unchanged (SPEC 8); an
//! `%(ENV_X)s` of a variable that is not set here becomes `${X}`, expanded by
//! oneinit when it starts.

use std::collections::BTreeMap;
use std::path::Path;

/// A value an expansion name stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
}

/// The names `%(...)` may use in one section.
#[derive(Clone, Debug)]
pub struct Expansions {
    vars: BTreeMap<String, Val>,
}

impl Expansions {
    /// `here`, `host_node_name` and `ENV_*`: what every section may use.
    pub fn for_file(here: &Path) -> Self {
        let mut vars = BTreeMap::new();
        vars.insert("here".into(), Val::Str(here.display().to_string()));
        vars.insert("host_node_name".into(), Val::Str(host_name()));
        for (k, v) in std::env::vars() {
            vars.insert(format!("ENV_{k}"), Val::Str(v));
        }
        Expansions { vars }
    }

    pub fn with(mut self, name: &str, value: Val) -> Self {
        self.vars.insert(name.into(), value);
        self
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Why a `%(name)s` expansion failed; the caller adds the position.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExpandError {
    #[error("unclosed expansion `%({inner}`: write `%(name)s`")]
    Unclosed { inner: String },
    #[error("expansion `%({name})` has no conversion letter: write `%({name})s`")]
    NoConversion { name: String },
    #[error("unknown expansion `%({name})`; this section knows {} and ENV_*", .known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("`%({name}){spec}{conv}`: a width of {digits} is out of range (at most {MAX_WIDTH})")]
    WidthOutOfRange {
        name: String,
        spec: String,
        conv: char,
        digits: String,
    },
    #[error("`%({name}){spec}{conv}` needs a number, but {name} is {value:?}")]
    NotANumber {
        name: String,
        spec: String,
        conv: char,
        value: String,
    },
    #[error("unsupported conversion `%({name}){spec}{conv}`: use s or d")]
    UnsupportedConversion {
        name: String,
        spec: String,
        conv: char,
    },
}

/// Why an `environment =` value cannot be read; the caller adds the key
/// and the position.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EnvironmentError {
    #[error(
        "malformed environment entry near {key:?}: expected KEY=value pairs separated by commas"
    )]
    Malformed { key: String },
    #[error("environment value of {key} has no closing {quote}")]
    Unclosed { key: String, quote: char },
}

/// The result of expanding one value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expanded {
    /// For the oneinit YAML: `$` written as `$$`, unset `%(ENV_X)s` as `${X}`.
    pub escaped: String,
    /// `%(ENV_X)s` names that were not set at import time.
    pub unset_env: Vec<String>,
}

impl Expanded {
    /// The plain text (for paths the importer itself opens, and names).
    pub fn text_unescaped(&self) -> String {
        self.escaped.replace("$$", "$")
    }
}

/// Expands `%(name)FLAGSconv` and `%%` in `text`. An unknown name or an
/// unsupported conversion is an error (the caller adds the position).
pub fn expand(text: &str, exp: &Expansions) -> Result<Expanded, ExpandError> {
    let mut out = Expanded::default();
    let mut rest = text;
    while let Some(pos) = rest.find('%') {
        push_literal(&mut out.escaped, &rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.escaped.push('%');
            rest = tail;
            continue;
        }
        let Some(inner) = after.strip_prefix('(') else {
            // Python would reject a lone `%`; keeping it is kinder and harmless.
            out.escaped.push('%');
            rest = after;
            continue;
        };
        let Some(close) = inner.find(')') else {
            return Err(ExpandError::Unclosed {
                inner: inner.to_string(),
            });
        };
        let name = &inner[..close];
        let spec_and_rest = &inner[close + 1..];
        let spec_len = spec_and_rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(|| ExpandError::NoConversion {
                name: name.to_string(),
            })?;
        let spec = &spec_and_rest[..spec_len];
        let conv = spec_and_rest[spec_len..].chars().next().unwrap_or('s');
        rest = &spec_and_rest[spec_len + conv.len_utf8()..];
        match exp.vars.get(name) {
            Some(val) => push_literal(&mut out.escaped, &format_val(name, val, spec, conv)?),
            None => match name.strip_prefix("ENV_") {
                Some(var) => {
                    out.escaped.push_str(&format!("${{{var}}}"));
                    out.unset_env.push(var.to_string());
                }
                None => {
                    let known = exp
                        .vars
                        .keys()
                        .filter(|k| !k.starts_with("ENV_"))
                        .cloned()
                        .collect();
                    return Err(ExpandError::Unknown {
                        name: name.to_string(),
                        known,
                    });
                }
            },
        }
    }
    push_literal(&mut out.escaped, rest);
    Ok(out)
}

fn push_literal(out: &mut String, text: &str) {
    out.push_str(&text.replace('$', "$$"));
}

/// The widest `%(name)NNs` padding: a config value never needs more, and
/// `%(here)999999999999s` would otherwise allocate that many spaces.
const MAX_WIDTH: usize = 4096;

/// Python %-formatting of one value: flags `-0`, a width, conversions s r d i.
fn format_val(name: &str, val: &Val, spec: &str, conv: char) -> Result<String, ExpandError> {
    let left = spec.contains('-');
    let zero = spec
        .trim_start_matches(['-', '+', ' ', '#'])
        .starts_with('0');
    let digits: String = spec
        .trim_start_matches(['-', '+', ' ', '#', '0'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let width: usize = match digits.parse() {
        Ok(w) if w <= MAX_WIDTH => w,
        Ok(_) | Err(_) if digits.is_empty() => 0,
        _ => {
            return Err(ExpandError::WidthOutOfRange {
                name: name.to_string(),
                spec: spec.to_string(),
                conv,
                digits,
            })
        }
    };
    let body = match conv {
        's' | 'r' => match val {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
        },
        'd' | 'i' => match val {
            Val::Int(i) => i.to_string(),
            Val::Str(s) => s
                .trim()
                .parse::<i64>()
                .map(|i| i.to_string())
                .map_err(|_| ExpandError::NotANumber {
                    name: name.to_string(),
                    spec: spec.to_string(),
                    conv,
                    value: s.clone(),
                })?,
        },
        other => {
            return Err(ExpandError::UnsupportedConversion {
                name: name.to_string(),
                spec: spec.to_string(),
                conv: other,
            })
        }
    };
    Ok(pad(&body, width, left, zero && matches!(conv, 'd' | 'i')))
}

fn pad(body: &str, width: usize, left: bool, zero: bool) -> String {
    let len = body.chars().count();
    if len >= width {
        return body.to_string();
    }
    let fill = width - len;
    if left {
        format!("{body}{}", " ".repeat(fill))
    } else if zero {
        match body.strip_prefix('-') {
            Some(num) => format!("-{}{num}", "0".repeat(fill)),
            None => format!("{}{body}", "0".repeat(fill)),
        }
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

/// Parses supervisord's `environment` value: `KEY="v",K2=v2,K3='a,b'`
/// (newlines count as separators' surrounding space). Values lose their
/// quotes. Errors say which pair is malformed.
pub fn parse_environment(text: &str) -> Result<Vec<(String, String)>, EnvironmentError> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        let key = key.trim().to_string();
        if chars.next() != Some('=') || key.is_empty() {
            return Err(EnvironmentError::Malformed { key });
        }
        while matches!(chars.peek(), Some(c) if *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == q {
                        closed = true;
                        break;
                    }
                    value.push(c);
                }
                if !closed {
                    return Err(EnvironmentError::Unclosed { key, quote: q });
                }
                // Anything up to the next comma belongs to the same value.
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    if !c.is_whitespace() {
                        value.push(c);
                    }
                    chars.next();
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        // A key given twice keeps its first place and its last value, as
        // in the dict supervisord reads it into (the YAML written from
        // these pairs must not repeat a key).
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Expansions {
        Expansions::for_file(Path::new("/etc/sv"))
            .with("program_name", Val::Str("web".into()))
            .with("process_num", Val::Int(3))
    }

    #[test]
    fn python_formats() {
        let e = exp();
        let x = |t: &str| expand(t, &e).expect("expands").escaped;
        assert_eq!(x("%(program_name)s_%(process_num)02d"), "web_03");
        assert_eq!(
            x("%(process_num)d|%(process_num)3d|%(process_num)-3d|"),
            "3|  3|3  |"
        );
        assert_eq!(x("%(here)s/app 100%% $HOME"), "/etc/sv/app 100% $$HOME");
        assert_eq!(x("date +%Y"), "date +%Y");
    }

    #[test]
    fn env_and_errors() {
        let e = exp().with("ENV_ONEINIT_T_X", Val::Str("a$b".into()));
        assert_eq!(
            expand("%(ENV_ONEINIT_T_X)s", &e).expect("expands").escaped,
            "a$$b"
        );
        let unset = expand("%(ENV_ONEINIT_T_SURELY_UNSET)s", &e).expect("expands");
        assert_eq!(unset.escaped, "${ONEINIT_T_SURELY_UNSET}");
        assert_eq!(unset.unset_env, vec!["ONEINIT_T_SURELY_UNSET".to_string()]);
        assert!(expand("%(nope)s", &e)
            .unwrap_err()
            .to_string()
            .contains("unknown expansion `%(nope)`"));
        assert!(expand("%(program_name)d", &e)
            .unwrap_err()
            .to_string()
            .contains("needs a number"));
    }

    #[test]
    fn environment_syntax() {
        let got =
            parse_environment("A=\"1,2\",B=plain, C='x y',\nD=\"$PATH:/bin\"").expect("parses");
        let want = [
            ("A", "1,2"),
            ("B", "plain"),
            ("C", "x y"),
            ("D", "$PATH:/bin"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        // Found by the supervisord_ini fuzz target: a repeated key was
        // written twice into the service's `environment` map.
        assert_eq!(
            parse_environment("A=1,B=2,A=3").expect("parses"),
            vec![
                ("A".to_string(), "3".to_string()),
                ("B".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            parse_environment("A=1,B").unwrap_err().to_string(),
            "malformed environment entry near \"B\": expected KEY=value pairs separated by commas"
        );
        assert_eq!(
            parse_environment("A=\"open").unwrap_err(),
            EnvironmentError::Unclosed {
                key: "A".into(),
                quote: '"'
            }
        );
    }
}
