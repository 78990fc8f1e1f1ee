//! Shared by the file-based targets: a temp folder per process, the input
//! split into files, and the inputs left out because they would reach
//! outside that folder (network URLs, globs over the whole filesystem,
//! device files) and make a run slow for reasons that are not bugs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder every input's files are written to (kept for the process).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path()
}

/// Whether `text` names something outside the temp folder (`/?` and `/[`:
/// a glob such as `/????/????` walks the whole filesystem, to the include
/// walk's budget, which is slow but no bug).
pub fn reaches_out(text: &str) -> bool {
    [
        "://", "**", "/*", "/?", "/[", "/dev", "/proc", "/sys", "/run", "/tmp", "/var",
    ]
        .iter()
        .any(|s| text.contains(s))
}

/// Writes `parts` to `names` in the temp folder (removing the names that
/// have no part this time) and answers the path of the first.
pub fn write_files(names: &[&str], parts: &[&str]) -> PathBuf {
    let d = dir();
    for (i, name) in names.iter().enumerate() {
        let path = d.join(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        match parts.get(i) {
            Some(text) => std::fs::write(&path, text).expect("write input"),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    d.join(names[0])
}
