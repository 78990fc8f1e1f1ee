//! Child processes shared by several actors: the table routing each pid's
//! exit status from the one reaper to its owner (`table.rs`), and helper
//! processes run through it (`helper.rs`: exec checks, command notifiers).

pub mod helper;
pub mod table;

pub use table::{ProcessOwner, ProcessTable};
