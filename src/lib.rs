//! oneinit: the HTTP API layer shared by the `oneinit` and `onecli` binaries.

pub mod import;
pub mod metrics_listener;
