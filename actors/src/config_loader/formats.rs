//! Parses one document (YAML, TOML or JSON) into the position-aware tree of
//! `tree.rs`. YAML is read from yaml-rust2's marked events; JSON is first
//! checked by serde_json (for exact JSON syntax errors) and then read as YAML
//! (JSON is YAML 1.2) for positions; TOML is read with toml_edit, whose spans
//! are turned into line/column.

use super::tree::{Entry, Node, Pos, Value};
use super::ConfigError;
use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
    Json,
}

impl Format {
    /// By extension; anything unknown is YAML (SPEC 2).
    pub fn from_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".toml") {
            Format::Toml
        } else if lower.ends_with(".json") {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Parses `text`; an empty document is an empty map.
pub fn parse(text: &str, format: Format, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    match format {
        Format::Yaml => parse_yaml(text, source),
        Format::Json => parse_json(text, source),
        Format::Toml => parse_toml(text, source),
    }
}

// ------------------------------------------------------------------ YAML

enum Frame {
    Seq(Node, usize),
    Map {
        node: Node,
        anchor: usize,
        key: Option<(String, Pos)>,
    },
}

struct YamlBuilder {
    source: Arc<str>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    errors: Vec<ConfigError>,
}

impl YamlBuilder {
    fn pos(&self, m: &Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos::new(&self.source, m.line(), m.col() + 1)
    }

    /// Adds a finished node to its parent. `raw` is the scalar text, used
    /// when the node is a mapping key.
    fn push(&mut self, node: Node, raw: Option<String>, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map { node: map, key, .. }) => match key.take() {
                None => match raw {
                    Some(k) => *key = Some((k, node.pos)),
                    None => {
                        self.errors
                            .push(node.pos.error("a mapping key must be a plain string"));
                        *key = Some((String::new(), node.pos));
                    }
                },
                Some((k, key_pos)) => {
                    if let Value::Map(entries) = &mut map.value {
                        if entries.iter().any(|e| e.key == k) {
                            self.errors
                                .push(key_pos.error(format!("duplicate key \"{k}\"")));
                            entries.retain(|e| e.key != k);
                        }
                        entries.push(Entry {
                            key: k,
                            key_pos,
                            value: node,
                        });
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for YamlBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = self.pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let value = if plain {
                    resolve_plain(&text)
                } else {
                    Value::Str {
                        text: text.clone(),
                        plain: false,
                    }
                };
                self.push(Node::new(value, pos), Some(text), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push(Frame::Seq(Node::new(Value::Seq(Vec::new()), pos), anchor));
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                node: Node::empty_map(pos),
                anchor,
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor)) => self.push(node, None, anchor),
                Some(Frame::Map {
                    mut node, anchor, ..
                }) => {
                    apply_merge_key(&mut node);
                    self.push(node, None, anchor)
                }
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => {
                    let raw = node.as_str().map(str::to_string);
                    self.push(node, raw, 0)
                }
                None => self.errors.push(pos.error("unknown alias")),
            },
            _ => {}
        }
    }
}

/// YAML merge keys (`<<: *base` or `<<: [*a, *b]`): the keys of the
/// merged maps that the mapping does not set itself (earlier maps first).
fn apply_merge_key(node: &mut Node) {
    let Some(merge) = node.take("<<") else {
        return;
    };
    let sources = match merge.value.value {
        Value::Seq(items) => items,
        other => vec![Node::new(other, merge.value.pos)],
    };
    let Some(entries) = node.entries_mut() else {
        return;
    };
    for source in sources {
        if let Value::Map(from) = source.value {
            for e in from {
                if !entries.iter().any(|x| x.key == e.key) {
                    entries.push(e);
                }
            }
        }
    }
}

/// The type of an unquoted YAML scalar (YAML 1.2 core schema).
pub fn resolve_plain(text: &str) -> Value {
    match Yaml::from_str(text) {
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(r) => match r.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::Str {
                text: text.to_string(),
                plain: true,
            },
        },
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Null => Value::Null,
        _ => Value::Str {
            text: text.to_string(),
            plain: true,
        },
    }
}

fn parse_yaml(text: &str, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    let mut builder = YamlBuilder {
        source: source.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        errors: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        let pos = Pos::new(source, m.line(), m.col() + 1);
        return Err(vec![pos.error(format!("YAML syntax error: {}", e.info()))]);
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    let root = builder
        .root
        .unwrap_or_else(|| Node::empty_map(Pos::new(source, 1, 1)));
    match root.value {
        Value::Null => Ok(Node::empty_map(root.pos)),
        Value::Map(_) => Ok(root),
        _ => Err(vec![root.pos.error(
            "the document must be a mapping of sections (services:, api:, ...)",
        )]),
    }
}

// ------------------------------------------------------------------ JSON

fn parse_json(text: &str, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        vec![Pos::new(source, e.line(), e.column().max(1)).error(format!("JSON syntax error: {e}"))]
    })?;
    if !value.is_object() {
        return Err(vec![Pos::new(source, 1, 1).error(
            "the document must be an object of sections (\"services\", \"api\", ...)",
        )]);
    }
    // Valid JSON is valid YAML 1.2; the YAML reader gives the positions.
    // Should it ever disagree, keep the JSON value without positions.
    match parse_yaml(text, source) {
        Ok(node) if node.to_json() == value => Ok(node),
        _ => Ok(Node::from_json(&value, &Pos::unknown(source))),
    }
}

// ------------------------------------------------------------------ TOML

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

struct TomlReader<'a> {
    text: &'a str,
    source: &'a Arc<str>,
}

impl TomlReader<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>, fallback: &Pos) -> Pos {
        match span {
            Some(r) => {
                let (l, c) = line_col(self.text, r.start);
                Pos::new(self.source, l, c)
            }
            None => fallback.clone(),
        }
    }

    fn table<'t>(
        &self,
        entries: impl Iterator<Item = (&'t toml_edit::Key, &'t toml_edit::Item)>,
        pos: Pos,
    ) -> Node {
        let mut out = Vec::new();
        for (key, item) in entries {
            let key_pos = self.pos(key.span(), &pos);
            let value = self.item(item, &key_pos);
            out.push(Entry {
                key: key.get().to_string(),
                key_pos,
                value,
            });
        }
        Node::new(Value::Map(out), pos)
    }

    fn item(&self, item: &toml_edit::Item, key_pos: &Pos) -> Node {
        use toml_edit::Item;
        match item {
            Item::None => Node::new(Value::Null, key_pos.clone()),
            Item::Value(v) => self.value(v, key_pos),
            Item::Table(t) => {
                let pos = self.pos(t.span(), key_pos);
                // Keys of `[a.b]` headers carry no span of their own here;
                // the key position of the parent is the best there is.
                self.table(t.get_values_keys(), pos)
            }
            Item::ArrayOfTables(a) => {
                let items = a
                    .iter()
                    .map(|t| {
                        let pos = self.pos(t.span(), key_pos);
                        self.table(t.get_values_keys(), pos)
                    })
                    .collect();
                Node::new(Value::Seq(items), key_pos.clone())
            }
        }
    }

    fn value(&self, v: &toml_edit::Value, key_pos: &Pos) -> Node {
        use toml_edit::Value as T;
        let pos = self.pos(v.span(), key_pos);
        let value = match v {
            T::String(s) => Value::Str {
                text: s.value().clone(),
                plain: false,
            },
            T::Integer(i) => Value::Int(*i.value()),
            T::Float(f) => Value::Float(*f.value()),
            T::Boolean(b) => Value::Bool(*b.value()),
            T::Datetime(d) => Value::Str {
                text: d.value().to_string(),
                plain: false,
            },
            T::Array(a) => Value::Seq(a.iter().map(|v| self.value(v, &pos)).collect()),
            T::InlineTable(t) => {
                return self.table(t.iter().filter_map(|(k, _)| t.get_key_value(k)), pos)
            }
        };
        Node::new(value, pos)
    }
}

/// Helper so tables and inline tables iterate `(Key, Item)` pairs alike.
trait KeyedItems {
    fn get_values_keys(&self)
        -> Box<dyn Iterator<Item = (&toml_edit::Key, &toml_edit::Item)> + '_>;
}

impl KeyedItems for toml_edit::Table {
    fn get_values_keys(
        &self,
    ) -> Box<dyn Iterator<Item = (&toml_edit::Key, &toml_edit::Item)> + '_> {
        Box::new(self.iter().filter_map(|(k, _)| self.get_key_value(k)))
    }
}

fn parse_toml(text: &str, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
        let (l, c) = e.span().map_or((1, 1), |r| line_col(text, r.start));
        let msg = e.message().trim().to_string();
        vec![Pos::new(source, l, c).error(format!("TOML syntax error: {msg}"))]
    })?;
    let reader = TomlReader { text, source };
    let root = doc.as_table();
    Ok(reader.table(root.get_values_keys(), Pos::new(source, 1, 1)))
}
