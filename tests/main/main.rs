//! The integration tests, one binary: each module is one former `tests/NAME.rs`.
//! They start the real `oneinit` binary (see `util`), so they share one
//! build of the helpers and one link step.
//!
//! A new test file: `tests/main/NAME.rs` starting with `use crate::util;`
//! (then `use util::...` as usual), and `mod NAME;` below. Run one module
//! with `cargo test --test main NAME::`. Tests that need root are
//! `#[ignore = "needs root"]`; `scripts/test.sh` runs them as root with
//! `--include-ignored`. No test returns early as "skipped".
//!
//! Tests that run a ServiceManager in-process (`tests/limits_view.rs`,
//! `tests/architecture_manager.rs`) stay binaries of their own: the manager
//! reaps with waitpid(-1) and would collect the exit statuses of the oneinit
//! processes the tests here wait for.

#[path = "../util/mod.rs"]
mod util;

mod activation;
mod adoption_examples;
mod api_contract;
mod api_e2e;
mod api_views;
mod cli_startup;
mod config_check;
mod config_limits;
mod docker_build;
mod docs_reference;
mod exit_status;
mod faults_api;
mod faults_exit;
mod faults_logs;
mod health;
mod health_process;
mod import_supervisord;
mod limits;
mod logs;
mod metrics;
mod nofile;
mod onecli;
mod pid1;
mod priorities;
mod readyz;
mod reload;
mod reload_live;
mod remote;
mod scratch;
mod security;
mod stop_order;
mod supervisor;
mod tini;
mod ui;
mod version;
