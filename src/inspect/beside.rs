//! What a scan does beside reading the pidfiles, on threads of its own: the
//! lock table and the systemd units depend on no pidfile, so they are read
//! while the pidfiles are.
//!
//! `/proc/locks` is the one that matters: the kernel makes each reader of it
//! wait for an RCU grace period (it takes the file-lock semaphore for
//! writing), several milliseconds in which the reader does nothing. Read
//! beside the walk, that wait costs a scan no time. The table is then a
//! moment older than the pidfiles' contents: a verdict is a snapshot either
//! way, and no action relies on it (removal takes the file's lock itself).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};

use crate::probe::exes::ExeNames;
use crate::probe::locks::LockTable;
use crate::systemd::SystemdView;
use crate::systemd::index::UnitError;

/// A systemd view and the errors of the unit files it could not use.
type Units = (SystemdView, Vec<UnitError>);

/// The lock table and the systemd view, being read, and perhaps the
/// executable names of every process.
pub(super) struct Beside {
    locks: Option<Pending<LockTable>>,
    /// The unit directories, and the units read from them, sent as soon as
    /// they are; `None`: systemd is not looked at.
    units: Option<(Vec<PathBuf>, Receiver<Units>)>,
    /// The thread that read the units, which goes on to read every
    /// process's executable name when asked to (in case a stale pidfile
    /// asks whether its daemon runs under another PID): one thread, so that
    /// the walk and the reads have the other processor to themselves.
    exe_names: Option<Pending<Option<ExeNames>>>,
}

impl Beside {
    /// Start reading the lock table, and the systemd units from `dirs`
    /// (`previous`: the last scan's view, kept while its units are
    /// unchanged). `exe_names`: read every process's executable name next,
    /// which only the systemd rules ask for: worth it for a scan made once,
    /// where the other processor would wait anyway, and not for a view that
    /// scans again and again while nothing is stale.
    pub(super) fn start(
        dirs: Option<Vec<PathBuf>>,
        previous: Option<SystemdView>,
        exe_names: bool,
    ) -> Self {
        let mut thread = None;
        let units = dirs.map(|dirs| {
            let mine = dirs.clone();
            let (send, units) = mpsc::sync_channel(1);
            thread = Some(Pending::start("pidscope-units", move || {
                let units = match previous {
                    Some(view) => view.refresh(),
                    None => SystemdView::load(mine),
                };
                // Whoever waits for the units may have stopped waiting.
                let _ = send.send(units);
                exe_names.then(ExeNames::read)
            }));
            (dirs, units)
        });
        Beside {
            locks: Some(Pending::start("pidscope-locks", LockTable::read)),
            units,
            exe_names: thread,
        }
    }

    /// The systemd view and the errors of its unit files, once read (read
    /// here if no thread could read them).
    pub(super) fn units(&mut self) -> Option<Units> {
        let (dirs, units) = self.units.take()?;
        Some(units.recv().unwrap_or_else(|_| SystemdView::load(dirs)))
    }

    /// The lock table, once read (read now if it was asked for before).
    pub(super) fn locks(&mut self) -> LockTable {
        match self.locks.take() {
            Some(locks) => locks.wait(LockTable::read),
            None => LockTable::read(),
        }
    }

    /// Every process's executable name: the one read ahead, or read now.
    pub(super) fn exe_names(&mut self) -> ExeNames {
        self.exe_names
            .take()
            .and_then(|names| names.wait(|| None))
            .unwrap_or_else(ExeNames::read)
    }
}

/// A value being computed on a thread of its own; `None` when no thread
/// could be started, and it is computed when waited for.
struct Pending<T>(Option<JoinHandle<T>>);

impl<T: Send + 'static> Pending<T> {
    fn start(name: &str, work: impl FnOnce() -> T + Send + 'static) -> Self {
        Pending(thread::Builder::new().name(name.into()).spawn(work).ok())
    }

    /// The value: the thread's (a panic there goes on here), or `inline`'s.
    fn wait(self, inline: impl FnOnce() -> T) -> T {
        match self.0 {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => inline(),
        }
    }
}
