//! Probing the live system: process liveness and identity, open files,
//! file locks, and the PID namespace pidscope sees processes from.

pub mod cgroup;
pub mod details;
pub mod exes;
pub mod fds;
pub mod identity;
pub mod locks;
pub mod namespace;
pub mod process;
