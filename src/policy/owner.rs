//! Owner judgement: is the process a pidfile names the one that wrote it?
//!
//! One rule for the inspector's verdicts (the `classify` rules) and for the
//! pidfile lock's recovery (`lock`): a fix made here is made in both.

use std::time::{Duration, SystemTime};

use crate::probe::identity::{Clock, Identity, ProcessState};
use crate::probe::process::{Liveness, ProcessInfo};

/// How far a process's start may follow the pidfile's last write before the
/// process cannot be its writer: covers clock-tick rounding and slow starts.
pub const REUSE_TOLERANCE: Duration = Duration::from_secs(2);

/// What owner judgement looks at in the process a PID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessFacts {
    /// A kernel thread (never writes a pidfile).
    pub kernel_thread: bool,
    /// The process the PID belongs to, when the PID is a thread of another one.
    pub thread_of: Option<i32>,
    /// When it started, to the clock tick.
    pub start_time: Option<SystemTime>,
    /// Its state.
    pub state: ProcessState,
}

impl ProcessFacts {
    /// The facts of a probed process.
    pub fn of_info(info: &ProcessInfo) -> Self {
        ProcessFacts {
            kernel_thread: info.kernel_thread,
            thread_of: info.thread_of,
            start_time: info.start_time,
            state: info.state,
        }
    }

    /// The facts of `pid` from its `/proc` identity, with `clock` turning ticks into time.
    pub fn of_identity(pid: i32, identity: &Identity, clock: &Clock) -> Self {
        ProcessFacts {
            kernel_thread: identity.kernel_thread,
            thread_of: identity.tgid.filter(|&t| t != pid),
            start_time: Some(clock.wall_time(identity.start_ticks)),
            state: identity.state,
        }
    }
}

/// The judgement on the process a pidfile names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// No process has the PID.
    Gone,
    /// A process has the PID, but `/proc` does not say who it is.
    Unidentified,
    /// The PID is a thread of process `.0`, not a process.
    ThreadOf(i32),
    /// The PID is a kernel thread.
    KernelThread,
    /// The process started this long after the file was last written, and
    /// nothing shows it owns the file: a reused PID.
    StartedAfter(Duration),
    /// The process started this long after the file was last written, but
    /// owns it by `.1`: the wall clock was stepped forward since the write
    /// (NTP at boot, a resumed VM), so the times cannot be compared.
    ClockStepped(Duration, Sign),
    /// The process has exited but is not reaped (a zombie).
    Exited,
    /// A live process that may have written the file.
    Live,
}

impl Owner {
    /// May the process have written the file and still be running? Only then
    /// does the file belong to someone: everything else can be recovered.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Owner::Live | Owner::Unidentified | Owner::ClockStepped(..)
        )
    }
}

/// Who holds a lock on the pidfile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LockSign {
    /// Nobody (or nobody that could be seen).
    #[default]
    Unlocked,
    /// The process the file names, perhaps with others.
    ByNamed,
    /// Only processes other than the one the file names.
    ByOthers,
}

impl LockSign {
    /// The sign given by the lock holders `holders` of a file naming `pid`.
    pub fn of(holders: &[i32], pid: i32) -> Self {
        if holders.contains(&pid) {
            LockSign::ByNamed
        } else if holders.is_empty() {
            LockSign::Unlocked
        } else {
            LockSign::ByOthers
        }
    }
}

/// What shows that the process a pidfile names owns the file, whatever the
/// clocks say. Gathered only when the start time says the process came after
/// the write, since two of them cost a look at the system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signs {
    /// Who holds a lock on the file.
    pub lock: LockSign,
    /// The process has the file open (one of its descriptors is the file).
    pub has_open: bool,
    /// The process's name or executable relates to the file's name or directory.
    pub name_relates: bool,
}

/// The sign by which a process owns its pidfile although the clocks disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// It holds a lock on the file.
    HoldsLock,
    /// It has the file open.
    HasOpen,
    /// Its name relates to the file's.
    NameRelates,
}

impl Sign {
    /// The sign as the end of a sentence about the process.
    pub fn phrase(self) -> &'static str {
        match self {
            Sign::HoldsLock => "holds its lock",
            Sign::HasOpen => "has it open",
            Sign::NameRelates => "its name matches the file's",
        }
    }
}

impl Signs {
    /// The strongest sign of ownership, if any. A lock held only by other
    /// processes is hard evidence against the named one: no other sign counts then.
    pub fn ownership(&self) -> Option<Sign> {
        match self.lock {
            LockSign::ByNamed => Some(Sign::HoldsLock),
            LockSign::ByOthers => None,
            LockSign::Unlocked if self.name_relates => Some(Sign::NameRelates),
            LockSign::Unlocked if self.has_open => Some(Sign::HasOpen),
            LockSign::Unlocked => None,
        }
    }

    /// Gather the signs cheapest first and stop at the first that decides:
    /// the lock (already known), then the name, and only then `has_open`,
    /// which costs a walk of the process's descriptors.
    pub fn gather(
        lock: LockSign,
        name_relates: impl FnOnce() -> bool,
        has_open: impl FnOnce() -> bool,
    ) -> Signs {
        let mut signs = Signs {
            lock,
            ..Signs::default()
        };
        if lock == LockSign::Unlocked {
            signs.name_relates = name_relates();
            signs.has_open = !signs.name_relates && has_open();
        }
        signs
    }
}

/// Judge the process a pidfile last written at `written` names: `liveness`
/// from `kill(pid, 0)` (EPERM counts as alive), `process` from `/proc`.
///
/// Threads and kernel threads never write pidfiles: hard evidence. A process
/// that started more than [`REUSE_TOLERANCE`] after the write is a reused
/// PID only when `signs` (asked for only then) show no ownership: the wall
/// clock steps (NTP at boot, a device without a real-time clock, a resumed
/// VM), so time alone never decides. Those rules come before the zombie
/// rule, so a zombie that is not the writer is reported as what it is.
pub fn judge(
    liveness: Liveness,
    process: Option<&ProcessFacts>,
    written: Option<SystemTime>,
    signs: impl FnOnce() -> Signs,
) -> Owner {
    if liveness == Liveness::Gone {
        return Owner::Gone;
    }
    let Some(process) = process else {
        return Owner::Unidentified;
    };
    if let Some(tgid) = process.thread_of {
        return Owner::ThreadOf(tgid);
    }
    if process.kernel_thread {
        return Owner::KernelThread;
    }
    if let (Some(start), Some(written)) = (process.start_time, written)
        && let Ok(later) = start.duration_since(written)
        && later > REUSE_TOLERANCE
    {
        return match signs().ownership() {
            Some(_) if process.state.has_exited() => Owner::Exited,
            Some(sign) => Owner::ClockStepped(later, sign),
            None => Owner::StartedAfter(later),
        };
    }
    if process.state.has_exited() {
        return Owner::Exited;
    }
    Owner::Live
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ProcessFacts {
        ProcessFacts {
            kernel_thread: false,
            thread_of: None,
            start_time: Some(SystemTime::now() - Duration::from_secs(1)),
            state: ProcessState::Sleeping,
        }
    }

    #[test]
    fn judgements() {
        let now = SystemTime::now();
        let live = facts();
        let zombie = ProcessFacts {
            state: ProcessState::Zombie,
            ..live
        };
        let thread = ProcessFacts {
            thread_of: Some(7),
            ..live
        };
        let kthread = ProcessFacts {
            kernel_thread: true,
            ..live
        };
        let hour_ago = now - Duration::from_secs(3600);
        let cases: [(Liveness, Option<&ProcessFacts>, Option<SystemTime>, Owner); 9] = [
            (Liveness::Gone, Some(&live), Some(now), Owner::Gone),
            (Liveness::Exists, None, Some(now), Owner::Unidentified),
            (Liveness::NotSignalable, None, None, Owner::Unidentified),
            (
                Liveness::Exists,
                Some(&thread),
                Some(now),
                Owner::ThreadOf(7),
            ),
            (
                Liveness::Exists,
                Some(&kthread),
                Some(now),
                Owner::KernelThread,
            ),
            (Liveness::Exists, Some(&zombie), Some(now), Owner::Exited),
            (Liveness::Exists, Some(&live), Some(now), Owner::Live),
            (Liveness::NotSignalable, Some(&live), None, Owner::Live),
            (
                Liveness::Exists,
                Some(&live),
                Some(now - Duration::from_millis(2500)),
                Owner::Live,
            ),
        ];
        let no_signs = || -> Signs { panic!("signs are only asked for when the clocks disagree") };
        for (liveness, process, written, expected) in cases {
            assert_eq!(
                judge(liveness, process, written, no_signs),
                expected,
                "{process:?}"
            );
        }
        assert!(matches!(
            judge(Liveness::Exists, Some(&live), Some(hour_ago), Signs::default),
            Owner::StartedAfter(d) if d > Duration::from_secs(3500)
        ));
        // A zombie that started after the write is not the writer either way.
        assert!(matches!(
            judge(
                Liveness::Exists,
                Some(&zombie),
                Some(hour_ago),
                Signs::default
            ),
            Owner::StartedAfter(_)
        ));
    }

    #[test]
    fn any_sign_of_ownership_outranks_the_clock_but_not_a_lock_held_by_others() {
        let live = facts();
        let zombie = ProcessFacts {
            state: ProcessState::Zombie,
            ..live
        };
        let written = Some(SystemTime::now() - Duration::from_secs(15 * 3600));
        let judged = |process: &ProcessFacts, signs: Signs| {
            judge(Liveness::Exists, Some(process), written, || signs)
        };
        let by = |lock, has_open, name_relates| Signs {
            lock,
            has_open,
            name_relates,
        };
        use LockSign::*;
        for (signs, sign) in [
            (by(ByNamed, false, false), Some(Sign::HoldsLock)),
            (by(ByNamed, true, true), Some(Sign::HoldsLock)),
            (by(Unlocked, true, false), Some(Sign::HasOpen)),
            (by(Unlocked, true, true), Some(Sign::NameRelates)),
            (by(Unlocked, false, true), Some(Sign::NameRelates)),
            (by(Unlocked, false, false), None),
            (by(ByOthers, true, true), None),
        ] {
            match (judged(&live, signs), sign) {
                (Owner::ClockStepped(later, got), Some(want)) => {
                    assert_eq!(got, want, "{signs:?}");
                    assert!(later > Duration::from_secs(14 * 3600), "{later:?}");
                }
                (Owner::StartedAfter(_), None) => {}
                (other, _) => panic!("{signs:?}: {other:?}"),
            }
        }
        // An owner that has exited since is a zombie, clocks or not.
        assert_eq!(judged(&zombie, by(ByNamed, false, false)), Owner::Exited);
        assert_eq!(LockSign::of(&[], 5), LockSign::Unlocked);
        assert_eq!(LockSign::of(&[4, 5], 5), LockSign::ByNamed);
        assert_eq!(LockSign::of(&[4], 5), LockSign::ByOthers);
        assert_eq!(Sign::HoldsLock.phrase(), "holds its lock");
        // The costly look is skipped once a cheaper sign decides.
        let costly = || -> bool { panic!("the descriptors were walked") };
        assert_eq!(
            Signs::gather(ByNamed, || false, costly).ownership(),
            Some(Sign::HoldsLock)
        );
        assert_eq!(Signs::gather(ByOthers, || true, costly).ownership(), None);
        assert_eq!(
            Signs::gather(Unlocked, || true, costly).ownership(),
            Some(Sign::NameRelates)
        );
        assert_eq!(
            Signs::gather(Unlocked, || false, || true).ownership(),
            Some(Sign::HasOpen)
        );
    }

    #[test]
    fn a_start_up_to_the_tolerance_after_the_write_is_the_writer() {
        let written = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let started = |after| ProcessFacts {
            start_time: Some(written + after),
            ..facts()
        };
        let judged = |after| {
            judge(
                Liveness::Exists,
                Some(&started(after)),
                Some(written),
                Signs::default,
            )
        };
        assert_eq!(judged(Duration::ZERO), Owner::Live);
        assert_eq!(judged(REUSE_TOLERANCE), Owner::Live);
        let later = REUSE_TOLERANCE + Duration::from_millis(1);
        assert_eq!(judged(later), Owner::StartedAfter(later));
        // A process that started before the write may well have written it.
        let before = ProcessFacts {
            start_time: Some(written - Duration::from_secs(3600)),
            ..facts()
        };
        assert_eq!(
            judge(
                Liveness::Exists,
                Some(&before),
                Some(written),
                Signs::default
            ),
            Owner::Live
        );
    }

    #[test]
    fn only_live_or_unidentified_owners_keep_their_file() {
        for (owner, live) in [
            (Owner::Gone, false),
            (Owner::Unidentified, true),
            (Owner::ThreadOf(1), false),
            (Owner::KernelThread, false),
            (Owner::StartedAfter(Duration::from_secs(3)), false),
            (Owner::Exited, false),
            (Owner::Live, true),
            (
                Owner::ClockStepped(Duration::from_secs(3), Sign::HasOpen),
                true,
            ),
        ] {
            assert_eq!(owner.is_live(), live, "{owner:?}");
        }
    }
}
