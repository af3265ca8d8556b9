//! The rules, and nothing else: pure functions of facts that return a
//! decision and, where one is refused, a one-line reason. Each rule has one
//! implementation here, and every caller (the scanner's verdicts, the pidfile
//! lock, `clean`, the inspector, the action executor) uses it.
//!
//! - [`owner`]: is the process a pidfile names the one that wrote it?
//! - [`classify`](mod@classify): the verdict on one pidfile ([`crate::verdict::Status`],
//!   reason, warnings).
//! - [`names`]: does a pidfile's name relate to a process's?
//! - [`delete`]: may a pidfile be deleted, and on how many confirmations?
//! - [`signal`]: may its owner be signalled, and on how many confirmations?
//! - [`systemd`](mod@systemd): would systemd accept the PID a unit's pidfile names, does the
//!   process run in the unit, is a dead pidfile's daemon running elsewhere?
//!
//! Nothing here touches the system: no files, no `/proc`, no clock except
//! as a value passed in (the one exception is "running for", which reads
//! the time to describe an alive process).

pub mod classify;
pub mod delete;
pub mod names;
pub mod owner;
pub mod signal;
pub mod systemd;

pub use classify::classify;
