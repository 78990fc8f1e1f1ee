//! `/readyz` follows the services (SPEC 4): 503 with the list while an
//! autostart service is not ready, 200 once every one is ready or completed,
//! 503 again when one stops; `/healthz` stays 200 throughout.

use crate::util;

use std::time::Duration;
use util::api::{http, ApiDaemon as Daemon};

async fn status(d: &Daemon, path: &str) -> (u16, serde_json::Value) {
    let r = http().get(d.url(path)).send().await.expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

async fn wait_status(d: &Daemon, path: &str, want: u16) -> bool {
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < end {
        if status(d, path).await.0 == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[actix_rt::test]
async fn readyz_goes_503_then_200_then_503() {
    let d = Daemon::start(
        r#"
services:
  setup:
    type: oneshot
    command: ["sh", "-c", "sleep 0.2"]
  slow:
    command: ["sleep", "1000"]
    readiness: {min_uptime: 2s}
"#,
    )
    .await;
    let (s, body) = status(&d, "/readyz").await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body.to_string().contains("slow"),
        "the 503 names what is not ready: {body}"
    );
    assert!(wait_status(&d, "/readyz", 200).await, "never ready");
    assert_eq!(status(&d, "/healthz").await.0, 200);
    let r = http()
        .post(d.url("/v1/services/slow/stop?wait=true&timeout=10s"))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, body) = status(&d, "/readyz").await;
    assert_eq!(s, 503, "{body}");
    assert!(body.to_string().contains("slow"), "{body}");
    assert_eq!(status(&d, "/healthz").await.0, 200);
}
