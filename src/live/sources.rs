//! The kernel's event sources, in one epoll set: an inotify descriptor for
//! the walked directories, a pidfd per live PID (readable once its process
//! exits), and a pipe that wakes the loop from another thread or a signal
//! handler. Nothing here knows about pidfiles; `live` turns what it reports
//! into what to inspect again.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustix::event::epoll;
use rustix::fs::inotify;
use rustix::io::Errno;

use super::pidfd::{Wait, errno_text, open_pidfd, pidfd_cap, pidfd_support, reap_support};

const TAG_INOTIFY: u64 = u64::MAX;
const TAG_WAKER: u64 = u64::MAX - 1;

/// The inotify events a watched directory reports: entries created,
/// removed, renamed, written (closed after writing, or written while kept
/// open, as a daemon holding its pidfile locked does) or changed mode or
/// owner; and the directory itself removed or renamed.
fn watch_flags() -> inotify::WatchFlags {
    use inotify::WatchFlags as W;
    W::CREATE
        | W::DELETE
        | W::MOVED_FROM
        | W::MOVED_TO
        | W::CLOSE_WRITE
        | W::MODIFY
        | W::ATTRIB
        | W::DELETE_SELF
        | W::MOVE_SELF
        | W::ONLYDIR
        | W::EXCL_UNLINK
}

/// A directory to watch, and how to read its events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Watched {
    /// The directory, as the walk reached it.
    pub dir: PathBuf,
    /// Its depth below its root; `None` when it is watched only for root
    /// files inside it (a pidfile named on the command line).
    pub depth: Option<usize>,
}

/// One thing the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// An entry of a watched directory changed. `is_dir`: the entry is a
    /// directory; `moved`: it was renamed (from or to here).
    Entry {
        /// The directory's watches.
        watched: Vec<Watched>,
        /// The entry's name.
        name: PathBuf,
        /// The entry is a directory.
        is_dir: bool,
        /// The entry was renamed.
        moved: bool,
    },
    /// A watched directory itself was removed or renamed.
    DirGone(Vec<Watched>),
    /// The kernel dropped events (its queue overflowed).
    Overflow,
    /// The process behind this PID exited.
    Exited(i32),
    /// Another thread, or a signal, woke the loop.
    Woken,
}

/// Why part of the tree is not watched, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    /// Events were turned off (`--poll`): everything is polled.
    pub off: bool,
    /// inotify could not be set up at all.
    pub inotify: Option<String>,
    /// Directories that could not be watched, and the last reason.
    pub dirs: (usize, Option<String>),
    /// PIDs whose exit cannot be waited on, and the last reason.
    pub pids: (usize, Option<String>),
}

impl Gaps {
    /// Nothing is polled.
    pub fn is_empty(&self) -> bool {
        !self.off && self.inotify.is_none() && self.dirs.0 == 0 && self.pids.0 == 0
    }

    /// One line: why some of the tree is polled.
    pub fn describe(&self) -> String {
        let mut why = Vec::new();
        if self.off {
            why.push("events off (--poll)".to_string());
        }
        if let Some(reason) = &self.inotify {
            why.push(format!("no inotify ({reason})"));
        }
        if let (n @ 1.., reason) = &self.dirs {
            let reason = reason.as_deref().unwrap_or("unknown");
            why.push(format!("{n} director{} unwatched ({reason})", plural_y(*n)));
        }
        if let (n @ 1.., reason) = &self.pids {
            let reason = reason.as_deref().unwrap_or("unknown");
            why.push(format!("{n} PID{} unwatched ({reason})", plural_s(*n)));
        }
        why.join("; ")
    }
}

pub(super) fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

pub(super) fn plural_s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Wakes [`crate::live::Live::wait`] from another thread (or, given to a signal
/// handler as a raw descriptor, from a signal).
#[derive(Debug, Clone)]
pub struct Waker(Arc<OwnedFd>);

impl Waker {
    /// Wake the loop; never blocks (a full pipe is awake already).
    pub fn wake(&self) {
        let _ = rustix::io::write(&*self.0, &[1]);
    }

    /// A second descriptor for the same pipe (for `signal_hook`'s pipe handler).
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.0.try_clone()
    }
}

/// The event sources and what each stands for.
pub struct Sources {
    epoll: OwnedFd,
    inotify: Option<OwnedFd>,
    /// Each watch descriptor's directories (hard links or overlapping
    /// roots can give two paths one watch).
    watches: HashMap<i32, Vec<Watched>>,
    by_dir: HashMap<Watched, i32>,
    /// The pidfd held for each PID, with the start time it was checked
    /// against and what it waits for.
    pidfds: HashMap<i32, (OwnedFd, (u64, Wait))>,
    /// At most this many pidfds (see `pidfd::pidfd_cap`).
    cap: usize,
    /// Why the kernel gives no pidfds, if it does not.
    no_pidfd: Option<String>,
    /// Why a zombie's reaping cannot be waited on, if it cannot.
    no_reap: Option<String>,
    waker_read: OwnedFd,
    waker: Waker,
    gaps: Gaps,
    buf: Vec<std::mem::MaybeUninit<u8>>,
}

impl Sources {
    /// An epoll set with the waker, and (`events`) inotify when the kernel
    /// gives it; without `events`, only the waker (everything is polled).
    pub fn new(events: bool) -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let (waker_read, waker_write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        epoll::add(
            &epoll,
            &waker_read,
            epoll::EventData::new_u64(TAG_WAKER),
            epoll::EventFlags::IN,
        )?;
        let mut gaps = Gaps {
            off: !events,
            ..Gaps::default()
        };
        let flags = inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK;
        let inotify = match events.then(|| inotify::init(flags)) {
            Some(Ok(fd)) => {
                epoll::add(
                    &epoll,
                    &fd,
                    epoll::EventData::new_u64(TAG_INOTIFY),
                    epoll::EventFlags::IN,
                )?;
                Some(fd)
            }
            Some(Err(e)) => {
                gaps.inotify = Some(errno_text(e));
                None
            }
            None => None,
        };
        Ok(Sources {
            epoll,
            inotify,
            watches: HashMap::new(),
            by_dir: HashMap::new(),
            pidfds: HashMap::new(),
            cap: pidfd_cap(),
            no_pidfd: pidfd_support(),
            no_reap: reap_support(),
            waker_read,
            waker: Waker(Arc::new(waker_write)),
            gaps,
            buf: vec![std::mem::MaybeUninit::uninit(); 64 * 1024],
        })
    }

    /// What cannot be watched, and why.
    pub fn gaps(&self) -> &Gaps {
        &self.gaps
    }

    /// A handle that wakes [`Sources::wait`].
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Watch exactly `wanted`: add the new directories, drop the others.
    pub fn watch_dirs(&mut self, wanted: &[Watched]) {
        if self.inotify.is_none() {
            return;
        }
        let wanted_set: std::collections::HashSet<&Watched> = wanted.iter().collect();
        let gone: Vec<Watched> = self
            .by_dir
            .keys()
            .filter(|w| !wanted_set.contains(w))
            .cloned()
            .collect();
        for w in gone {
            self.forget(&w, true);
        }
        let mut failed = 0;
        let mut reason = None;
        for w in wanted {
            if self.by_dir.contains_key(w) {
                continue;
            }
            // A root may be a symlink (/var/run -> /run); below it the walk follows none.
            let flags = if w.depth.unwrap_or(1) == 0 {
                watch_flags()
            } else {
                watch_flags() | inotify::WatchFlags::DONT_FOLLOW
            };
            let Some(inotify_fd) = &self.inotify else {
                return;
            };
            match inotify::add_watch(inotify_fd, &w.dir, flags) {
                Ok(wd) => {
                    self.watches.entry(wd).or_default().push(w.clone());
                    self.by_dir.insert(w.clone(), wd);
                }
                // Gone since the walk: its parent's event says so.
                Err(Errno::NOENT) | Err(Errno::NOTDIR) => {}
                Err(e) => {
                    failed += 1;
                    reason = Some(match e {
                        Errno::NOSPC => "fs.inotify.max_user_watches reached".to_string(),
                        e => errno_text(e),
                    });
                }
            }
        }
        self.gaps.dirs = (failed, reason);
    }

    /// Stop reading events for one directory; `remove`: tell the kernel too
    /// (not when it already dropped the watch).
    fn forget(&mut self, w: &Watched, remove: bool) {
        let Some(wd) = self.by_dir.remove(w) else {
            return;
        };
        if let Some(list) = self.watches.get_mut(&wd) {
            list.retain(|x| x != w);
            if list.is_empty() {
                self.watches.remove(&wd);
                if let (true, Some(fd)) = (remove, &self.inotify) {
                    let _ = inotify::remove_watch(fd, wd);
                }
            }
        }
    }

    /// Hold a pidfd for exactly the PIDs in `wanted` (each with the start
    /// time its process was seen with, and what to wait for). Returns the
    /// PIDs whose process is already gone or is no longer the one seen:
    /// inspect them again now.
    pub fn watch_pids(&mut self, wanted: &HashMap<i32, (u64, Wait)>) -> Vec<i32> {
        if self.gaps.off {
            return Vec::new();
        }
        self.pidfds.retain(|pid, (fd, seen)| {
            let keep = wanted.get(pid) == Some(seen);
            if !keep {
                let _ = epoll::delete(&self.epoll, &*fd);
            }
            keep
        });
        let mut gone = Vec::new();
        let mut unwatched = 0;
        let mut reason = None;
        let mut new: Vec<(&i32, &(u64, Wait))> = wanted
            .iter()
            .filter(|(pid, _)| !self.pidfds.contains_key(pid))
            .collect();
        new.sort_unstable();
        for (&pid, &(ticks, wait)) in new {
            let unsupported = match wait {
                Wait::Reap => self.no_pidfd.as_ref().or(self.no_reap.as_ref()),
                Wait::Exit => self.no_pidfd.as_ref(),
            };
            if let Some(why) = unsupported {
                unwatched += 1;
                reason = Some(why.clone());
                continue;
            }
            if self.pidfds.len() >= self.cap {
                unwatched += 1;
                reason = Some(format!("over the cap of {} pidfds", self.cap));
                continue;
            }
            match open_pidfd(pid, ticks, wait) {
                Ok(Some(fd)) => {
                    // A zombie's pidfd is readable already: wait only for the hang-up.
                    let flags = match wait {
                        Wait::Exit => epoll::EventFlags::IN,
                        Wait::Reap => epoll::EventFlags::HUP,
                    };
                    let added = epoll::add(
                        &self.epoll,
                        &fd,
                        epoll::EventData::new_u64(pid as u64),
                        flags,
                    );
                    match added {
                        Ok(()) => {
                            self.pidfds.insert(pid, (fd, (ticks, wait)));
                        }
                        Err(e) => {
                            unwatched += 1;
                            reason = Some(errno_text(e));
                        }
                    }
                }
                Ok(None) => gone.push(pid),
                Err(e) => {
                    unwatched += 1;
                    reason = Some(match e {
                        Errno::MFILE | Errno::NFILE => "out of file descriptors".to_string(),
                        e => errno_text(e),
                    });
                }
            }
        }
        self.gaps.pids = (unwatched, reason);
        gone
    }

    /// Wait up to `timeout` (forever when `None`) for the kernel to report
    /// something, and return all that is ready. Empty: the time ran out.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        let spec = timeout.map(|t| rustix::event::Timespec {
            tv_sec: t.as_secs() as i64,
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
        match epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut events),
            spec.as_ref(),
        ) {
            Ok(_) => {}
            Err(Errno::INTR) => return Ok(vec![Ready::Woken]),
            Err(e) => return Err(e.into()),
        }
        let mut ready = Vec::new();
        for event in &events {
            match event.data.u64() {
                TAG_WAKER => {
                    let mut sink = [0u8; 64];
                    while matches!(rustix::io::read(&self.waker_read, &mut sink), Ok(n) if n > 0) {}
                    ready.push(Ready::Woken);
                }
                TAG_INOTIFY => self.read_inotify(&mut ready),
                pid => {
                    let pid = pid as i32;
                    // Level-triggered: forget it now, or it stays ready.
                    if let Some((fd, _)) = self.pidfds.remove(&pid) {
                        let _ = epoll::delete(&self.epoll, &fd);
                    }
                    ready.push(Ready::Exited(pid));
                }
            }
        }
        Ok(ready)
    }

    /// Drain the inotify queue.
    fn read_inotify(&mut self, ready: &mut Vec<Ready>) {
        let Some(fd) = self.inotify.take() else {
            return;
        };
        let mut dropped = Vec::new();
        {
            let mut reader = inotify::Reader::new(fd.as_fd(), &mut self.buf);
            while let Ok(event) = reader.next() {
                let flags = event.events();
                if flags.contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                    ready.push(Ready::Overflow);
                    continue;
                }
                let Some(watched) = self.watches.get(&event.wd()) else {
                    continue;
                };
                if flags.contains(inotify::ReadFlags::IGNORED) {
                    dropped.push(event.wd());
                    continue;
                }
                if flags.intersects(inotify::ReadFlags::DELETE_SELF | inotify::ReadFlags::MOVE_SELF)
                {
                    ready.push(Ready::DirGone(watched.clone()));
                    continue;
                }
                let Some(name) = event.file_name() else {
                    continue;
                };
                let name = PathBuf::from(OsStr::from_bytes(name.to_bytes()));
                ready.push(Ready::Entry {
                    watched: watched.clone(),
                    name,
                    is_dir: flags.contains(inotify::ReadFlags::ISDIR),
                    moved: flags
                        .intersects(inotify::ReadFlags::MOVED_FROM | inotify::ReadFlags::MOVED_TO),
                });
            }
        }
        self.inotify = Some(fd);
        // The kernel dropped these watches (directory removed, unmounted).
        for wd in dropped {
            for w in self.watches.remove(&wd).unwrap_or_default() {
                self.by_dir.remove(&w);
            }
        }
    }

    /// How many directories are watched and PIDs held (for tests and benchmarks).
    pub fn counts(&self) -> (usize, usize) {
        (self.by_dir.len(), self.pidfds.len())
    }
}
