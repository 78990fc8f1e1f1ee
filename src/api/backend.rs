//! `ApiBackend`: the only way the HTTP layer reaches the supervisor — one
//! `Recipient` per typed message of the ServiceManager and the
//! MetricsExporter, and the manager's view board, which service objects are
//! read from without a message. Tests hand in a fake actor; the binary
//! hands in the real addresses and the board.

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Recipient};
use oneinit_actors::config_loader::Reload;
use oneinit_actors::metrics_exporter::messages::GatherMetrics;
use oneinit_actors::service_manager::messages::{
    ControlService, GetGraph, GetLogs, GetReadiness, GetService, ListServices, Ping, SignalService,
    SubscribeEvents, SubscribeLogs, TriggerService,
};
use oneinit_actors::service_manager::view::ViewBoard;

/// Recipients of every message the API sends.
#[derive(Clone)]
pub struct ApiBackend {
    pub list_services: Recipient<ListServices>,
    pub get_service: Recipient<GetService>,
    pub control: Recipient<ControlService>,
    pub signal: Recipient<SignalService>,
    pub trigger: Recipient<TriggerService>,
    pub get_logs: Recipient<GetLogs>,
    pub subscribe_logs: Recipient<SubscribeLogs>,
    pub get_graph: Recipient<GetGraph>,
    pub subscribe_events: Recipient<SubscribeEvents>,
    pub get_readiness: Recipient<GetReadiness>,
    pub reload: Recipient<Reload>,
    pub ping: Recipient<Ping>,
    /// None until a MetricsExporter runs: `/metrics` then answers 503.
    pub gather_metrics: Option<Recipient<GatherMetrics>>,
    /// The ServiceManager's view board: service objects are built from it
    /// on the API's own threads, with no round trip to a manager that may
    /// be busy. None: they are asked for (`list_services`, `get_service`).
    pub views: Option<ViewBoard>,
}

impl ApiBackend {
    /// From the ServiceManager's address, the ConfigLoader's `Reload`
    /// recipient and the MetricsExporter's recipient.
    pub fn new<A>(
        manager: &Addr<A>,
        reload: Recipient<Reload>,
        gather_metrics: Option<Recipient<GatherMetrics>>,
    ) -> Self
    where
        A: Actor
            + Handler<ListServices>
            + Handler<GetService>
            + Handler<ControlService>
            + Handler<SignalService>
            + Handler<TriggerService>
            + Handler<GetLogs>
            + Handler<SubscribeLogs>
            + Handler<GetGraph>
            + Handler<SubscribeEvents>
            + Handler<GetReadiness>
            + Handler<Ping>,
        A::Context: ToEnvelope<A, ListServices>
            + ToEnvelope<A, GetService>
            + ToEnvelope<A, ControlService>
            + ToEnvelope<A, SignalService>
            + ToEnvelope<A, TriggerService>
            + ToEnvelope<A, GetLogs>
            + ToEnvelope<A, SubscribeLogs>
            + ToEnvelope<A, GetGraph>
            + ToEnvelope<A, SubscribeEvents>
            + ToEnvelope<A, GetReadiness>
            + ToEnvelope<A, Ping>,
    {
        ApiBackend {
            list_services: manager.clone().recipient(),
            get_service: manager.clone().recipient(),
            control: manager.clone().recipient(),
            signal: manager.clone().recipient(),
            trigger: manager.clone().recipient(),
            get_logs: manager.clone().recipient(),
            subscribe_logs: manager.clone().recipient(),
            get_graph: manager.clone().recipient(),
            subscribe_events: manager.clone().recipient(),
            get_readiness: manager.clone().recipient(),
            reload,
            ping: manager.clone().recipient(),
            gather_metrics,
            views: None,
        }
    }

    /// Reads service objects from `views` (the manager's board) instead of
    /// asking the manager for them.
    pub fn reading_views(mut self, views: ViewBoard) -> Self {
        self.views = Some(views);
        self
    }
}
