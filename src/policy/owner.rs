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
    /// The process started this long after the file was last written.
    StartedAfter(Duration),
    /// The process has exited but is not reaped (a zombie).
    Exited,
    /// A live process that may have written the file.
    Live,
}

impl Owner {
    /// May the process have written the file and still be running? Only then
    /// does the file belong to someone: everything else can be recovered.
    pub fn is_live(self) -> bool {
        matches!(self, Owner::Live | Owner::Unidentified)
    }
}

/// Judge the process a pidfile last written at `written` names: `liveness`
/// from `kill(pid, 0)` (EPERM counts as alive), `process` from `/proc`.
/// Threads, kernel threads and processes started more than [`REUSE_TOLERANCE`]
/// after the write cannot be the writer; those rules come before the zombie
/// rule, so a zombie that is not the writer is reported as what it is.
pub fn judge(
    liveness: Liveness,
    process: Option<&ProcessFacts>,
    written: Option<SystemTime>,
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
        return Owner::StartedAfter(later);
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
        for (liveness, process, written, expected) in cases {
            assert_eq!(judge(liveness, process, written), expected, "{process:?}");
        }
        assert!(matches!(
            judge(Liveness::Exists, Some(&live), Some(hour_ago)),
            Owner::StartedAfter(d) if d > Duration::from_secs(3500)
        ));
        // A zombie that started after the write is not the writer either way.
        assert!(matches!(
            judge(Liveness::Exists, Some(&zombie), Some(hour_ago)),
            Owner::StartedAfter(_)
        ));
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
        ] {
            assert_eq!(owner.is_live(), live, "{owner:?}");
        }
    }
}
