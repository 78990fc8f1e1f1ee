//! Helpers for the tests that run a ServiceManager in this process
//! (`tests/limits_view.rs`, `tests/architecture_manager.rs`): each is a
//! binary of its own, because the manager reaps with waitpid(-1).

use actix::Addr;
use oneinit_actors::model::view::ServiceView;
use oneinit_actors::service_manager::messages::GetService;
use oneinit_actors::service_manager::ServiceManager;
use std::time::{Duration, Instant};

pub async fn view(mgr: &Addr<ServiceManager>, name: &str) -> ServiceView {
    mgr.send(GetService { name: name.into() })
        .await
        .expect("manager alive")
        .expect("service exists")
}

/// Polls the view of `name` (every 20 ms, at most `limit`) until `cond` holds.
pub async fn wait_view(
    mgr: &Addr<ServiceManager>,
    name: &str,
    limit: Duration,
    cond: impl Fn(&ServiceView) -> bool,
) -> ServiceView {
    let end = Instant::now() + limit;
    loop {
        let v = view(mgr, name).await;
        if cond(&v) || Instant::now() >= end {
            return v;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}
