//! oneinit: the HTTP API layer shared by the `oneinit` and `onecli` binaries.
pub mod metrics_listener;
