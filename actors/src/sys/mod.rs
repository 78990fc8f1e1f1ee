//! The only place with syscalls and `unsafe`: spawning, reaping, signals,
//! rlimits, cgroups, sockets. Each `unsafe` block carries a `// SAFETY:` note.

#![allow(unsafe_code)]

pub mod runtime_dir;
