//! A fake ServiceManager + MetricsExporter for API contract tests: answers
//! every message the API sends with scripted, deterministic behaviour, so the
//! HTTP layer can be tested without the engine.
//!
//! Services: `db`, `web` (requires db), `worker`, `broken` (fails when
//! started), `slow` (never becomes ready), `job` (per-demand, triggerable).

#![allow(dead_code)]

use actix::prelude::*;
use chrono::Utc;
use oneinit_actors::logging::ring::LogTail;
use oneinit_actors::metrics_exporter::messages::GatherMetrics;
use oneinit_actors::model::view::{
    GraphEdge, GraphNode, GraphView, Health, InstanceView, LogLine, ReadinessView, ReloadReport,
    ServiceState, ServiceView, StateChanged, Stream,
};
use oneinit_actors::service_manager::messages::*;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::broadcast;

pub struct FakeManager {
    pub services: BTreeMap<String, ServiceView>,
    pub logs: BTreeMap<String, Vec<LogLine>>,
    pub events: broadcast::Sender<StateChanged>,
    pub live_logs: BTreeMap<String, broadcast::Sender<LogLine>>,
    pub next_instance: u64,
    /// Answer `Ping` only after this long (to test `/healthz` 503).
    pub ping_delay: Duration,
}

fn view(name: &str, kind: &str, state: ServiceState, requires: &[&str]) -> ServiceView {
    ServiceView {
        name: name.into(),
        description: Some(format!("the {name} service")),
        kind: kind.into(),
        state,
        health: Health::Unknown,
        status_text: None,
        instances: vec![],
        restarts: 0,
        uptime_seconds: None,
        last_exit: None,
        requires: requires.iter().map(|s| s.to_string()).collect(),
        wants: vec![],
        after: vec![],
        before: vec![],
        autostart: kind == "ongoing",
        critical: false,
        next_run: None,
        listen: vec![],
        runs_total: None,
        memory_bytes: None,
        cpu_seconds: None,
        limits: Default::default(),
    }
}

impl FakeManager {
    pub fn new() -> Self {
        let mut services = BTreeMap::new();
        for v in [
            view("db", "ongoing", ServiceState::Ready, &[]),
            view("web", "ongoing", ServiceState::Ready, &["db"]),
            view("worker", "ongoing", ServiceState::Stopped, &[]),
            view("broken", "ongoing", ServiceState::Stopped, &[]),
            view("slow", "ongoing", ServiceState::Stopped, &[]),
            view("job", "per-demand", ServiceState::Inactive, &[]),
        ] {
            services.insert(v.name.clone(), v);
        }
        let mut logs = BTreeMap::new();
        let mut live_logs = BTreeMap::new();
        for name in services.keys() {
            let lines = (0..5)
                .map(|i| LogLine {
                    ts: Utc::now(),
                    instance: 0,
                    stream: if i % 2 == 0 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    },
                    line: format!("{name} line {i}"),
                })
                .collect();
            logs.insert(name.clone(), lines);
            live_logs.insert(name.clone(), broadcast::channel(64).0);
        }
        for v in services.values_mut() {
            if v.state == ServiceState::Ready {
                v.instances = vec![InstanceView {
                    id: 0,
                    pid: Some(4242),
                    state: ServiceState::Ready,
                    started_at: Some(Utc::now()),
                }];
                v.uptime_seconds = Some(12.5);
            }
        }
        FakeManager {
            services,
            logs,
            events: broadcast::channel(256).0,
            live_logs,
            next_instance: 1,
            ping_delay: Duration::ZERO,
        }
    }

    fn set(&mut self, name: &str, state: ServiceState) {
        if let Some(v) = self.services.get_mut(name) {
            let previous = v.state;
            v.state = state;
            let _ = self.events.send(StateChanged {
                ts: Utc::now(),
                service: name.into(),
                state,
                previous,
                health: v.health,
                pid: None,
            });
        }
    }

    /// Moves `name` through `steps`, 30 ms apart.
    fn script(&mut self, ctx: &mut Context<Self>, name: &str, steps: Vec<ServiceState>) {
        for (i, st) in steps.into_iter().enumerate() {
            let n = name.to_string();
            ctx.run_later(Duration::from_millis(30 * (i as u64 + 1)), move |act, _| {
                act.set(&n, st)
            });
        }
    }
}

impl Actor for FakeManager {
    type Context = Context<Self>;
}

/// Test-only: append a captured line to a service (ring + live feed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct EmitLog {
    pub name: String,
    pub line: String,
}

impl Handler<EmitLog> for FakeManager {
    type Result = ();
    fn handle(&mut self, m: EmitLog, _: &mut Context<Self>) {
        let line = LogLine {
            ts: Utc::now(),
            instance: 0,
            stream: Stream::Stdout,
            line: m.line,
        };
        self.logs
            .entry(m.name.clone())
            .or_default()
            .push(line.clone());
        if let Some(tx) = self.live_logs.get(&m.name) {
            let _ = tx.send(line);
        }
    }
}

impl Handler<ListServices> for FakeManager {
    type Result = MessageResult<ListServices>;
    fn handle(&mut self, _: ListServices, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.services.values().cloned().collect())
    }
}

impl Handler<GetService> for FakeManager {
    type Result = Option<ServiceView>;
    fn handle(&mut self, m: GetService, _: &mut Context<Self>) -> Self::Result {
        self.services.get(&m.name).cloned()
    }
}

impl Handler<ControlService> for FakeManager {
    type Result = Result<(), ControlError>;
    fn handle(&mut self, m: ControlService, ctx: &mut Context<Self>) -> Self::Result {
        use ServiceState::*;
        let Some(v) = self.services.get(&m.name) else {
            return Err(ControlError::NotFound(m.name));
        };
        if v.kind == "per-demand" && m.action != Action::Stop {
            return Err(ControlError::Conflict(format!(
                "{} is per-demand: use trigger",
                m.name
            )));
        }
        let up = match m.name.as_str() {
            "broken" => vec![Starting, Failed],
            "slow" => vec![Starting],
            _ => vec![Starting, Running, Ready],
        };
        let steps = match m.action {
            Action::Start if v.state == Ready => vec![],
            Action::Start => up,
            Action::Stop if v.state.is_alive() => vec![Stopping, Stopped],
            Action::Stop => vec![],
            Action::Restart => [vec![Stopping, Stopped], up].concat(),
        };
        self.script(ctx, &m.name, steps);
        Ok(())
    }
}

impl Handler<SignalService> for FakeManager {
    type Result = Result<(), ControlError>;
    fn handle(&mut self, m: SignalService, _: &mut Context<Self>) -> Self::Result {
        match self.services.get(&m.name) {
            None => Err(ControlError::NotFound(m.name)),
            Some(v) if !v.state.is_alive() => Err(ControlError::Conflict(format!(
                "{} is not running; nothing to signal",
                m.name
            ))),
            Some(_) => Ok(()),
        }
    }
}

impl Handler<TriggerService> for FakeManager {
    type Result = Result<u64, ControlError>;
    fn handle(&mut self, m: TriggerService, _: &mut Context<Self>) -> Self::Result {
        match self.services.get(&m.name) {
            None => Err(ControlError::NotFound(m.name)),
            Some(v) if v.kind != "per-demand" => Err(ControlError::Conflict(format!(
                "{} is {}: only on-demand and per-demand services can be triggered",
                m.name, v.kind
            ))),
            Some(_) => {
                let id = self.next_instance;
                self.next_instance += 1;
                Ok(id)
            }
        }
    }
}

impl Handler<GetLogs> for FakeManager {
    type Result = Result<LogTail, ControlError>;
    fn handle(&mut self, m: GetLogs, _: &mut Context<Self>) -> Self::Result {
        let lines = self
            .logs
            .get(&m.name)
            .ok_or_else(|| ControlError::NotFound(m.name.clone()))?;
        let filtered: Vec<LogLine> = lines
            .iter()
            .filter(|l| m.stream.is_none_or(|s| s == l.stream))
            .cloned()
            .collect();
        let skip = m
            .tail
            .map(|t| filtered.len().saturating_sub(t))
            .unwrap_or(0);
        Ok(LogTail::from_lines(
            filtered.into_iter().skip(skip).collect(),
        ))
    }
}

impl Handler<SubscribeLogs> for FakeManager {
    type Result = Result<broadcast::Receiver<LogLine>, ControlError>;
    fn handle(&mut self, m: SubscribeLogs, _: &mut Context<Self>) -> Self::Result {
        self.live_logs
            .get(&m.name)
            .map(|tx| tx.subscribe())
            .ok_or(ControlError::NotFound(m.name))
    }
}

impl Handler<GetGraph> for FakeManager {
    type Result = MessageResult<GetGraph>;
    fn handle(&mut self, _: GetGraph, _: &mut Context<Self>) -> Self::Result {
        let nodes = self
            .services
            .values()
            .map(|v| GraphNode {
                name: v.name.clone(),
                kind: v.kind.clone(),
                state: v.state,
            })
            .collect();
        let edges = self
            .services
            .values()
            .flat_map(|v| {
                v.requires.iter().map(|r| GraphEdge {
                    from: v.name.clone(),
                    to: r.clone(),
                    kind: "requires".into(),
                })
            })
            .collect();
        MessageResult(GraphView { nodes, edges })
    }
}

impl Handler<SubscribeEvents> for FakeManager {
    type Result = MessageResult<SubscribeEvents>;
    fn handle(&mut self, _: SubscribeEvents, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.events.subscribe())
    }
}

impl Handler<GetReadiness> for FakeManager {
    type Result = MessageResult<GetReadiness>;
    fn handle(&mut self, _: GetReadiness, _: &mut Context<Self>) -> Self::Result {
        let not_ready: Vec<String> = self
            .services
            .values()
            .filter(|v| v.autostart && v.state != ServiceState::Ready)
            .map(|v| v.name.clone())
            .collect();
        MessageResult(ReadinessView {
            ready: not_ready.is_empty(),
            not_ready,
        })
    }
}

impl Handler<Reload> for FakeManager {
    type Result = Result<ReloadReport, Vec<String>>;
    fn handle(&mut self, _: Reload, _: &mut Context<Self>) -> Self::Result {
        if self.services.contains_key("reload-fails") {
            return Err(vec!["a.yaml:3:5: unknown key `comand`".into()]);
        }
        Ok(ReloadReport {
            unchanged: self.services.keys().cloned().collect(),
            ..Default::default()
        })
    }
}

impl Handler<Ping> for FakeManager {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Self::Result {
        Box::pin(actix::fut::wrap_future(tokio::time::sleep(self.ping_delay)))
    }
}

impl Handler<GatherMetrics> for FakeManager {
    type Result = String;
    fn handle(&mut self, _: GatherMetrics, _: &mut Context<Self>) -> String {
        let mut out = String::from("# TYPE oneinit_service_up gauge\n");
        for v in self.services.values() {
            let up = u8::from(v.state == ServiceState::Ready);
            out.push_str(&format!(
                "oneinit_service_up{{service=\"{}\"}} {up}\n",
                v.name
            ));
        }
        out
    }
}
