//! May this pidfile's owner be signalled? One rule for the inspector's picker
//! and the executor's check before sending.

use crate::verdict::{Entry, Status, Warning};

/// The decision on signalling one pidfile's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signalling {
    /// It may be signalled on one confirmation.
    Allowed,
    /// It may be signalled only on a second, explicit confirmation: the
    /// pidfile is writable by users other than the process's owner
    /// (`untrusted-file`), so whoever can write it chooses who is signalled.
    NeedsSecondConfirmation,
    /// Never, with why.
    Refused(String),
}

/// What the second confirmation for signalling is about, as a phrase.
pub const UNTRUSTED: &str =
    "the pidfile is writable by users other than the process's owner (untrusted-file)";

/// Decide whether the owner of `entry` may be signalled by process `me`.
/// Nothing is ever sent to a stale or reused PID, a zombie, PID 1, `me`, a
/// kernel thread, or a process whose identity could not be read.
pub fn may_signal(entry: &Entry, me: i32) -> Signalling {
    let pid = match (entry.status, entry.pid) {
        (Status::Alive, Some(pid)) => pid,
        (Status::Zombie, _) => return refused("the process has already exited (zombie)"),
        (Status::Reused, _) => return refused("the PID belongs to another process now"),
        (status, _) => return Signalling::Refused(format!("no process to signal ({status})")),
    };
    if pid == 1 {
        return refused("PID 1 (init) is never signalled");
    }
    if pid == me {
        return refused("that is pidscope itself");
    }
    match &entry.process {
        Some(p) if p.kernel_thread => refused("kernel threads are never signalled"),
        Some(_) if entry.warnings.contains(Warning::UntrustedFile) => {
            Signalling::NeedsSecondConfirmation
        }
        Some(_) => Signalling::Allowed,
        None => refused("the process's identity is unknown (/proc not readable)"),
    }
}

/// Why `entry`'s owner can never be signalled by `me`, or `None` when it can
/// (perhaps after a second confirmation).
pub fn refusal(entry: &Entry, me: i32) -> Option<String> {
    match may_signal(entry, me) {
        Signalling::Refused(why) => Some(why),
        Signalling::Allowed | Signalling::NeedsSecondConfirmation => None,
    }
}

fn refused(why: &str) -> Signalling {
    Signalling::Refused(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use std::sync::Arc;

    fn entry(status: Status, pid: i32) -> Entry {
        fixture::entry("/run/x.pid", status)
            .pid(pid)
            .process(fixture::process("x"))
            .build()
    }

    #[test]
    fn decisions() {
        let me = 4242;
        assert_eq!(
            may_signal(&entry(Status::Alive, 10), me),
            Signalling::Allowed
        );
        let mut untrusted = entry(Status::Alive, 10);
        untrusted.warnings.insert(Warning::UntrustedFile);
        assert_eq!(
            may_signal(&untrusted, me),
            Signalling::NeedsSecondConfirmation
        );
        let mut kthread = entry(Status::Alive, 10);
        Arc::make_mut(kthread.process.as_mut().unwrap()).kernel_thread = true;
        let mut unknown = entry(Status::Alive, 10);
        unknown.process = None;
        for (e, why) in [
            (entry(Status::Alive, 1), "PID 1 (init) is never signalled"),
            (entry(Status::Alive, me), "that is pidscope itself"),
            (kthread, "kernel threads are never signalled"),
            (
                unknown,
                "the process's identity is unknown (/proc not readable)",
            ),
            (
                entry(Status::Zombie, 10),
                "the process has already exited (zombie)",
            ),
            (
                entry(Status::Reused, 10),
                "the PID belongs to another process now",
            ),
            (entry(Status::Stale, 10), "no process to signal (stale)"),
            (entry(Status::Invalid, 10), "no process to signal (invalid)"),
        ] {
            assert_eq!(refusal(&e, me).as_deref(), Some(why), "{e:?}");
        }
    }
}
