//! Table tests of the program mapping edge cases, on parsed sections (no
//! files, no binary): what becomes a key, a comment, a warning or an error.

use super::ini::parse;
use super::keys::shown_value;
use super::program::{convert_program, ProgramContext, ServiceDraft};
use super::ImportError;
use std::path::Path;

fn convert(body: &str) -> Result<(Vec<ServiceDraft>, Vec<String>), ImportError> {
    let text = format!("[program:p]\n{body}");
    let sections = parse(&text, "t.conf", Path::new("/srv"))?;
    let ctx = ProgramContext {
        group: None,
        global_env: &[],
        global_umask: Some("027"),
    };
    let mut warnings = Vec::new();
    let drafts = convert_program(&sections[0], "p", &ctx, &mut warnings)?;
    Ok((drafts, warnings))
}

fn one(body: &str) -> (ServiceDraft, Vec<String>) {
    let (mut drafts, warnings) = convert(body).expect("converts");
    assert_eq!(drafts.len(), 1);
    (drafts.remove(0), warnings)
}

#[test]
fn stop_group_and_its_mixed_case() {
    let (d, _) = one("command=/bin/p\nstopasgroup=true\nkillasgroup=false\n");
    assert_eq!(d.stop_group, Some(true));
    assert!(d
        .notes
        .iter()
        .any(|n| n.starts_with("stopasgroup and killasgroup differ")));
    let (d, _) = one("command=/bin/p\nkillasgroup=false\n");
    assert_eq!(d.stop_group, Some(false));
    let (d, _) = one("command=/bin/p\n");
    assert_eq!(d.stop_group, None, "unset keys are not written");
}

#[test]
fn log_file_variants() {
    let (d, w) = one("command=/bin/p\nstdout_logfile=AUTO\nstdout_logfile_maxbytes=1MB\n");
    assert_eq!((d.log_file, d.log_max_size, w.len()), (None, None, 0));
    let (d, w) = one("command=/bin/p\nstdout_logfile=/var/log/p.log\nstdout_logfile_maxbytes=0\nstdout_logfile_backups=0\n");
    assert_eq!(d.log_file.as_deref(), Some("/var/log/p.log"));
    assert_eq!(d.log_max_files, Some(0));
    assert!(d
        .notes
        .iter()
        .any(|n| n.starts_with("not converted: stdout_logfile_maxbytes = 0 (")));
    assert_eq!(w.len(), 1);
    let (d, w) =
        one("command=/bin/p\nstdout_logfile=/l\nstderr_logfile=/l\nstderr_logfile_maxbytes=5MB\n");
    assert!(
        d.notes.is_empty() && w.is_empty(),
        "stderr into the same file is what oneinit does"
    );
    let (d, _) = one("command=/bin/p\nstdout_logfile=/dev/fd/1\nstdout_logfile_backups=3\n");
    assert_eq!((d.log_file, d.log_max_files), (None, None));
    assert!(d.log_capture);
}

#[test]
fn umask_from_program_or_supervisord_and_invalid_values() {
    let (d, _) = one("command=/bin/p\n");
    assert_eq!(
        d.umask.as_deref(),
        Some("0027"),
        "[supervisord] umask is inherited"
    );
    let (d, _) = one("command=/bin/p\numask=2\n");
    assert_eq!(d.umask.as_deref(), Some("0002"));
    let (d, w) = one("command=/bin/p\numask=999\n");
    assert_eq!(d.umask, None);
    assert!(
        w[0].contains("not converted: umask = 999 (not an octal number)"),
        "{w:?}"
    );
}

#[test]
fn values_that_supervisord_would_reject_are_errors_with_lines() {
    for (body, want) in [
        (
            "command=/bin/p\nautorestart=sometimes\n",
            "t.conf:3: [program:p] autorestart = \"sometimes\"",
        ),
        (
            "command=/bin/p\nexitcodes=0,x\n",
            "t.conf:3: [program:p] exitcodes",
        ),
        (
            "command=/bin/p\nstopsignal=NOPE\n",
            "t.conf:3: [program:p] stopsignal: unknown signal",
        ),
        (
            "command=/bin/p\nstartsecs=-1\n",
            "t.conf:3: [program:p] startsecs cannot be negative",
        ),
        (
            "command=/bin/p 'open\n",
            "t.conf:2: [program:p] command cannot be split",
        ),
        (
            "command=/bin/p\nenvironment=A=1,B\n",
            "t.conf:3: [program:p] environment: malformed",
        ),
        (
            "command=/bin/p\nnumprocs=0\n",
            "t.conf:1: [program:p] numprocs must be at least 1",
        ),
        // A huge count looped for ever (and `start + count` wrapped).
        (
            "command=/bin/p\nprocess_name=%(process_num)s\nnumprocs=1000000000000\n",
            "t.conf:1: [program:p] numprocs = 1000000000000 (from 0) is out of range",
        ),
        (
            "command=/bin/p\nprocess_name=%(process_num)s\nnumprocs=2\nnumprocs_start=9223372036854775807\n",
            "t.conf:1: [program:p] numprocs = 2 (from 9223372036854775807) is out of range",
        ),
        // A padding width allocated that many spaces (abort on OOM).
        (
            "command=/bin/p %(here)999999999999999s\n",
            "t.conf:2: `%(here)999999999999999s`: a width of 999999999999999 is out of range",
        ),
    ] {
        let e = convert(body).expect_err(body).to_string();
        assert!(e.starts_with(want), "want {want:?}, got {e:?}");
    }
}

#[test]
fn signals_and_numbers_are_normalised() {
    let (d, _) =
        one("command=/bin/p\nstopsignal=SIGINT\nstopwaitsecs=7\nstartretries=5\nautostart=no\n");
    assert_eq!(d.stop_signal.as_deref(), Some("INT"));
    assert_eq!(d.stop_timeout.as_deref(), Some("7s"));
    assert_eq!(d.max_retries, Some(5));
    assert_eq!(d.autostart, Some(false));
}

#[test]
fn credentials_are_never_shown() {
    assert_eq!(shown_value("password", "s3cret"), "<not copied>");
    assert_eq!(shown_value("username", "admin"), "<not copied>");
    assert_eq!(shown_value("command", "a\n  b"), "a b");
}

#[test]
fn zero_start_retries_is_not_inverted_into_retry_forever() {
    let (d, w) = one("command=/bin/p\nstartretries=0\n");
    assert_eq!(d.max_retries, None);
    assert!(w[0].contains("not converted: startretries = 0 ("), "{w:?}");
}
