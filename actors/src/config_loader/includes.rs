//! Reads a source and everything it includes (SPEC 2.2) into one merged
//! tree: `${VAR}` expansion per file, `include` entries resolved relative to
//! the including file (globs in lexical order), cycles reported with the
//! whole chain, depth limited to 16, and the merge order "included files in
//! list order, then the including file itself". Every error about reading
//! an included source names the include chain that led to it.
//!
//! Remote settings bootstrap: the `remote:` section must be known before
//! the files that carry it are all read, so each key is taken from the
//! first file read that sets it (reading order: the top file first, then
//! its includes depth first). The top file therefore always wins, as it
//! does in the merge. A plain-http top-level source (`--config http://...`)
//! is accepted only if the document itself sets `remote.allow_http: true`
//! (or an earlier `--config` file did).

use super::budget::Budget;
use super::expand::expand_tree;
use super::formats::parse_within;
use super::merge::merge_documents;
use super::source::{short_names, Source};
use super::tree::{Node, Pos, Value};
use super::ConfigError;
use crate::model::config::RemoteConfig;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The deepest include level allowed; the top file is level 0.
pub const MAX_DEPTH: usize = 16;

/// One source to read and where it was named (for errors).
pub struct Pending {
    pub source: Source,
    /// The `include` entry (or None for a top-level source).
    pub named_at: Option<Pos>,
}

#[derive(Default)]
pub struct Reader {
    pub errors: Vec<ConfigError>,
    /// Things worth knowing that do not stop the load.
    pub warnings: Vec<String>,
    /// Every source actually read, in order.
    pub read: Vec<String>,
    /// The chain of sources being read: (identity, name).
    chain: Vec<(String, String)>,
    /// Identities of every source read so far.
    seen: std::collections::HashSet<String>,
    /// `remote:` keys in force, each from the first file that set it.
    remote_keys: serde_json::Map<String, serde_json::Value>,
    /// Hex sha256 of every remote document used, by URL (`remote.watch`).
    pub remote_digests: BTreeMap<String, String>,
    /// What the documents read so far have used of the load's budgets.
    pub budget: Budget,
}

type TreeFuture<'a> = Pin<Box<dyn Future<Output = Option<Node>> + 'a>>;

impl Reader {
    fn fail(&mut self, at: &Option<Pos>, source: &Source, message: String) {
        let err = match at {
            Some(pos) => pos.error(message),
            None => ConfigError {
                source: source.name(),
                line: None,
                col: None,
                message,
            },
        };
        self.errors.push(err);
    }

    /// The remote settings of the files read so far (defaults for keys no
    /// file set; a malformed section is reported by typing later).
    pub fn remote_settings(&self) -> RemoteConfig {
        serde_json::from_value(serde_json::Value::Object(self.remote_keys.clone()))
            .unwrap_or_default()
    }

    /// Takes the `remote:` keys of a file just parsed that no earlier file set.
    fn absorb_remote(&mut self, root: &Node) {
        let Some(serde_json::Value::Object(keys)) = root.get("remote").map(Node::to_json) else {
            return;
        };
        for (k, v) in keys {
            self.remote_keys.entry(k).or_insert(v);
        }
    }

    /// `a.yaml -> https://h/b.yaml -> name` for errors about `name`.
    fn chain_to(&self, name: &str) -> String {
        let mut names: Vec<String> = self.chain.iter().map(|(_, n)| n.clone()).collect();
        names.push(name.to_string());
        short_names(&names).join(" -> ")
    }

    /// Reads `pending` at `depth` and all it includes, plus `extra` as if
    /// listed at the end of its `include` (repeated `--config`). Returns the
    /// merged tree; None when the file itself could not be read or parsed.
    pub fn read_tree(
        &mut self,
        pending: Pending,
        depth: usize,
        extra: Vec<Pending>,
    ) -> TreeFuture<'_> {
        Box::pin(async move {
            let Pending { source, named_at } = pending;
            let name = source.name();
            let identity = source.identity();
            if let Some(start) = self.chain.iter().position(|(id, _)| *id == identity) {
                let mut cycle: Vec<String> =
                    self.chain[start..].iter().map(|(_, n)| n.clone()).collect();
                cycle.push(name.clone());
                let mut msg = format!("include cycle: {}", short_names(&cycle).join(" -> "));
                if start > 0 {
                    // Name how the cycle was reached too.
                    let before: Vec<String> =
                        self.chain[..start].iter().map(|(_, n)| n.clone()).collect();
                    msg.push_str(&format!(
                        " (included from {})",
                        short_names(&before).join(" -> ")
                    ));
                }
                self.fail(&named_at, &source, msg);
                return None;
            }
            if !self.seen.insert(identity.clone()) {
                // Included twice, not in a cycle (a "diamond"): its content
                // is already merged, reading it again would only clash.
                let at = named_at.as_ref().map_or(name.clone(), Pos::describe);
                self.warnings
                    .push(format!("{at}: \"{name}\" is already included; skipped"));
                return None;
            }
            if depth > MAX_DEPTH {
                let msg = format!(
                    "{}: include depth limit exceeded: \"{name}\" would be at depth {depth} (max {MAX_DEPTH})",
                    self.chain_to(&name)
                );
                self.fail(&named_at, &source, msg);
                return None;
            }
            let mut settings = self.remote_settings();
            // A plain-http top source is fetched, then kept only if it
            // allows http itself (see the module header).
            let http_top = depth == 0
                && !settings.allow_http
                && matches!(&source, Source::Url { url, .. } if url.scheme() == "http");
            settings.allow_http |= http_top;
            let fetched = source.read(&settings, &mut self.warnings).await;
            let text = match fetched {
                Ok(t) => t,
                Err(e) => {
                    let msg = match &named_at {
                        Some(_) => format!("{}: {e}", self.chain_to(&name)),
                        None => e.to_string(),
                    };
                    self.fail(&named_at, &source, msg);
                    return None;
                }
            };
            self.read.push(name.clone());
            if let Some(sha) = &text.remote_sha256 {
                self.remote_digests.insert(identity.clone(), sha.clone());
            }
            let src_name: Arc<str> = Arc::from(name.as_str());
            let parsed = parse_within(&text.text, text.format, &src_name, &mut self.budget);
            let mut root = match parsed {
                Ok(root) => root,
                Err(errs) => {
                    self.errors.extend(errs);
                    return None;
                }
            };
            expand_tree(&mut root, &mut self.budget, &mut self.errors);
            self.absorb_remote(&root);
            if http_top && !self.remote_settings().allow_http {
                self.fail(
                    &named_at,
                    &source,
                    format!(
                        "plain http is refused for \"{name}\"; use https, or set \
                         `remote.allow_http: true` in this file"
                    ),
                );
                return None;
            }
            let mut includes = self.include_list(&mut root, &source);
            includes.extend(extra);

            self.chain.push((identity, name));
            let mut merged: Option<Node> = None;
            for inc in includes {
                if let Some(tree) = self.read_tree(inc, depth + 1, Vec::new()).await {
                    merged = Some(match merged {
                        Some(base) => merge_documents(base, tree, &mut self.errors),
                        None => tree,
                    });
                }
            }
            self.chain.pop();
            Some(match merged {
                Some(base) => merge_documents(base, root, &mut self.errors),
                None => root,
            })
        })
    }

    /// Takes the `include` key out of `root` and resolves its entries.
    fn include_list(&mut self, root: &mut Node, source: &Source) -> Vec<Pending> {
        let Some(entry) = root.take("include") else {
            return Vec::new();
        };
        let items = match entry.value.value {
            Value::Seq(items) => items,
            Value::Str { .. } => vec![entry.value],
            Value::Null => Vec::new(),
            _ => {
                self.errors.push(
                    entry
                        .value
                        .pos
                        .error("\"include\" must be a list of paths or globs"),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            let (spec, pin) = match (&item.value, item.get("url")) {
                (Value::Str { text, .. }, _) => (text.clone(), None),
                (_, Some(url)) => {
                    let pin = item.get("sha256").map(|n| match n.as_str() {
                        Some(s) => s.trim().to_string(),
                        None => n.to_json().to_string(),
                    });
                    let unknown: Vec<&str> = item
                        .entries()
                        .into_iter()
                        .flatten()
                        .map(|e| e.key.as_str())
                        .filter(|k| *k != "url" && *k != "sha256")
                        .collect();
                    if let Some(k) = unknown.first() {
                        self.errors.push(item.pos.error(format!(
                            "unknown key \"{k}\" in an include entry; expected `url` and `sha256`"
                        )));
                        continue;
                    }
                    (url.as_str().unwrap_or_default().to_string(), pin)
                }
                _ => {
                    self.errors.push(
                        item.pos
                            .error("an include entry must be a path, a glob or {url, sha256}"),
                    );
                    continue;
                }
            };
            match source.resolve_include(&spec, pin) {
                Ok(sources) if sources.is_empty() => self.warnings.push(format!(
                    "{}: include \"{spec}\" matched no files",
                    item.pos.describe()
                )),
                Ok(sources) => out.extend(sources.into_iter().map(|s| Pending {
                    source: s,
                    named_at: Some(item.pos.clone()),
                })),
                Err(e) if self.chain.is_empty() => self.errors.push(item.pos.error(e.to_string())),
                Err(e) => {
                    let chain = self.chain_to(&source.name());
                    self.errors.push(item.pos.error(format!("{chain}: {e}")));
                }
            }
        }
        out
    }
}
