//! The TOML reader: toml_edit's document, whose byte spans become line and
//! column (in linear time), converted into the position-aware tree with
//! the budgets of `budget.rs` charged per value.

use super::budget::{check_nesting, Budget};
use super::tree::{Entry, Node, Pos, Value};
use super::ConfigError;
use std::sync::Arc;

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
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

    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
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

pub(super) fn parse_toml(
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
