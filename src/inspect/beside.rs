//! What a scan does beside reading the pidfiles, on threads of its own: the
//! lock table and the systemd units depend on no pidfile, so they are read
//! while the pidfiles are.
//!
//! `/proc/locks` is the one that matters: the kernel makes each reader of it
//! wait for an RCU grace period (it takes the file-lock semaphore for
//! writing), several milliseconds in which the reader does nothing, and 10
//! to 20 while the scan keeps both processors busy: longer than the whole
//! scan of a thousand pidfiles. Read beside the walk, that wait costs a
//! large scan no time. A scan made once, as root, of up to [`MAX_PEEKED`]
//! pidfiles does better: as each thread reads a slice of them, it keeps
//! them open and asks the kernel whether any of them is locked ([`Peek`], a
//! BPF iterator over this process's own files); the table is read only if
//! one is. Either way the locks are a moment older than the pidfiles'
//! contents: a verdict is a snapshot, and no action relies on it (removal
//! takes the file's lock itself).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};

use crate::probe::exes::ExeNames;
use crate::probe::locks::{LockTable, Peek};
use crate::systemd::SystemdView;
use crate::systemd::index::UnitError;

/// A systemd view and the errors of the unit files it could not use.
type Units = (SystemdView, Vec<UnitError>);

/// The most pidfiles a scan peeks at: beyond this, reading them takes
/// longer than the table's wait, which it hides.
pub(super) const MAX_PEEKED: usize = 2048;

/// The size the table of descriptors is grown to before a peeking scan
/// starts its threads: room for the slices every reading thread holds open.
const ROOM: i32 = 512;

/// Where a scan's locks come from.
enum LockSource {
    /// The table of every lock, read.
    Table(LockTable),
    /// The peek, ready for the reading threads to ask.
    Peek,
}

impl LockSource {
    /// The table of every lock, read now.
    fn table() -> LockSource {
        LockSource::Table(LockTable::read())
    }
}

/// What the peeks of a scan's slices saw: `all`, every pidfile read was
/// peeked at (none was answered from a cache, every one could be opened);
/// `locked`, one was locked, or a peek failed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Peeked {
    pub(super) all: bool,
    pub(super) locked: bool,
}

impl Peeked {
    /// Before any slice is read: every pidfile to be peeked at when `peek`.
    pub(super) fn starting(peek: bool) -> Peeked {
        Peeked {
            all: peek,
            locked: false,
        }
    }

    /// Add a slice's.
    pub(super) fn merge(&mut self, other: Peeked) {
        self.all &= other.all;
        self.locked |= other.locked;
    }

    /// Whether any of `files`, held open, is locked (or the kernel cannot say).
    pub(super) fn any_locked(files: &[File]) -> bool {
        let Some(peek) = Peek::get() else {
            return true;
        };
        let mut mine: Vec<i32> = files.iter().map(AsRawFd::as_raw_fd).collect();
        mine.sort_unstable();
        peek.locked_descriptors().map_or(true, |locked| {
            locked.iter().any(|fd| mine.binary_search(fd).is_ok())
        })
    }
}

/// The lock table and the systemd view, being read, and perhaps the
/// executable names of every process.
pub(super) struct Beside {
    locks: Option<Pending<LockSource>>,
    /// The lock thread prepares the peek (and reads the table if it cannot).
    peek: bool,
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
    /// `peek`: prepare the lock peek rather than read the table (root only,
    /// and not with `PIDSCOPE_BPF=0`).
    pub(super) fn start(
        dirs: Option<Vec<PathBuf>>,
        previous: Option<SystemdView>,
        (exe_names, peek): (bool, bool),
    ) -> Self {
        // Room is made first, before this scan starts a thread.
        let peek = peek
            && rustix::process::geteuid().is_root()
            && crate::probe::locks::bpf_allowed()
            && make_room();
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
        let locks = Pending::start("pidscope-locks", move || {
            match peek.then(Peek::get).flatten() {
                Some(_) => LockSource::Peek,
                None => LockSource::table(),
            }
        });
        Beside {
            locks: Some(locks),
            peek,
            units,
            exe_names: thread,
        }
    }

    /// Whether to peek at the `candidates` pidfiles as they are read. When
    /// there are too many, the table is read now, beside the reads (the
    /// peek being prepared is not used).
    pub(super) fn peek(&mut self, candidates: usize) -> bool {
        if !self.peek {
            return false;
        }
        if candidates <= MAX_PEEKED {
            return true;
        }
        self.peek = false;
        self.locks = Some(Pending::start("pidscope-locks", LockSource::table));
        false
    }

    /// The systemd view and the errors of its unit files, once read (read
    /// here if no thread could read them).
    pub(super) fn units(&mut self) -> Option<Units> {
        let (dirs, units) = self.units.take()?;
        Some(units.recv().unwrap_or_else(|_| SystemdView::load(dirs)))
    }

    /// The lock table, once read (read now if it was asked for before), and
    /// whether it was read: when the peeks saw every pidfile read and none
    /// of them locked, it is empty.
    pub(super) fn locks(&mut self, peeked: Peeked) -> (LockTable, bool) {
        let source = match self.locks.take() {
            Some(locks) => locks.wait(LockSource::table),
            None => LockSource::table(),
        };
        match source {
            LockSource::Table(table) => (table, true),
            LockSource::Peek if peeked.all && !peeked.locked => (LockTable::default(), false),
            LockSource::Peek => (LockTable::read(), true),
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
        let away = crate::cores::Elsewhere::here();
        let work = move || {
            away.go();
            work()
        };
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

/// Grow the table of descriptors to [`ROOM`] now. Grown later, while the
/// reading threads share it, the kernel would wait for an RCU grace period
/// at each doubling (`expand_fdtable`), several milliseconds each.
fn make_room() -> bool {
    use rustix::fs::{Mode, OFlags};
    let Ok(root) = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
        return false;
    };
    // The copy, made at the top of the room and closed at once, leaves the
    // table that large (within the soft limit, or this fails).
    rustix::io::fcntl_dupfd_cloexec(&root, ROOM - 1).is_ok()
}
