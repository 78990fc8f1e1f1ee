//! Thread priorities (`sys::priority`): the API's threads run 10 nice
//! levels above oneinit, the log pipeline's 10 below, and services at
//! oneinit's own; without CAP_SYS_NICE the API stays at oneinit's own and
//! oneinit says so once.

use crate::util;

use std::time::Duration;
use util::api::ApiDaemon;
use util::wait_until;

const CONFIG: &str =
    "metrics: {listen: \"127.0.0.1:0\"}\nservices:\n  idle:\n    command: [sleep, '1000']\n";

/// (name, nice) of every thread of `pid`, from /proc/PID/task/*/stat.
fn threads(pid: u32) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let path = task.expect("task").path().join("stat");
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        out.push(name_and_nice(&stat));
    }
    out
}

/// A stat line's name (between the first '(' and the last ')', which may
/// hold spaces) and nice value (the 17th field after the name).
fn name_and_nice(stat: &str) -> (String, i32) {
    let open = stat.find('(').expect("(");
    let close = stat.rfind(')').expect(")");
    let nice = stat[close + 1..]
        .split_whitespace()
        .nth(16)
        .expect("nice")
        .parse()
        .expect("number");
    (stat[open + 1..close].to_string(), nice)
}

fn nice_of(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    name_and_nice(&stat).1
}

/// The pid of `idle`, the service's `sleep`, once it runs.
fn service_pid(d: &ApiDaemon) -> u32 {
    let mut pid = None;
    let found = wait_until(Duration::from_secs(15), || {
        let text = std::fs::read_to_string(d.path("out.log")).unwrap_or_default();
        pid = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|r| r["event"] == "spawned" && r["service"] == "idle")
            .and_then(|r| r["pid"].as_u64());
        pid.is_some()
    });
    assert!(found, "idle was not spawned within 15 s");
    pid.expect("pid") as u32
}

fn acceptors(list: &[(String, i32)]) -> Vec<i32> {
    list.iter()
        .filter(|(name, _)| name.starts_with("actix-server ac"))
        .map(|(_, nice)| *nice)
        .collect()
}

#[actix_rt::test]
#[ignore = "needs root"]
async fn api_threads_run_above_oneinit_log_threads_below_and_services_at_its_own() {
    let d = ApiDaemon::start(CONFIG).await;
    let pid = d.child.as_ref().expect("running").id();
    let main = nice_of(pid);
    let service = service_pid(&d);
    let list = threads(pid);
    // Three servers (the unix socket, 127.0.0.1:0 and the metrics
    // listener), one acceptor each.
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
    assert_eq!(nice_of(service), main);
    // Raised threads do their work: the API answers.
    let r = util::api::http()
        .get(d.url("/v1/services/idle"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let out = std::fs::read_to_string(d.path("out.log")).unwrap_or_default();
    assert!(!out.contains("own priority"), "{out}");
}

#[actix_rt::test]
#[ignore = "needs root"]
async fn without_cap_sys_nice_the_api_runs_at_oneinits_priority_and_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, CONFIG).expect("config");
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--bounding-set=-sys_nice", env!("CARGO_BIN_EXE_oneinit")])
        .arg("--config")
        .arg(&cfg)
        .args(["--api-listen", "127.0.0.1:0"])
        .env("ONEINIT_RUNTIME_DIR", dir.path().join("rt"));
    let d = ApiDaemon::spawn_command(cmd, dir);
    d.wait_healthy(&util::api::http()).await;
    let pid = d.child.as_ref().expect("running").id();
    let main = nice_of(pid);
    service_pid(&d);
    let list = threads(pid);
    assert_eq!(acceptors(&list), vec![main; 3], "{list:?}");
    assert!(list.iter().all(|(_, n)| *n >= main), "{list:?}");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(d.path("out.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &serde_json::Value| {
            r["msg"]
                .as_str()
                .is_some_and(|m| m.contains("run at oneinit's own priority"))
        })
        .collect();
    assert_eq!(records.len(), 1, "one record for all servers: {records:?}");
    assert_eq!(records[0]["level"], "info");
    let reason = records[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("CAP_SYS_NICE"), "{reason}");
}
