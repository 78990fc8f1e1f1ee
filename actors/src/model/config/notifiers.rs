//! `notifiers` (SPEC 5.3): where events are delivered (webhook, Slack, a
//! command).

use super::Command;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Exactly one of `webhook`, `slack`, `command`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifierConfig {
    pub webhook: Option<WebhookConfig>,
    pub slack: Option<SlackConfig>,
    pub command: Option<CommandNotifierConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A body template; `{{event}}`, `{{service}}`, `{{message}}`... are replaced.
    #[serde(default)]
    pub template: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub url: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandNotifierConfig {
    pub command: Command,
}
