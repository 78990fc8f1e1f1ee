//! Parsing budgets: how much text, how many values and how deep a nesting
//! one configuration load may hold, for every format (YAML, TOML, JSON;
//! the supervisord importer reuses the size limits). A document is small
//! on disk but can expand in memory — YAML aliases (`&x [*w, *w, ...]`
//! nine levels deep is 10⁹ nodes from 365 bytes), `defaults` copied into
//! every service — and a remote include is read by a running PID 1 on
//! reload. Each budget is checked while the tree is built, so the work
//! stops at the limit and the error names the source and the place.
//! Documented in docs/operations.md ("Config parsing budgets").

use thiserror::Error;

/// The largest document (one file or URL), in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// All documents of one load together (top files and includes), in bytes.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// Documents read in one load (includes and globs included).
pub const MAX_SOURCES: usize = 1024;
/// Keys and values (scalars, lists, maps) in one load, after YAML aliases
/// are expanded and `defaults` are copied into every service. A service
/// with 20 keys set is about 40.
pub const MAX_NODES: usize = 250_000;
/// Bytes of string values in one load, after aliases, `defaults` and
/// `${VAR}` expansion.
pub const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;
/// Lists and maps inside each other; the schema itself needs about 6.
pub const MAX_NESTING: usize = 64;

/// Which budget a document went over. The message says what to do.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum BudgetExceeded {
    #[error(
        "the document is too large ({size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes per \
         file); split it into included files"
    )]
    DocumentSize { size: u64 },
    #[error(
        "the configuration is too large: its files hold more than {MAX_TOTAL_BYTES} bytes \
         together; remove unused includes"
    )]
    TotalSize,
    #[error(
        "too many configuration files: more than {MAX_SOURCES} in one load; narrow the include \
         globs"
    )]
    Sources,
    #[error(
        "the configuration expands to more than {MAX_NODES} keys and values{}; look for YAML aliases \
         (*name) that repeat large anchors, or a large `defaults`",
        .0
    )]
    Nodes(&'static str),
    #[error(
        "the configuration expands to more than {MAX_TEXT_BYTES} bytes of text{}; look for \
         YAML aliases (*name) or ${{VAR}} references that repeat long values",
        .0
    )]
    Text(&'static str),
    #[error(
        "lists and maps nested more than {MAX_NESTING} levels deep; the configuration needs \
         far fewer"
    )]
    Nesting,
}

/// What one load has used so far. Shared by every document of the load,
/// so includes cannot multiply the limits.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    nodes: usize,
    text: usize,
    bytes: usize,
    sources: usize,
}

impl Budget {
    /// A document of `size` bytes is about to be parsed.
    pub fn take_document(&mut self, size: usize) -> Result<(), BudgetExceeded> {
        if size > MAX_DOCUMENT_BYTES {
            return Err(BudgetExceeded::DocumentSize { size: size as u64 });
        }
        self.sources += 1;
        if self.sources > MAX_SOURCES {
            return Err(BudgetExceeded::Sources);
        }
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(BudgetExceeded::TotalSize);
        }
        Ok(())
    }

    /// `nodes` values holding `text` bytes of strings are added to the tree.
    /// `why` completes the message (" after YAML aliases are expanded").
    pub fn take(
        &mut self,
        nodes: usize,
        text: usize,
        why: &'static str,
    ) -> Result<(), BudgetExceeded> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(BudgetExceeded::Nodes(why));
        }
        self.text = self.text.saturating_add(text);
        if self.text > MAX_TEXT_BYTES {
            return Err(BudgetExceeded::Text(why));
        }
        Ok(())
    }

    /// Whether `nodes` more values would still fit (nothing is taken).
    pub fn fits_nodes(&self, nodes: usize) -> bool {
        self.nodes.saturating_add(nodes) <= MAX_NODES
    }
}

/// A depth check for the builders: `depth` is the nesting of the value
/// being opened (the document's top map is 1).
pub fn check_nesting(depth: usize) -> Result<(), BudgetExceeded> {
    if depth > MAX_NESTING {
        Err(BudgetExceeded::Nesting)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_add_up_across_documents() {
        let mut b = Budget::default();
        assert!(b.take_document(MAX_DOCUMENT_BYTES).is_ok());
        assert_eq!(
            b.take_document(MAX_DOCUMENT_BYTES + 1),
            Err(BudgetExceeded::DocumentSize {
                size: MAX_DOCUMENT_BYTES as u64 + 1
            })
        );
        assert!(b.take_document(MAX_DOCUMENT_BYTES).is_ok());
        assert!(b.take_document(MAX_DOCUMENT_BYTES).is_ok());
        assert_eq!(
            b.take_document(MAX_DOCUMENT_BYTES),
            Err(BudgetExceeded::TotalSize)
        );
        let mut b = Budget::default();
        assert!(b.take(MAX_NODES, 10, "").is_ok());
        assert_eq!(b.take(1, 0, "!"), Err(BudgetExceeded::Nodes("!")));
        let mut b = Budget::default();
        assert_eq!(
            b.take(1, MAX_TEXT_BYTES + 1, ""),
            Err(BudgetExceeded::Text(""))
        );
        assert!(check_nesting(MAX_NESTING).is_ok());
        assert_eq!(check_nesting(MAX_NESTING + 1), Err(BudgetExceeded::Nesting));
    }

    #[test]
    fn sources_are_counted() {
        let mut b = Budget::default();
        for _ in 0..MAX_SOURCES {
            b.take_document(0).unwrap();
        }
        assert_eq!(b.take_document(0), Err(BudgetExceeded::Sources));
    }
}
