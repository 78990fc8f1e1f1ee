//! The YAML reader: yaml-rust2's marked events, pulled one at a time, built
//! into the position-aware tree with the budgets of `budget.rs` charged as
//! it goes (an alias costs what its anchor holds), duplicate keys and merge
//! keys (`<<`) handled, one document per file.

use super::budget::{check_nesting, Budget};
use super::formats::resolve_plain;
use super::tree::{Entry, Node, Pos, Value};
use super::ConfigError;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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

/// Why a YAML document was not read: a budget ran out (the place where),
/// or what the document says is wrong.
pub(super) enum YamlFailure {
    Budget(ConfigError),
    Errors(Vec<ConfigError>),
}

pub(super) fn parse_yaml(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    read_yaml(text, source, budget).map_err(|f| match f {
        YamlFailure::Budget(e) => vec![e],
        YamlFailure::Errors(e) => e,
    })
}

pub(super) fn read_yaml(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, YamlFailure> {
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
