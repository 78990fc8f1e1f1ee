//! Plain Rust with no actix and no syscalls: the config schema, units,
//! signal names, the service state machine, the dependency graph and the
//! backoff arithmetic. Everything here is unit-tested without processes.

pub mod activation;
pub mod config;
pub mod graph;
pub mod limits;
pub mod machine;
pub mod schedule;
pub mod shutdown;
pub mod signal;
pub mod status;
pub mod stop_plan;
pub mod units;
pub mod view;
