//! Parses one document (YAML, TOML or JSON) into the position-aware tree of
//! `tree.rs`. YAML is read from yaml-rust2's marked events; JSON is first
//! checked by serde_json (for exact JSON syntax errors) and then read as YAML
//! (JSON is YAML 1.2) for positions; TOML is read with toml_edit, whose spans
//! are turned into line/column.

use super::budget::{check_nesting, Budget};
use super::tree::{Entry, Node, Pos, Value};
use super::ConfigError;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser};
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

/// Parses `text` alone (a fresh budget); an empty document is an empty map.
#[cfg(test)]
pub fn parse(text: &str, format: Format, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    parse_within(text, format, source, &mut Budget::default())
}

/// Parses `text` as one document of a load whose budget is `budget`
/// (`budget.rs`): its size, values and nesting are charged, and running
/// out is an error at the place it happened.
pub fn parse_within(
    text: &str,
    format: Format,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    if let Err(e) = budget.take_document(text.len()) {
        return Err(vec![Pos::unknown(source).error(e.to_string())]);
    }
    match format {
        Format::Yaml => parse_yaml(text, source, budget),
        Format::Json => parse_json(text, source, budget),
        Format::Toml => parse_toml(text, source, budget),
    }
}

// ------------------------------------------------------------------ YAML

/// A list or map being built, with the size of what it holds so far (its
/// own node included), so an anchor knows what each alias to it costs.
struct Frame {
    node: Node,
    anchor: usize,
    /// Maps: the key read, waiting for its value.
    key: Option<(String, Pos)>,
    /// Maps: the keys already set (duplicate check without a scan).
    keys: HashSet<String>,
    nodes: usize,
    text: usize,
}

struct YamlBuilder<'b> {
    source: Arc<str>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size in values and string bytes.
    anchors: HashMap<usize, (Node, usize, usize)>,
    root: Option<Node>,
    errors: Vec<ConfigError>,
    budget: &'b mut Budget,
    /// Set when a budget ran out: building stops there.
    exceeded: Option<ConfigError>,
}

impl YamlBuilder<'_> {
    fn pos(&self, m: &Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos::new(&self.source, m.line(), m.col() + 1)
    }

    fn charge(&mut self, nodes: usize, text: usize, why: &'static str, pos: &Pos) -> bool {
        match self.budget.take(nodes, text, why) {
            Ok(()) => true,
            Err(e) => {
                self.exceeded = Some(pos.error(e.to_string()));
                false
            }
        }
    }

    fn open(&mut self, node: Node, anchor: usize) {
        let depth = self.stack.len() + 1;
        if let Err(e) = check_nesting(depth) {
            self.exceeded = Some(node.pos.error(e.to_string()));
            return;
        }
        if self.charge(1, 0, "", &node.pos) {
            self.stack.push(Frame {
                node,
                anchor,
                key: None,
                keys: HashSet::new(),
                nodes: 1,
                text: 0,
            });
        }
    }

    /// Adds a finished node (of `nodes` values and `text` string bytes) to
    /// its parent. `raw` is the scalar text, used when the node is a key.
    fn push(&mut self, node: Node, raw: Option<String>, anchor: usize, size: (usize, usize)) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size.0, size.1));
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.nodes = frame.nodes.saturating_add(size.0);
        frame.text = frame.text.saturating_add(size.1);
        match &mut frame.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match frame.key.take() {
                None => match raw {
                    Some(k) => frame.key = Some((k, node.pos)),
                    None => {
                        self.errors
                            .push(node.pos.error("a mapping key must be a plain string"));
                        frame.key = Some((String::new(), node.pos));
                    }
                },
                Some((k, key_pos)) => {
                    if !frame.keys.insert(k.clone()) {
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
            },
            _ => {}
        }
    }

    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = self.pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if !self.charge(1, text.len(), "", &pos) {
                    return;
                }
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let value = if plain {
                    resolve_plain(&text)
                } else {
                    Value::Str {
                        text: text.clone(),
                        plain: false,
                    }
                };
                let size = (1, text.len());
                self.push(Node::new(value, pos), Some(text), anchor, size);
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Node::new(Value::Seq(Vec::new()), pos), anchor)
            }
            Event::MappingStart(anchor, _) => self.open(Node::empty_map(pos), anchor),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(mut frame) = self.stack.pop() {
                    if matches!(frame.node.value, Value::Map(_)) {
                        apply_merge_key(&mut frame.node);
                    }
                    let size = (frame.nodes, frame.text);
                    self.push(frame.node, None, frame.anchor, size);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, nodes, text)) => {
                    let (node, size) = (node.clone(), (*nodes, *text));
                    // An alias copies its anchor: it costs what the anchor
                    // holds, which is how an alias bomb is stopped.
                    if !self.charge(size.0, size.1, " after YAML aliases are expanded", &pos) {
                        return;
                    }
                    let raw = node.as_str().map(str::to_string);
                    self.push(node, raw, 0, size)
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
    let mut present: HashSet<String> = entries.iter().map(|e| e.key.clone()).collect();
    for source in sources {
        if let Value::Map(from) = source.value {
            for e in from {
                if present.insert(e.key.clone()) {
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

/// Why a YAML document was not read: a budget ran out (the place where),
/// or what the document says is wrong.
enum YamlFailure {
    Budget(ConfigError),
    Errors(Vec<ConfigError>),
}

fn parse_yaml(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    read_yaml(text, source, budget).map_err(|f| match f {
        YamlFailure::Budget(e) => vec![e],
        YamlFailure::Errors(e) => e,
    })
}

fn read_yaml(text: &str, source: &Arc<str>, budget: &mut Budget) -> Result<Node, YamlFailure> {
    let mut builder = YamlBuilder {
        source: source.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        errors: Vec::new(),
        budget,
        exceeded: None,
    };
    // The events are pulled one by one (yaml-rust2's own `load` recurses
    // per nesting level), so a budget stops the parse where it runs out.
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(e) => e,
            Err(e) => {
                let m = e.marker();
                let pos = Pos::new(source, m.line(), m.col() + 1);
                return Err(YamlFailure::Errors(vec![
                    pos.error(format!("YAML syntax error: {}", e.info()))
                ]));
            }
        };
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    let pos = builder.pos(&mark);
                    return Err(YamlFailure::Errors(vec![pos.error(
                        "a second YAML document (after `---`); a configuration file holds one \
                         document: move the rest into its own file and include it",
                    )]));
                }
            }
            ev => builder.on_event(ev, mark),
        }
        if let Some(e) = builder.exceeded.take() {
            return Err(YamlFailure::Budget(e));
        }
    }
    if !builder.errors.is_empty() {
        return Err(YamlFailure::Errors(builder.errors));
    }
    let root = builder
        .root
        .unwrap_or_else(|| Node::empty_map(Pos::new(source, 1, 1)));
    match root.value {
        Value::Null => Ok(Node::empty_map(root.pos)),
        Value::Map(_) => Ok(root),
        _ => Err(YamlFailure::Errors(vec![root.pos.error(
            "the document must be a mapping of sections (services:, api:, ...)",
        )])),
    }
}

// ------------------------------------------------------------------ JSON

fn parse_json(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    // Exact JSON syntax errors first, without building anything.
    let syntax = |e: serde_json::Error| {
        vec![Pos::new(source, e.line(), e.column().max(1)).error(format!("JSON syntax error: {e}"))]
    };
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(syntax)?;
    if !text.trim_start().starts_with('{') {
        return Err(vec![Pos::new(source, 1, 1).error(
            "the document must be an object of sections (\"services\", \"api\", ...)",
        )]);
    }
    // Valid JSON is valid YAML 1.2; the YAML reader gives the positions
    // and charges the budget.
    let mut trial = budget.clone();
    match read_yaml(text, source, &mut trial) {
        Ok(node) => {
            // Should the readers ever disagree (duplicate keys, numbers
            // beyond i64), keep the JSON value without positions.
            let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
            *budget = trial;
            if node.to_json() == value {
                Ok(node)
            } else {
                Ok(Node::from_json(&value, &Pos::unknown(source)))
            }
        }
        Err(YamlFailure::Budget(e)) => Err(vec![e]),
        Err(YamlFailure::Errors(_)) => {
            // JSON the YAML reader does not take (a tab where YAML
            // wants none): serde_json's recursion limit (128) bounds
            // the depth of this tree, the budget the rest.
            let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
            let node = Node::from_json(&value, &Pos::unknown(source));
            let (nodes, text_bytes, depth) = node.measure();
            check_nesting(depth)
                .and_then(|()| budget.take(nodes, text_bytes, ""))
                .map_err(|e| vec![Pos::unknown(source).error(e.to_string())])?;
            Ok(node)
        }
    }
}

// ------------------------------------------------------------------ TOML

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_col(offset)
}

/// Line and column of byte offsets in linear time overall: line starts
/// are found by binary search, and a column is counted on from the last
/// offset asked on the same line (the TOML reader asks in document
/// order; one long line of many values would otherwise be quadratic).
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// (offset, line, col) of the last answer.
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            text,
            starts,
            last: std::cell::Cell::new((0, 1, 1)),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let (last_off, last_line, last_col) = self.last.get();
        let (from, col0) = if last_line == line && last_off <= offset {
            (last_off, last_col)
        } else {
            (line_start, 1)
        };
        let col = col0
            + self
                .text
                .get(from..offset)
                .map_or(offset - from, |t| t.chars().count());
        self.last.set((offset, line, col));
        (line, col)
    }
}

struct TomlReader<'a> {
    lines: LineIndex<'a>,
    source: &'a Arc<str>,
    budget: &'a mut Budget,
    /// Set when a budget ran out: the rest is read as nulls, not built.
    exceeded: Option<ConfigError>,
}

impl TomlReader<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>, fallback: &Pos) -> Pos {
        match span {
            Some(r) => {
                let (l, c) = self.lines.line_col(r.start);
                Pos::new(self.source, l, c)
            }
            None => fallback.clone(),
        }
    }

    /// Charges one value (of `text` string bytes) at nesting `depth`;
    /// false once a budget has run out.
    fn charge(&mut self, depth: usize, text: usize, pos: &Pos) -> bool {
        if self.exceeded.is_some() {
            return false;
        }
        match check_nesting(depth).and_then(|()| self.budget.take(1, text, "")) {
            Ok(()) => true,
            Err(e) => {
                self.exceeded = Some(pos.error(e.to_string()));
                false
            }
        }
    }

    fn table<'t>(
        &mut self,
        entries: impl Iterator<Item = (&'t toml_edit::Key, &'t toml_edit::Item)>,
        pos: Pos,
        depth: usize,
    ) -> Node {
        if !self.charge(depth, 0, &pos) {
            return Node::new(Value::Null, pos);
        }
        let mut out = Vec::new();
        for (key, item) in entries {
            let key_pos = self.pos(key.span(), &pos);
            let value = self.item(item, &key_pos, depth + 1);
            out.push(Entry {
                key: key.get().to_string(),
                key_pos,
                value,
            });
        }
        Node::new(Value::Map(out), pos)
    }

    fn item(&mut self, item: &toml_edit::Item, key_pos: &Pos, depth: usize) -> Node {
        use toml_edit::Item;
        match item {
            Item::None => Node::new(Value::Null, key_pos.clone()),
            Item::Value(v) => self.value(v, key_pos, depth),
            Item::Table(t) => {
                let pos = self.pos(t.span(), key_pos);
                // Keys of `[a.b]` headers carry no span of their own here;
                // the key position of the parent is the best there is.
                self.table(t.get_values_keys(), pos, depth)
            }
            Item::ArrayOfTables(a) => {
                if !self.charge(depth, 0, key_pos) {
                    return Node::new(Value::Null, key_pos.clone());
                }
                let items = a
                    .iter()
                    .map(|t| {
                        let pos = self.pos(t.span(), key_pos);
                        self.table(t.get_values_keys(), pos, depth + 1)
                    })
                    .collect();
                Node::new(Value::Seq(items), key_pos.clone())
            }
        }
    }

    fn value(&mut self, v: &toml_edit::Value, key_pos: &Pos, depth: usize) -> Node {
        use toml_edit::Value as T;
        let pos = self.pos(v.span(), key_pos);
        if let T::InlineTable(t) = v {
            return self.table(t.iter().filter_map(|(k, _)| t.get_key_value(k)), pos, depth);
        }
        let text = match v {
            T::String(s) => s.value().len(),
            _ => 0,
        };
        // Only lists and maps count as nesting, as in the YAML reader.
        let nesting = if matches!(v, T::Array(_)) { depth } else { 0 };
        if !self.charge(nesting, text, &pos) {
            return Node::new(Value::Null, pos);
        }
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
            T::Array(a) => Value::Seq(a.iter().map(|v| self.value(v, &pos, depth + 1)).collect()),
            T::InlineTable(_) => Value::Null,
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

fn parse_toml(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    let doc = toml_edit::ImDocument::parse(text).map_err(|e| {
        let (l, c) = e.span().map_or((1, 1), |r| line_col(text, r.start));
        let msg = e.message().trim().to_string();
        vec![Pos::new(source, l, c).error(format!("TOML syntax error: {msg}"))]
    })?;
    let mut reader = TomlReader {
        lines: LineIndex::new(text),
        source,
        budget,
        exceeded: None,
    };
    let root = doc.as_table();
    let node = reader.table(root.get_values_keys(), Pos::new(source, 1, 1), 1);
    match reader.exceeded {
        Some(e) => Err(vec![e]),
        None => Ok(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_a_scan_in_any_order() {
        let text = "a = 1\nbé = [1, 2, 3]\n\nc = \"x\"";
        let scan = |offset: usize| {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            (line, before[start..].chars().count() + 1)
        };
        let index = LineIndex::new(text);
        let offsets: Vec<usize> = (0..=text.len())
            .filter(|&o| text.is_char_boundary(o))
            .collect();
        for &o in offsets.iter().chain(offsets.iter().rev()) {
            assert_eq!(index.line_col(o), scan(o), "offset {o}");
        }
    }
}
