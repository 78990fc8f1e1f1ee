//! The only place with syscalls and `unsafe`: spawning, reaping, signals,
//! rlimits, cgroups, sockets. Each `unsafe` block carries a `// SAFETY:` note.

#![allow(unsafe_code)]

pub mod cgroup;
pub mod fd_table;
pub mod identity;
pub mod memory;
pub mod notify_socket;
pub mod pid1;
pub mod priority;
pub mod private_socket;
pub mod procfs;
pub mod reap;
pub mod runtime_dir;
pub mod signals;
pub mod socket;
pub mod spawn;
pub mod usage;
