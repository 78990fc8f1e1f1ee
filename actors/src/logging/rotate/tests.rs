//! Tests for file rotation: logrotate-style numbering, gzip, reopen after a move, unwritable paths.

use super::*;
use flate2::read::GzDecoder;
use std::io::Read;
use std::sync::Arc;

fn policy(dir: &Path, max_size: u64, max_files: u32, compress: bool) -> RotationPolicy {
    RotationPolicy {
        path: dir.join("sub/dir/web.log"),
        max_size,
        max_files,
        compress,
    }
}

fn quiet() -> OnError {
    Box::new(|_, _| {})
}

fn line(i: usize) -> Vec<u8> {
    format!("{{\"msg\":\"line {i:05}\"}}\n").into_bytes()
}

#[test]
fn rotates_logrotate_style_and_keeps_at_most_max_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), 1000, 3, false);
    let mut f = RotatingFile::open(p.clone(), quiet());
    let per_line = line(0).len();
    for i in 0..500 {
        assert!(f.write(&line(i)));
    }
    f.flush();
    let parent = p.path.parent().unwrap();
    let mut names: Vec<String> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["web.log", "web.log.1", "web.log.2", "web.log.3"]);
    for n in 1..=3 {
        let len = fs::metadata(numbered(&p.path, n, "")).unwrap().len();
        assert!(len <= 1000 && len > 1000 - per_line as u64, "{n}: {len}");
    }
    // The newest rotated file holds the lines just before the live ones.
    let live = fs::read_to_string(&p.path).unwrap();
    let last = live.lines().last().unwrap();
    assert!(last.contains("line 00499"));
    let one = fs::read_to_string(numbered(&p.path, 1, "")).unwrap();
    let first_live = live.lines().next().unwrap();
    let n_one: usize = one.lines().last().unwrap()[13..18].parse().unwrap();
    let n_live: usize = first_live[13..18].parse().unwrap();
    assert_eq!(n_one + 1, n_live);
    let mode = fs::metadata(&p.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, FILE_MODE);
}

#[test]
fn compressed_rotations_decompress_to_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), 2000, 2, true);
    let mut f = RotatingFile::open(p.clone(), quiet());
    for i in 0..400 {
        f.write(&line(i));
    }
    f.flush();
    assert!(!numbered(&p.path, 3, ".gz").exists());
    assert!(!numbered(&p.path, 1, "").exists());
    for n in 1..=2 {
        let gz = numbered(&p.path, n, ".gz");
        let mode = fs::metadata(&gz).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        let mut text = String::new();
        GzDecoder::new(File::open(&gz).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.len() <= 2000 && text.len() > 1900, "{}", text.len());
        assert!(text.lines().all(|l| l.starts_with("{\"msg\":\"line ")));
    }
}

#[test]
fn reopen_starts_a_new_file_after_an_external_move() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), 1 << 20, 2, false);
    let mut f = RotatingFile::open(p.clone(), quiet());
    f.write(b"before\n");
    f.flush();
    let moved = dir.path().join("moved.log");
    fs::rename(&p.path, &moved).unwrap();
    f.write(b"still old\n");
    f.reopen();
    f.write(b"after\n");
    f.flush();
    assert_eq!(fs::read_to_string(&moved).unwrap(), "before\nstill old\n");
    assert_eq!(fs::read_to_string(&p.path).unwrap(), "after\n");
}

#[test]
fn an_unwritable_path_is_reported_once_and_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a folder should be: create_dir_all fails.
    fs::write(dir.path().join("sub"), b"x").unwrap();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = errors.clone();
    let on_error: OnError = Box::new(move |is_error, m| {
        assert!(is_error);
        seen.lock().unwrap().push(m.to_string())
    });
    let mut f = RotatingFile::open(policy(dir.path(), 100, 1, false), on_error);
    for i in 0..100 {
        assert!(!f.write(&line(i)));
    }
    f.reopen();
    f.flush();
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("sub/dir/web.log") && errors[0].contains("cannot open"));
}

#[test]
fn max_files_zero_keeps_only_the_live_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), 100, 0, false);
    let mut f = RotatingFile::open(p.clone(), quiet());
    for i in 0..50 {
        f.write(&line(i));
    }
    f.flush();
    assert!(!numbered(&p.path, 1, "").exists());
    assert!(fs::metadata(&p.path).unwrap().len() <= 100);
}

#[test]
fn shared_file_writes_every_line_on_flush() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), 1 << 20, 1, false);
    let shared = SharedRotatingFile::new(RotatingFile::open(p.clone(), quiet()));
    assert_eq!(shared.append(b"one\ntwo\n"), 0);
    shared.flush();
    assert_eq!(fs::read_to_string(&p.path).unwrap(), "one\ntwo\n");
    shared.reopen();
    assert_eq!(shared.append(b"three\n"), 0);
    shared.flush();
    assert_eq!(fs::read_to_string(&p.path).unwrap(), "one\ntwo\nthree\n");
}
