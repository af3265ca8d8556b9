//! A scan's result and its renderings: the table for people, JSON for
//! programs, the Prometheus text format for monitoring.

pub mod json;
pub mod prometheus;
pub mod table;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::probe::namespace::PidNamespace;
use crate::scan::ScanError;
use crate::verdict::{Entry, Status};

/// The result of one scan.
#[derive(Debug, Clone)]
pub struct Report {
    /// The roots walked.
    pub roots: Vec<PathBuf>,
    /// One entry per pidfile, in walk order.
    pub entries: Vec<Entry>,
    /// Problems that are not verdicts (unreadable directories, missing roots).
    pub errors: Vec<ScanError>,
    /// When the scan started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// The PID namespace the scan saw processes from: in a nested one, a PID
    /// that was not seen proves nothing.
    pub pid_namespace: PidNamespace,
}

/// How many pidfiles have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Alive.
    pub alive: usize,
    /// Stale.
    pub stale: usize,
    /// Reused.
    pub reused: usize,
    /// Zombie.
    pub zombie: usize,
    /// Invalid.
    pub invalid: usize,
    /// Unreadable.
    pub unreadable: usize,
}

impl Summary {
    /// The count for one status.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Alive => self.alive,
            Status::Stale => self.stale,
            Status::Reused => self.reused,
            Status::Zombie => self.zombie,
            Status::Invalid => self.invalid,
            Status::Unreadable => self.unreadable,
        }
    }

    fn count_mut(&mut self, status: Status) -> &mut usize {
        match status {
            Status::Alive => &mut self.alive,
            Status::Stale => &mut self.stale,
            Status::Reused => &mut self.reused,
            Status::Zombie => &mut self.zombie,
            Status::Invalid => &mut self.invalid,
            Status::Unreadable => &mut self.unreadable,
        }
    }
}

impl Report {
    /// Counts per status.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for entry in &self.entries {
            *summary.count_mut(entry.status) += 1;
        }
        summary
    }

    /// True when every pidfile is alive and the scan met no error: what exit status 0 means.
    pub fn is_healthy(&self) -> bool {
        self.errors.is_empty() && self.entries.iter().all(|e| e.status == Status::Alive)
    }
}

/// Write the text `render` gives each of `slices` to `out`, in order: from
/// two slices on, this thread and one more (a thread called `name`) render
/// them as each is free, at most two ahead (see [`crate::cores::in_order`]).
/// The first error stops the writing and is returned.
fn write_in_order<T: Send>(
    name: &str,
    slices: Vec<T>,
    out: &mut impl Write,
    render: impl Fn(T) -> io::Result<Vec<u8>> + Sync,
) -> io::Result<()> {
    let helpers = usize::from(slices.len() >= 2 && crate::cores::spare());
    let mut written = Ok(());
    crate::cores::in_order(
        (name, None),
        slices,
        helpers,
        2,
        || (),
        |_, slice| render(slice),
        |text| {
            if written.is_ok() {
                written = text.and_then(|bytes| out.write_all(&bytes));
            }
        },
    );
    written
}
