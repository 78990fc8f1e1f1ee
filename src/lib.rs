//! oneinit: the HTTP API layer shared by the `oneinit` and `onecli` binaries.

pub mod api;
pub mod client;
pub mod import;
pub mod metrics_listener;
