//! Delivering events to one notifier: a worker task per notifier reads its
//! bounded queue and delivers each event — webhook (JSON POST, custom
//! headers, optional template), Slack (`{"text": ...}`), or a command with
//! the event JSON on stdin — retrying failed attempts with backoff. Every
//! attempt is bounded by a timeout, so a dead endpoint only delays that
//! notifier's own queue, never supervision.

use super::event::Event;
use crate::metrics_exporter::messages::NotificationDelivered;
use crate::model::config::CommandError;
use crate::model::config::NotifierConfig;
use crate::processes::helper::{HelperError, HelperRunner};
use crate::sys::reap::ExitStatus;
use crate::sys::spawn::SpawnSpec;
use actix::Recipient;
use slog::{debug, warn, Logger};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events waiting per notifier; more are dropped (and counted as failed).
pub const QUEUE: usize = 256;

/// How delivery is retried and bounded.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Waits between attempts: one more attempt than there are delays.
    pub backoff: Vec<Duration>,
    /// Bound of one attempt (HTTP request or command run).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why one delivery attempt failed (logged with the attempt number; the
/// worker retries by `RetryPolicy`).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the notifier names no kind (webhook, slack or command)")]
    NoKind,
    #[error("POST {url}: status {status}")]
    Status { url: String, status: u16 },
    #[error("POST {url}: {why}")]
    Post { url: String, why: reqwest::Error },
    #[error("POST {url}: no answer within {timeout:?}")]
    NoAnswer { url: String, timeout: Duration },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Helper(#[from] HelperError),
    #[error("command exited with {code}: {output}")]
    CommandFailed { code: i32, output: String },
    #[error("command killed by {signal}")]
    CommandKilled { signal: &'static str },
}

/// What a worker needs.
pub struct Worker {
    pub name: String,
    pub cfg: NotifierConfig,
    pub http: reqwest::Client,
    pub runner: HelperRunner,
    pub retry: RetryPolicy,
    pub delivered: Vec<Recipient<NotificationDelivered>>,
    pub log: Logger,
}

impl Worker {
    /// Starts the worker on the current arbiter; returns its queue.
    pub fn start(self) -> mpsc::Sender<Event> {
        let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
        actix::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let success = self.deliver(&ev).await;
                for r in &self.delivered {
                    r.do_send(NotificationDelivered {
                        notifier: self.name.clone(),
                        success,
                    });
                }
            }
        });
        tx
    }

    /// All attempts for one event; true when one succeeded.
    async fn deliver(&self, ev: &Event) -> bool {
        let attempts = self.retry.backoff.len() + 1;
        for attempt in 0..attempts {
            match self.attempt(ev).await {
                Ok(()) => {
                    debug!(self.log, "notification delivered"; "notifier" => &self.name,
                        "event" => ev.event, "service" => &ev.service, "attempt" => attempt + 1);
                    return true;
                }
                Err(e) => {
                    let last = attempt + 1 == attempts;
                    warn!(self.log, "notification not delivered{}", if last { ", giving up" } else { ", will retry" };
                        "notifier" => &self.name, "service" => &ev.service, "attempt" => attempt + 1, "error" => %e);
                    if let Some(wait) = self.retry.backoff.get(attempt) {
                        tokio::time::sleep(*wait).await;
                    }
                }
            }
        }
        false
    }

    async fn attempt(&self, ev: &Event) -> Result<(), DeliveryError> {
        if let Some(w) = &self.cfg.webhook {
            let body = match &w.template {
                Some(t) => ev.render(t),
                None => ev.to_json(),
            };
            return self.post(&w.url, &w.headers, body).await;
        }
        if let Some(s) = &self.cfg.slack {
            return self
                .post(&s.url, &Default::default(), ev.slack_payload())
                .await;
        }
        if let Some(c) = &self.cfg.command {
            return self.run_command(&c.command, ev).await;
        }
        Err(DeliveryError::NoKind)
    }

    async fn post(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        body: String,
    ) -> Result<(), DeliveryError> {
        let mut req = self
            .http
            .post(url)
            .timeout(self.retry.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let bound = self.retry.timeout + Duration::from_millis(100);
        match tokio::time::timeout(bound, req.body(body).send()).await {
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => Err(DeliveryError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            }),
            Ok(Err(e)) => Err(DeliveryError::Post {
                url: url.to_string(),
                why: e,
            }),
            Err(_) => Err(DeliveryError::NoAnswer {
                url: url.to_string(),
                timeout: self.retry.timeout,
            }),
        }
    }

    async fn run_command(
        &self,
        command: &crate::model::config::Command,
        ev: &Event,
    ) -> Result<(), DeliveryError> {
        let argv = command.argv(false)?;
        let mut env: Vec<(String, String)> = crate::secrets::inherited_vars()
            .into_iter()
            .filter(|(k, _)| k != "ONEINIT_EVENT" && k != "ONEINIT_SERVICE")
            .collect();
        env.push(("ONEINIT_EVENT".into(), ev.event.to_string()));
        env.push(("ONEINIT_SERVICE".into(), ev.service.clone()));
        let spec = SpawnSpec {
            argv,
            env,
            ..SpawnSpec::default()
        };
        let input = format!("{}\n", ev.to_json()).into_bytes();
        let out = self
            .runner
            .run(spec, Some(input), self.retry.timeout)
            .await?;
        match out.status {
            ExitStatus::Exited(0) => Ok(()),
            ExitStatus::Exited(code) => Err(DeliveryError::CommandFailed {
                code,
                output: out.output,
            }),
            ExitStatus::Signaled(s) => Err(DeliveryError::CommandKilled { signal: s.name() }),
        }
    }
}
