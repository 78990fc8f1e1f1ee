//! SPEC 6 against the real binary: per-service and own log files with
//! size rotation and gzip, 0640 files, SIGUSR1 reopen after an external
//! move, long lines and invalid UTF-8, an unwritable log path, and a flood
//! of 20 services where every line is accounted for.

use crate::util;

use flate2::read::GzDecoder;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    GzDecoder::new(fs::File::open(path).expect("open gz"))
        .read_to_string(&mut text)
        .expect("gzip decompresses");
    text
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Captured stdout records of `service` in oneinit's stdout.
fn captured(d: &Daemon, service: &str) -> Vec<Value> {
    d.records()
        .into_iter()
        .filter(|r| r["service"] == service && r["stream"] == "stdout")
        .collect()
}

#[test]
fn service_file_rotates_with_gzip_and_keeps_at_most_max_files() {
    let d = Daemon::start(
        r#"
services:
  web:
    command: ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo \"line $i of the rotation test, padded to a fair length\"; i=$((i+1)); done; exec sleep 1000"]
    logs: {file: "{dir}/logs/web/web.log", max_size: 20KB, max_files: 3, compress: true}
"#,
    );
    let live = d.path("logs/web/web.log");
    assert!(
        wait_until(secs(20), || fs::read_to_string(&live)
            .unwrap_or_default()
            .contains("line 2999 of")),
        "the last line never reached the live file"
    );
    let names = names_in(&d.path("logs/web"));
    assert_eq!(
        names,
        ["web.log", "web.log.1.gz", "web.log.2.gz", "web.log.3.gz"],
        "rotated files"
    );
    let max = 20 * 1024;
    let mut newest_rotated_last = String::new();
    for n in 1..=3 {
        let gz = d.path(&format!("logs/web/web.log.{n}.gz"));
        assert_eq!(mode(&gz), 0o640, "{}", gz.display());
        let text = gunzip(&gz);
        assert!(
            text.len() <= max && text.len() > max - 300,
            "web.log.{n}.gz holds {} bytes, want near {max}",
            text.len()
        );
        for l in text.lines() {
            let r: Value = serde_json::from_str(l).expect("every line is a JSON record");
            assert_eq!(r["service"], "web");
        }
        if n == 1 {
            newest_rotated_last = text.lines().last().unwrap_or_default().to_string();
        }
    }
    assert_eq!(mode(&live), 0o640);
    // web.log.1 is the newest rotated file: its last line comes right
    // before the live file's first.
    let live_text = fs::read_to_string(&live).unwrap_or_default();
    let num = |l: &str| -> u64 {
        let r: Value = serde_json::from_str(l).expect("JSON");
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let first_live = live_text.lines().next().expect("a live line");
    assert_eq!(num(&newest_rotated_last) + 1, num(first_live));
}

#[test]
fn own_log_file_rotates_and_is_reopened_on_sigusr1_after_a_move() {
    let mut d = Daemon::start(
        r#"
logging:
  file: {path: "{dir}/own/oneinit.log", max_size: 8KB, max_files: 2}
services:
  ticker:
    command: ["sh", "-c", "i=0; while :; do echo \"tick $i\"; i=$((i+1)); sleep 0.01; done"]
    logs: {file: "{dir}/svc/ticker.log"}
"#,
    );
    let own = d.path("own/oneinit.log");
    let svc = d.path("svc/ticker.log");
    // The own file gets oneinit's records and the captured lines; it rotates.
    assert!(
        wait_until(secs(20), || d.path("own/oneinit.log.2").exists()),
        "the own log never rotated twice: {:?}",
        names_in(&d.path("own"))
    );
    assert!(wait_until(secs(5), || !lines(&svc).is_empty()));
    let own_names = names_in(&d.path("own"));
    assert!(own_names.len() <= 3, "{own_names:?}");
    for n in &own_names {
        let p = d.path(&format!("own/{n}"));
        assert_eq!(mode(&p), 0o640, "{n}");
        assert!(
            fs::metadata(&p).map(|m| m.len()).unwrap_or(0) <= 8 * 1024,
            "{n}"
        );
        for l in lines(&p) {
            serde_json::from_str::<Value>(&l).expect("own log lines are JSON");
        }
    }
    assert_eq!(mode(&svc), 0o640);

    // External rotation: move both files away, then SIGUSR1.
    let moved_own = d.path("own-moved.log");
    let moved_svc = d.path("svc-moved.log");
    fs::rename(&own, &moved_own).expect("move own log");
    fs::rename(&svc, &moved_svc).expect("move service log");
    d.signal(Signal::SIGUSR1);
    assert!(
        wait_until(secs(10), || lines(&svc).iter().any(|l| l.contains("tick"))),
        "no new service file after SIGUSR1"
    );
    assert!(
        wait_until(secs(10), || lines(&own).iter().any(|l| l.contains("tick"))),
        "no new own file after SIGUSR1"
    );
    // The moved files stop growing once the new ones are in use.
    // Part of the test: two samples 300 ms apart (the service ticks faster).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let frozen = lines(&moved_svc).len();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(lines(&moved_svc).len(), frozen);
    assert!(d.wait_exit(secs(0)).is_none(), "oneinit must keep running");
}

#[test]
fn long_lines_are_split_and_invalid_utf8_is_replaced() {
    let d = Daemon::start(
        r#"
services:
  odd:
    type: oneshot
    command: ["sh", "-c", "head -c 150000 /dev/zero | tr '\\0' a; echo; printf 'bad \\377\\376 bytes\\n'"]
    logs: {file: "{dir}/odd.log"}
"#,
    );
    assert!(d.wait_event("exited", Some("odd"), secs(10)));
    let file = d.path("odd.log");
    let mut recs = Vec::new();
    assert!(
        wait_until(secs(20), || {
            recs = captured(&d, "odd");
            recs.len() == 4
        }),
        "message lengths: {:?}",
        recs.iter()
            .map(|r| r["msg"].as_str().map_or(0, str::len))
            .collect::<Vec<_>>()
    );
    let msgs: Vec<String> = recs
        .iter()
        .map(|r| r["msg"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(msgs[0].len(), 65536);
    assert_eq!(msgs[1].len(), 65536);
    assert_eq!(msgs[2].len(), 150000 - 2 * 65536);
    assert!(msgs[..3].iter().all(|m| m.bytes().all(|b| b == b'a')));
    assert_eq!(msgs[3], "bad \u{FFFD}\u{FFFD} bytes");
    // The file has the same records.
    let file_msgs: Vec<String> = lines(&file)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["msg"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(file_msgs, msgs);
    for r in &recs {
        for key in ["ts", "level", "msg", "service", "instance", "pid", "stream"] {
            assert!(!r[key].is_null(), "{key} missing in {r}");
        }
        assert_eq!(r["level"], "info");
    }
}

#[test]
fn an_unwritable_log_path_is_one_error_and_supervision_goes_on() {
    // The log folder would be `oneinit.yaml`, a regular file: it cannot be created.
    let mut d = Daemon::start(
        r#"
services:
  chatty:
    command: ["sh", "-c", "i=0; while [ $i -lt 200 ]; do echo \"hello $i\"; i=$((i+1)); done; exec sleep 1000"]
    logs: {file: "{dir}/oneinit.yaml/chatty.log"}
"#,
    );
    assert!(wait_until(secs(10), || captured(&d, "chatty").len() == 200));
    let errors: Vec<Value> = d
        .records()
        .into_iter()
        .filter(|r| {
            r["level"] == "error" && r["msg"].as_str().is_some_and(|m| m.contains("chatty.log"))
        })
        .collect();
    assert_eq!(errors.len(), 1, "one error for the file: {errors:?}");
    assert_eq!(errors[0]["service"], "chatty");
    assert!(d.wait_event("ready", Some("chatty"), secs(5)));
    assert!(d.wait_exit(secs(0)).is_none(), "oneinit must keep running");
}

#[test]
fn twenty_flooding_services_lose_no_line_silently() {
    let mut config = String::from("metrics: {listen: \"127.0.0.1:0\"}\nservices:\n");
    for i in 0..20 {
        config.push_str(&format!(
            "  flood{i}:\n    type: oneshot\n    command: [\"seq\", \"1\", \"10000\"]\n    logs: {{file: \"{{dir}}/flood/flood{i}.log\", max_size: 100MB}}\n"
        ));
    }
    let d = Daemon::start(&config);
    let addr = d.metrics_addr(secs(10)).expect("metrics listener address");
    // The supervisor stays responsive during the flood.
    let mut text = String::new();
    assert!(
        wait_until(secs(60), || {
            let t0 = std::time::Instant::now();
            text = d.scrape(&addr).unwrap_or_default();
            assert!(t0.elapsed() < secs(5), "a scrape took {:?}", t0.elapsed());
            sample(&text, "oneinit_services{state=\"completed\"}") == Some(20.0)
        }),
        "the floods never completed:\n{text}"
    );
    // Every line is in its file, and on stdout unless counted as dropped.
    for i in 0..20 {
        let service = format!("flood{i}");
        let file = d.path(&format!("flood/{service}.log"));
        assert!(
            wait_until(secs(20), || lines(&file).len() == 10000),
            "{service}: {} lines in its file",
            lines(&file).len()
        );
        let nums: Vec<u64> = lines(&file)
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("JSON")["msg"]
                    .as_str()
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0)
            })
            .collect();
        assert_eq!(
            nums,
            (1..=10000).collect::<Vec<u64>>(),
            "{service}: lines in order"
        );
    }
    let ok = wait_until(secs(30), || {
        text = d.scrape(&addr).unwrap_or_default();
        let recs = d.records();
        (0..20).all(|i| {
            let service = format!("flood{i}");
            let shown = recs
                .iter()
                .filter(|r| r["service"] == service.as_str() && r["stream"] == "stdout")
                .count() as f64;
            let dropped = sample(
                &text,
                &format!("oneinit_log_lines_dropped_total{{service=\"{service}\"}}"),
            )
            .unwrap_or(-1.0);
            shown + dropped == 10000.0
        })
    });
    assert!(ok, "stdout lines + dropped != 10000 for some service");
    let out = d.stdout();
    for l in out.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:.200}"));
    }
}

/// The Fluentd examples parse oneinit's real records: `time_key ts` and a
/// `time_format` (Ruby strptime) that matches the `ts` oneinit writes; the
/// oneinit side of the example is a valid config.
#[test]
fn fluentd_examples_match_the_record_fields() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/fluentd");
    let d = Daemon::start("services:\n  hi:\n    type: oneshot\n    command: [\"echo\", \"hi\"]\n");
    assert!(wait_until(secs(10), || !captured(&d, "hi").is_empty()));
    let records = d.records();
    assert!(!records.is_empty());
    for conf in ["fluent.conf", "fluent-docker.conf"] {
        let text = fs::read_to_string(root.join(conf)).expect("example exists");
        let settings: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert!(settings.contains(&"time_key ts"), "{conf}: time_key ts");
        assert!(settings.contains(&"@type json"), "{conf}: json parser");
        let formats: Vec<&str> = settings
            .iter()
            .filter_map(|l| l.strip_prefix("time_format "))
            .collect();
        assert!(!formats.is_empty(), "{conf}: time_format");
        for f in formats {
            // Ruby's %L (milliseconds) is chrono's %3f.
            let chrono_fmt = f.replace("%L", "%3f");
            for r in &records {
                let ts = r["ts"].as_str().expect("ts is a string");
                chrono::NaiveDateTime::parse_from_str(ts, &chrono_fmt)
                    .unwrap_or_else(|e| panic!("{conf}: {f} does not parse {ts}: {e}"));
            }
        }
    }
    let out = std::process::Command::new(BIN)
        .args(["check", "--config"])
        .arg(root.join("oneinit.yaml"))
        .output()
        .expect("oneinit check");
    assert!(
        out.status.success(),
        "oneinit check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A critical oneshot that floods and ends oneinit: its last lines are
/// still read from the pipe and written before oneinit exits.
#[test]
fn the_last_lines_of_a_service_are_written_before_oneinit_exits() {
    let mut d = Daemon::start(
        r#"
services:
  last:
    type: oneshot
    critical: true
    command: ["seq", "1", "50000"]
    logs: {file: "{dir}/last.log", max_size: 100MB}
"#,
    );
    assert_eq!(d.wait_exit(secs(60)), Some(0), "{}", d.stderr());
    let file = lines(&d.path("last.log"));
    assert_eq!(file.len(), 50000);
    let last: Value = serde_json::from_str(&file[49999]).expect("JSON");
    assert_eq!(last["msg"], "50000");
    assert_eq!(captured(&d, "last").len(), 50000);
}
