//! The dashboard (`/ui/`): headers and embedding checked directly, and the
//! page driven in headless Chromium by `tests/e2e/ui_e2e.py` (selenium)
//! against a real oneinit with real services.

use crate::util;

use std::process::Command;
use util::api::{http, sha_hex, ApiDaemon as Daemon};

const OPERATOR: &str = "op-secret-token-1234567890";
const VIEWER: &str = "view-secret-token-1234567890";

fn config(dir: &str) -> String {
    format!(
        r#"
api:
  auth:
    tokens:
      - {{name: ops, sha256: "{op}", role: operator}}
      - {{name: look, sha256: "{view}", role: viewer}}
services:
  web:
    command: ["sh", "-c", "echo web up; while true; do if [ -f {dir}/say ]; then cat {dir}/say; echo; rm -f {dir}/say; fi; sleep 0.1; done"]
  idle:
    autostart: false
    command: ["sleep", "1000"]
  crasher:
    restart: {{policy: never}}
    command: ["sh", "-c", "while [ ! -f {dir}/crash-now ]; do sleep 0.1; done; exit 1"]
  xss:
    command: ["sh", "-c", "echo '<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>'; exec sleep 1000"]
"#,
        op = sha_hex(OPERATOR),
        view = sha_hex(VIEWER),
    )
}

#[actix_rt::test]
async fn ui_is_served_with_a_strict_csp_and_can_be_disabled() {
    let d = Daemon::spawn("services:\n  a:\n    command: [\"sleep\", \"100\"]\n", &[]);
    d.wait_healthy(&http()).await;
    let r = http().get(d.url("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<script src=\"app.js\""),
        "script is external"
    );
    assert!(!html.contains("<script>"), "no inline script");
    let js = http()
        .get(d.url("/ui/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !js.contains("innerHTML"),
        "service strings must never be inserted as HTML"
    );

    let off = Daemon::spawn(
        "api: {ui: false}\nservices:\n  a:\n    command: [\"sleep\", \"100\"]\n",
        &[],
    );
    off.wait_healthy(&http()).await;
    let r = http().get(off.url("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[actix_rt::test]
async fn ui_session_reports_the_callers_role() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::spawn(&config(&dir.path().to_string_lossy()), &[]);
    d.wait_healthy(&http()).await;
    let r = http().get(d.url("/ui/session")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = http()
        .get(d.url("/ui/session"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["role"], "viewer");
}

fn browser_available() -> Result<(), String> {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !std::path::Path::new(bin).exists() {
            return Err(format!(
                "{bin} is missing (apt-get install chromium chromium-driver)"
            ));
        }
    }
    let ok = Command::new("python3")
        .args(["-c", "import selenium"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Err("python3 selenium is missing (pip install selenium)".into());
    }
    Ok(())
}

#[actix_rt::test]
async fn dashboard_end_to_end_in_headless_chromium() {
    // scripts/install-test-deps.sh installs these (scripts/test.sh runs it):
    // without them this test fails rather than passing untested.
    if let Err(why) = browser_available() {
        panic!("{why}; run scripts/install-test-deps.sh");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::spawn(&config(&dir.path().to_string_lossy()), &[]);
    d.wait_healthy(&http()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/ui_e2e.py");
    let out = Command::new("python3")
        .args([
            script,
            "--url",
            &d.base,
            "--operator-token",
            OPERATOR,
            "--viewer-token",
            VIEWER,
        ])
        .args(["--dir", &dir.path().to_string_lossy()])
        .output()
        .expect("run the e2e script");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "dashboard e2e failed:\n{text}");
    assert!(text.contains("6 passed, 0 failed"), "{text}");
}
