//! May this pidfile be deleted? One rule for `clean`'s plan, the inspector's
//! dialogs and the executor's last check before acting.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::display::{age, human_duration, pid_numbers};
use crate::verdict::{Entry, Status, Warning};

/// How long an invalid pidfile is left alone by default: an empty pidfile is
/// normal for a daemon that has created it but not yet written its PID.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

/// The decision on deleting one pidfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// It may go on one confirmation: `stale`, `reused`, or `invalid` and old enough.
    Allowed,
    /// It may go only on a second, explicit confirmation that says what
    /// breaks: its process is alive (or a zombie), or it cannot be read.
    NeedsSecondConfirmation,
    /// It must stay, whatever the operator says.
    Refused(Keep),
}

/// Why a pidfile must stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// Live processes hold a lock on it: it is in use, whatever it says.
    Locked {
        /// The lock holders.
        holders: Vec<i32>,
    },
    /// Stale or reused as seen from a nested PID namespace: its PID may
    /// belong to a live process outside it.
    Unverifiable,
    /// Invalid, but younger than the grace period: a daemon may still be writing it.
    Young {
        /// Time since its last write.
        age: Duration,
        /// The grace period.
        grace: Duration,
    },
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keep::Locked { holders } => {
                write!(f, "locked by PID {}: in use", pid_numbers(holders))
            }
            Keep::Unverifiable => f.write_str(
                "unverifiable from a nested PID namespace: its PID may belong to a live process outside it (--same-namespace if the pidfiles belong to this one)",
            ),
            Keep::Young { age, grace } => write!(
                f,
                "only {} old (grace {})",
                human_duration(*age),
                human_duration(*grace)
            ),
        }
    }
}

/// Does deleting a pidfile with this status break something, so that it
/// needs the second confirmation?
pub fn needs_second_confirmation(status: Status) -> bool {
    matches!(status, Status::Alive | Status::Zombie | Status::Unreadable)
}

/// Decide whether `entry` may be deleted `now`; invalid pidfiles younger than
/// `grace` stay. A lock held on the file outranks every other reason; a
/// verdict that could not be verified (warning `unverifiable`) is never enough.
pub fn may_delete(entry: &Entry, grace: Duration, now: SystemTime) -> Deletion {
    if let Some(lock) = entry.lock.as_ref().filter(|l| !l.holders.is_empty()) {
        return Deletion::Refused(Keep::Locked {
            holders: lock.holders.clone(),
        });
    }
    if entry.warnings.contains(Warning::Unverifiable) {
        return Deletion::Refused(Keep::Unverifiable);
    }
    if entry.status == Status::Invalid {
        let age = age(entry.file.as_ref().map(|f| f.mtime), now).unwrap_or_default();
        if age < grace {
            return Deletion::Refused(Keep::Young { age, grace });
        }
    }
    if needs_second_confirmation(entry.status) {
        Deletion::NeedsSecondConfirmation
    } else {
        Deletion::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::probe::locks::LockKind;

    fn entry(status: Status, age: Duration, holders: &[i32]) -> (Entry, SystemTime) {
        let now = SystemTime::now();
        let mut entry = fixture::entry("/run/x.pid", status)
            .pid(10)
            .file(fixture::file().mtime(now - age));
        if !holders.is_empty() {
            entry = entry.lock(fixture::lock(LockKind::Flock, holders));
        }
        (entry.build(), now)
    }

    #[test]
    fn decisions() {
        let grace = Duration::from_secs(60);
        let old = Duration::from_secs(3600);
        let young = Duration::from_secs(5);
        let second = Deletion::NeedsSecondConfirmation;
        for (status, age, holders, expected) in [
            (Status::Stale, old, &[][..], Deletion::Allowed),
            (Status::Reused, young, &[], Deletion::Allowed),
            (Status::Invalid, old, &[], Deletion::Allowed),
            // Younger than the grace period stays; exactly as old may go.
            (Status::Invalid, grace, &[], Deletion::Allowed),
            (
                Status::Invalid,
                young,
                &[],
                Deletion::Refused(Keep::Young { age: young, grace }),
            ),
            (Status::Alive, old, &[], second.clone()),
            (Status::Zombie, old, &[], second.clone()),
            (Status::Unreadable, old, &[], second.clone()),
            (
                Status::Stale,
                old,
                &[5, 6],
                Deletion::Refused(Keep::Locked {
                    holders: vec![5, 6],
                }),
            ),
            (
                Status::Invalid,
                young,
                &[5],
                Deletion::Refused(Keep::Locked { holders: vec![5] }),
            ),
        ] {
            let (e, now) = entry(status, age, holders);
            assert_eq!(may_delete(&e, grace, now), expected, "{status} {age:?}");
        }
        for status in [Status::Stale, Status::Reused] {
            let (mut e, now) = entry(status, old, &[]);
            e.warnings.insert(Warning::Unverifiable);
            assert_eq!(
                may_delete(&e, grace, now),
                Deletion::Refused(Keep::Unverifiable),
                "{status}"
            );
        }
    }

    #[test]
    fn reasons_read_as_one_line() {
        let locked = Keep::Locked {
            holders: vec![5, 6],
        };
        assert_eq!(locked.to_string(), "locked by PID 5, 6: in use");
        let young = Keep::Young {
            age: Duration::from_secs(5),
            grace: Duration::from_secs(60),
        };
        assert_eq!(young.to_string(), "only 5s old (grace 1m0s)");
    }
}
