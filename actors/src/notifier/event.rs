//! The notification event (SPEC 5.3) and its renderings: the JSON body
//! (webhook default, command stdin), a webhook `template` with `{{field}}`
//! placeholders, and the Slack text. Pure code, table-tested.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// What notifiers are told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// An instance exited with a failure (not on request).
    Failed,
    /// The service's health checks reached their failure threshold.
    Unhealthy,
    /// After `failed` or `unhealthy`: ready (and healthy) again.
    Recovered,
    /// Restarts used up (`restart.max_retries`): the service is `failed`.
    GaveUp,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failed => "failed",
            EventKind::Unhealthy => "unhealthy",
            EventKind::Recovered => "recovered",
            EventKind::GaveUp => "gave_up",
        }
    }
}

/// The body, field order as in SPEC 5.3.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub event: &'static str,
    pub service: String,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    pub message: String,
    pub restarts: u64,
    pub exit_code: Option<i32>,
}

impl Event {
    pub fn new(
        kind: EventKind,
        service: &str,
        at: DateTime<Utc>,
        message: String,
        restarts: u64,
        exit_code: Option<i32>,
    ) -> Event {
        Event {
            event: kind.as_str(),
            service: service.to_string(),
            time: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            message,
            restarts,
            exit_code,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Replaces `{{event}}`, `{{service}}`, `{{message}}`, `{{time}}`,
    /// `{{restarts}}` and `{{exit_code}}` (`null` when none). Text values are
    /// JSON-escaped (without quotes), so a JSON template stays valid JSON
    /// whatever the message says.
    pub fn render(&self, template: &str) -> String {
        let exit_code = self
            .exit_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "null".into());
        template
            .replace("{{event}}", &escape(self.event))
            .replace("{{service}}", &escape(&self.service))
            .replace("{{message}}", &escape(&self.message))
            .replace("{{time}}", &escape(&self.time))
            .replace("{{restarts}}", &self.restarts.to_string())
            .replace("{{exit_code}}", &exit_code)
    }

    /// The Slack incoming-webhook payload `{"text": "..."}`.
    pub fn slack_payload(&self) -> String {
        let text = format!(
            "oneinit: service *{}* {} — {} (restarts: {})",
            self.service, self.event, self.message, self.restarts
        );
        serde_json::json!({ "text": text }).to_string()
    }
}

/// A JSON string's content without the surrounding quotes.
fn escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len().saturating_sub(1).max(1)].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev() -> Event {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("time");
        Event::new(
            EventKind::Unhealthy,
            "web",
            at,
            "status 500 \"bad\"".into(),
            3,
            None,
        )
    }

    #[test]
    fn body_has_the_spec_fields_in_order() {
        assert_eq!(
            ev().to_json(),
            r#"{"event":"unhealthy","service":"web","time":"2026-01-02T03:04:05.000Z","message":"status 500 \"bad\"","restarts":3,"exit_code":null}"#
        );
    }

    #[test]
    fn template_placeholders() {
        let cases = [
            ("{{service}} is {{event}}", "web is unhealthy"),
            (
                r#"{"t": "{{message}}", "n": {{restarts}}, "c": {{exit_code}}}"#,
                r#"{"t": "status 500 \"bad\"", "n": 3, "c": null}"#,
            ),
            ("{{time}}", "2026-01-02T03:04:05.000Z"),
            ("{{unknown}}", "{{unknown}}"),
        ];
        for (tpl, want) in cases {
            assert_eq!(ev().render(tpl), want, "template {tpl}");
        }
        let mut failed = ev();
        failed.exit_code = Some(2);
        assert_eq!(failed.render("{{exit_code}}"), "2");
    }

    #[test]
    fn slack_payload_is_text_only() {
        let v: serde_json::Value = serde_json::from_str(&ev().slack_payload()).expect("json");
        let text = v["text"].as_str().expect("text");
        assert!(text.contains("web") && text.contains("unhealthy") && text.contains("restarts: 3"));
        assert_eq!(v.as_object().map(|o| o.len()), Some(1));
    }
}
