//! The position-aware value tree every format is parsed into (YAML, TOML and
//! JSON alike). Each node remembers the source and line/column it came from,
//! so positions survive includes, merging and `defaults`, and every later
//! error (typing, validation) can point back at the text the user wrote.

use super::ConfigError;
use std::sync::Arc;

/// Where a node was written: the source (path or URL) and, when the format
/// gives it, the 1-based line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct Pos {
    pub source: Arc<str>,
    pub at: Option<(usize, usize)>,
}

impl Pos {
    pub fn new(source: &Arc<str>, line: usize, col: usize) -> Pos {
        Pos {
            source: source.clone(),
            at: Some((line, col)),
        }
    }

    pub fn unknown(source: &Arc<str>) -> Pos {
        Pos {
            source: source.clone(),
            at: None,
        }
    }

    /// An error located here.
    /// An error located here. A message is kept on one line (errors are
    /// printed one per line).
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        let message: String = message.into();
        let message = if message.contains('\n') {
            let lines: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            lines.join("; ")
        } else {
            message
        };
        ConfigError {
            source: self.source.to_string(),
            line: self.at.map(|a| a.0),
            col: self.at.map(|a| a.1),
            message,
        }
    }

    /// `file:line:col` (or `file`), to name this place inside a message.
    pub fn describe(&self) -> String {
        match self.at {
            Some((l, c)) => format!("{}:{}:{}", self.source, l, c),
            None => self.source.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `plain`: an unquoted YAML scalar, whose type is resolved again after
    /// `${VAR}` expansion (so `instances: ${N}` becomes a number).
    Str {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// One step of a path into the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Node {
        Node { value, pos }
    }

    pub fn empty_map(pos: Pos) -> Node {
        Node::new(Value::Map(Vec::new()), pos)
    }

    #[cfg(test)]
    pub fn str(text: impl Into<String>, pos: Pos) -> Node {
        Node::new(
            Value::Str {
                text: text.into(),
                plain: false,
            },
            pos,
        )
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&Vec<Entry>> {
        match &self.value {
            Value::Map(e) => Some(e),
            _ => None,
        }
    }

    pub fn entries_mut(&mut self) -> Option<&mut Vec<Entry>> {
        match &mut self.value {
            Value::Map(e) => Some(e),
            _ => None,
        }
    }

    /// The entry `key` of a map node.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|e| e.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// Removes and returns the entry `key` of a map node.
    pub fn take(&mut self, key: &str) -> Option<Entry> {
        let entries = self.entries_mut()?;
        let i = entries.iter().position(|e| e.key == key)?;
        Some(entries.remove(i))
    }

    /// Sets `key` in a map node, replacing an existing entry in place.
    pub fn set(&mut self, entry: Entry) {
        if let Some(entries) = self.entries_mut() {
            match entries.iter_mut().find(|e| e.key == entry.key) {
                Some(old) => *old = entry,
                None => entries.push(entry),
            }
        }
    }

    /// The node at `path` and, when its last step is a map key, that key's
    /// position (the better place to point at for unknown keys).
    pub fn lookup(&self, path: &[Seg]) -> Option<(&Node, Option<&Pos>)> {
        let mut node = self;
        let mut key_pos = None;
        for seg in path {
            match (seg, &node.value) {
                (Seg::Key(k), Value::Map(entries)) => {
                    let e = entries.iter().find(|e| &e.key == k)?;
                    key_pos = Some(&e.key_pos);
                    node = &e.value;
                }
                (Seg::Index(i), Value::Seq(items)) => {
                    node = items.get(*i)?;
                    key_pos = None;
                }
                _ => return None,
            }
        }
        Some((node, key_pos))
    }

    /// The best known position for `path`: the key when `prefer_key`, else
    /// the value; falls back to the nearest ancestor that exists.
    pub fn pos_of(&self, path: &[Seg], prefer_key: bool) -> Pos {
        for len in (0..=path.len()).rev() {
            if let Some((node, key_pos)) = self.lookup(&path[..len]) {
                return match (prefer_key || len < path.len(), key_pos) {
                    (true, Some(k)) => k.clone(),
                    _ => node.pos.clone(),
                };
            }
        }
        self.pos.clone()
    }

    /// Removes the node at `path` from its parent; false when there is none.
    pub fn remove(&mut self, path: &[Seg]) -> bool {
        let Some((last, parent_path)) = path.split_last() else {
            return false;
        };
        let mut node = self;
        for seg in parent_path {
            let next = match (seg, &mut node.value) {
                (Seg::Key(k), Value::Map(entries)) => entries
                    .iter_mut()
                    .find(|e| &e.key == k)
                    .map(|e| &mut e.value),
                (Seg::Index(i), Value::Seq(items)) => items.get_mut(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return false,
            }
        }
        match (last, &mut node.value) {
            (Seg::Key(k), Value::Map(entries)) => {
                let before = entries.len();
                entries.retain(|e| &e.key != k);
                entries.len() != before
            }
            (Seg::Index(i), Value::Seq(items)) if *i < items.len() => {
                items.remove(*i);
                true
            }
            _ => false,
        }
    }

    /// Visits every string scalar, mutably, with its position.
    pub fn for_each_str_mut(&mut self, f: &mut dyn FnMut(&mut Value, &Pos)) {
        match &mut self.value {
            Value::Str { .. } => f(&mut self.value, &self.pos),
            Value::Seq(items) => items.iter_mut().for_each(|n| n.for_each_str_mut(f)),
            Value::Map(entries) => entries.iter_mut().for_each(|e| e.value.for_each_str_mut(f)),
            _ => {}
        }
    }

    /// Values, string bytes and nesting depth (lists and maps) of this tree.
    pub fn measure(&self) -> (usize, usize, usize) {
        let add = |acc: (usize, usize, usize), child: (usize, usize, usize)| {
            (
                acc.0.saturating_add(child.0),
                acc.1.saturating_add(child.1),
                acc.2.max(child.2 + 1),
            )
        };
        match &self.value {
            Value::Str { text, .. } => (1, text.len(), 0),
            Value::Seq(items) => items.iter().map(Node::measure).fold((1, 0, 1), add),
            Value::Map(entries) => entries
                .iter()
                .map(|e| e.value.measure())
                .fold((1, 0, 1), add),
            _ => (1, 0, 0),
        }
    }

    /// The plain JSON value serde types the config from.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // NaN and infinities have no JSON number: kept as text, so a
            // field that wants a number reports them instead of reading null.
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number)
            }
            Value::Str { text, .. } => J::String(text.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A tree without positions from a JSON value (for formats or values
    /// that give none); every node points at `pos`.
    pub fn from_json(v: &serde_json::Value, pos: &Pos) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str {
                text: s.clone(),
                plain: false,
            },
            J::Array(items) => Value::Seq(items.iter().map(|i| Node::from_json(i, pos)).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_pos: pos.clone(),
                        value: Node::from_json(v, pos),
                    })
                    .collect(),
            ),
        };
        Node::new(value, pos.clone())
    }
}

/// `a.b[0].c` for messages.
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(l: usize) -> Pos {
        Pos::new(&Arc::from("t.yaml"), l, 1)
    }

    #[test]
    fn lookup_remove_and_paths() {
        let mut root = Node::empty_map(pos(1));
        root.set(Entry {
            key: "a".into(),
            key_pos: pos(2),
            value: Node::new(
                Value::Seq(vec![Node::str("x", pos(3)), Node::str("y", pos(4))]),
                pos(2),
            ),
        });
        let path = [Seg::Key("a".into()), Seg::Index(1)];
        assert_eq!(path_string(&path), "a[1]");
        assert_eq!(root.pos_of(&path, false), pos(4));
        assert_eq!(root.pos_of(&[Seg::Key("a".into())], true), pos(2));
        // A missing tail falls back to the nearest existing ancestor.
        assert_eq!(
            root.pos_of(&[Seg::Key("a".into()), Seg::Index(9)], false),
            pos(2)
        );
        assert!(root.remove(&path));
        assert_eq!(root.to_json(), serde_json::json!({"a": ["x"]}));
        assert!(!root.remove(&path));
    }
}
