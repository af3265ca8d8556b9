//! Probing the live system: process liveness and identity, and file locks.

pub mod identity;
pub mod locks;
pub mod process;
