//! The service object's usage and limits (issue 7, SPEC 4 service object):
//! `memory_bytes`, `cpu_seconds`, `limits` with the mechanism used, and an
//! OOM kill as `last_exit.reason: "oom_killed"` plus the `OomKilled` fact
//! for metrics. Runs a real ServiceManager in this process (real children,
//! real cgroups) and reads what the API would serve. One test per binary:
//! the manager reaps with waitpid(-1), which must not meet other tests'
//! children.

#[path = "in_process/mod.rs"]
mod in_process;
use in_process::wait_view;

use actix::prelude::*;
use oneinit_actors::logging::{root_logger, sink::LogSink};
use oneinit_actors::model::config::{Config, LogFormat, LogLevel};
use oneinit_actors::model::limits::LimitValue;
use oneinit_actors::service::messages::{FactKind, ServiceFact};
use oneinit_actors::service_manager::messages::Shutdown;
use oneinit_actors::service_manager::{ManagerSetup, ServiceManager};
use oneinit_actors::sys::cgroup::CgroupHost;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every fact it is told (stands in for the metrics exporter).
struct Recorder(Arc<Mutex<Vec<ServiceFact>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<ServiceFact> for Recorder {
    type Result = ();
    fn handle(&mut self, msg: ServiceFact, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(msg);
    }
}

#[test]
fn service_object_shows_usage_limits_and_an_oom_kill() {
    let memory_cgroup = CgroupHost::detect().caps().memory.is_some();
    let config: Config = serde_yaml::from_str(
        r#"
services:
  busy:
    command: ["python3", "-c", "a = bytearray(40 << 20)\nwhile True: pass"]
    limits: {memory: 256MB, cpu: 0.5, nofile: 512}
  hog:
    command: ["python3", "-c", "a = []\nwhile True: a.append(bytearray(1 << 20))"]
    restart: {policy: never}
    limits: {memory: 48MB}
"#,
    )
    .expect("config");
    let facts = Arc::new(Mutex::new(Vec::new()));
    let sink = LogSink::start(Box::new(std::io::sink()));
    let log = root_logger(&sink, LogFormat::Json, LogLevel::Info);
    let system = System::new();
    let (busy, hog, busy_json) = system.block_on({
        let facts = facts.clone();
        async move {
            let recorder = Recorder(facts).start();
            let mgr = ServiceManager::new(ManagerSetup {
                facts: vec![recorder.recipient()],
                ..ManagerSetup::real(config, log, sink, LogFormat::Json)
            })
            .start();
            // Usage of a running service: 40 MiB touched, CPU burnt.
            let busy = wait_view(&mgr, "busy", Duration::from_secs(15), |v| {
                v.memory_bytes.unwrap_or(0) >= 40 << 20 && v.cpu_seconds.unwrap_or(0.0) > 0.2
            })
            .await;
            let busy_json = serde_json::to_value(&busy).expect("serialises");
            let hog = wait_view(&mgr, "hog", Duration::from_secs(30), |v| {
                v.last_exit.is_some()
            })
            .await;
            mgr.do_send(Shutdown);
            (busy, hog, busy_json)
        }
    });
    let code = system.run_with_code();
    assert!(code.is_ok());

    assert!(
        busy.memory_bytes.unwrap_or(0) >= 40 << 20,
        "memory_bytes {:?}",
        busy.memory_bytes
    );
    assert!(
        busy.cpu_seconds.unwrap_or(0.0) > 0.2,
        "cpu_seconds {:?}",
        busy.cpu_seconds
    );
    for key in ["memory_bytes", "cpu_seconds", "limits"] {
        assert!(busy_json.get(key).is_some(), "{key} missing: {busy_json}");
    }
    let limits = &busy.limits;
    assert_eq!(limits["memory"].value, LimitValue::Count(256 << 20));
    assert_eq!(limits["cpu"].value, LimitValue::Cores(0.5));
    assert_eq!(limits["nofile"].mechanism, "RLIMIT_NOFILE");
    assert_eq!(busy_json["limits"]["nofile"]["value"], 512);
    if memory_cgroup {
        assert!(
            limits["memory"].mechanism.starts_with("cgroup v"),
            "{limits:?}"
        );
    } else {
        assert_eq!(limits["memory"].mechanism, "RLIMIT_AS");
    }

    let exit = hog.last_exit.expect("the hog exited");
    if !memory_cgroup {
        // RLIMIT_AS: the allocation fails inside the hog (MemoryError), which
        // exits on its own; that is not an OOM kill and must not be reported
        // as one.
        assert_eq!(exit.reason, None, "{exit:?}");
        assert_eq!(exit.signal, None, "{exit:?}");
        assert_ne!(exit.code, Some(0), "{exit:?}");
        let facts = facts.lock().unwrap();
        assert!(
            !facts.iter().any(|f| f.kind == FactKind::OomKilled),
            "an OomKilled fact without a memory cgroup: {facts:?}"
        );
        return;
    }
    assert_eq!(exit.reason.as_deref(), Some("oom_killed"), "{exit:?}");
    assert_eq!(exit.signal.as_deref(), Some("KILL"));
    let hog_json = serde_json::to_value(&exit).expect("serialises");
    assert_eq!(hog_json["reason"], "oom_killed");
    let facts = facts.lock().unwrap();
    assert!(
        facts
            .iter()
            .any(|f| f.service == "hog" && f.kind == FactKind::OomKilled),
        "no OomKilled fact: {facts:?}"
    );
    assert!(!facts
        .iter()
        .any(|f| f.service == "busy" && f.kind == FactKind::OomKilled));
}
