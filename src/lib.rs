//! oneinit: the HTTP API layer shared by the `oneinit` and `onecli` binaries.

pub mod api;
pub mod build_info;
pub mod client;
pub mod import;
pub mod metrics_listener;
