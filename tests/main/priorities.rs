//! Thread priorities (`sys::priority`): the API's threads run 10 nice
//! levels above oneinit, the log pipeline's 10 below, and services at
//! oneinit's own; without CAP_SYS_NICE the API stays at oneinit's own and
//! oneinit says so once.

use crate::util;

use oneinit_actors::sys::procfs;
use util::{http_get, secs, Daemon, Opts};

const CONFIG: &str =
    "metrics: {listen: \"127.0.0.1:0\"}\nservices:\n  idle:\n    command: [sleep, '1000']\n";

/// Starts oneinit on `CONFIG` with a TCP API (through `wrapper`), once
/// its service runs and its three servers (unix socket, TCP API, metrics)
/// listen.
fn start(wrapper: Vec<&str>) -> Daemon {
    let d = Daemon::start_with(
        CONFIG,
        Opts {
            args: vec!["--api-listen".into(), "127.0.0.1:0".into()],
            wrapper,
            ..Opts::default()
        },
    );
    d.expect_event("spawned", Some("idle"), secs(15));
    d.api_addr();
    d.metrics_addr(secs(15)).expect("metrics listener");
    d
}

/// (name, nice) of every thread of `pid`.
fn threads(pid: i32) -> Vec<(String, i32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir");
    tasks
        .flatten()
        .filter_map(|t| {
            let tid: i32 = t.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(t.path().join("comm")).ok()?;
            // None: the thread ended meanwhile.
            Some((name.trim_end().to_string(), procfs::read(tid)?.nice))
        })
        .collect()
}

fn acceptors(list: &[(String, i32)]) -> Vec<i32> {
    list.iter()
        .filter(|(name, _)| name.starts_with("actix-server ac"))
        .map(|(_, nice)| *nice)
        .collect()
}

/// oneinit's records that say the API could not be raised.
fn not_raised(d: &Daemon) -> Vec<serde_json::Value> {
    d.records()
        .into_iter()
        .filter(|r| {
            r["msg"]
                .as_str()
                .is_some_and(|m| m.contains("run at oneinit's own priority"))
        })
        .collect()
}

#[test]
#[ignore = "needs root"]
fn api_threads_run_above_oneinit_log_threads_below_and_services_at_its_own() {
    let d = start(Vec::new());
    let pid = d.oneinit_pid().expect("running");
    let main = procfs::read(pid).expect("oneinit").nice;
    let list = threads(pid);
    // One acceptor per server.
    assert_eq!(acceptors(&list), vec![main - 10; 3], "{list:?}");
    // Their workers are raised with them; nothing else is (the main
    // thread, where the servers were made, went back).
    for (name, nice) in &list {
        if *nice == main - 10 {
            assert!(
                name.starts_with("actix-server ac") || name.starts_with("actix-rt|system"),
                "{name} is raised: {list:?}"
            );
        }
    }
    let raised = list.iter().filter(|(_, n)| *n == main - 10).count();
    assert_eq!(raised, 6, "an acceptor and a worker per server: {list:?}");
    let log_threads: Vec<_> = list.iter().filter(|(n, _)| n == "oneinit-log").collect();
    assert_eq!(log_threads.len(), 1, "{list:?}");
    assert_eq!(log_threads[0].1, main + 10, "{list:?}");
    // Services inherit neither.
    let service = d.events("spawned", Some("idle"))[0]["pid"]
        .as_i64()
        .expect("pid") as i32;
    assert_eq!(procfs::read(service).expect("idle").nice, main);
    // Raised threads do their work: the API answers.
    let answer = http_get(&d.api_addr(), "/v1/services/idle", secs(10));
    assert_eq!(answer.map(|(status, _)| status), Some(200));
    assert_eq!(not_raised(&d), Vec::<serde_json::Value>::new());
}

#[test]
#[ignore = "needs root"]
fn without_cap_sys_nice_the_api_runs_at_oneinits_priority_and_says_so_once() {
    let d = start(vec!["setpriv", "--bounding-set=-sys_nice"]);
    let pid = d.oneinit_pid().expect("running");
    let main = procfs::read(pid).expect("oneinit").nice;
    let list = threads(pid);
    assert_eq!(acceptors(&list), vec![main; 3], "{list:?}");
    assert!(list.iter().all(|(_, n)| *n >= main), "{list:?}");
    let answer = http_get(&d.api_addr(), "/healthz", secs(10));
    assert_eq!(answer.map(|(status, _)| status), Some(200));
    let records = not_raised(&d);
    assert_eq!(records.len(), 1, "one record for all servers: {records:?}");
    assert_eq!(records[0]["level"], "info");
    let reason = records[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("CAP_SYS_NICE"), "{reason}");
}
