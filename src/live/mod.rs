//! The live view behind the inspector and `pidscope watch`: the kernel says
//! what changed (inotify for the walked directories, a pidfd per live PID),
//! and only the entries it touched are inspected again, through the same
//! scanner as a full scan. Costs nothing while nothing happens.
//!
//! Degrades, never fails: a directory past `fs.inotify.max_user_watches`, a
//! PID past [`MAX_PIDFDS`] or without pidfd support is left to the periodic
//! full scan, which then runs every [`POLL_INTERVAL`] instead of every
//! [`SAFETY_NET`], and [`Live::status`] says why.

pub mod changes;
mod pidfd;
mod sources;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::inspect::{Dirty, Refreshed, Scanner};
use crate::report::Report;
use crate::verdict::{Entry, Status};
pub use pidfd::MAX_PIDFDS;
use pidfd::Wait;
pub use sources::{Gaps, Waker};
use sources::{Ready, Sources, Watched};

/// The full rescan's period while every source is watched: a safety net
/// for what no event reports (a lock taken, a process started).
pub const SAFETY_NET: Duration = Duration::from_secs(30);
/// The full rescan's period when part of the tree or of the PIDs is polled.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a burst of events is gathered before the entries it touched are
/// inspected again.
pub const COALESCE: Duration = Duration::from_millis(20);

/// Whether every change is seen as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    /// Every directory is watched, every live PID's exit and every
    /// zombie's reaping waited on.
    Live,
    /// Some of it is polled, for this reason.
    Polling(String),
}

impl std::fmt::Display for LiveStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveStatus::Live => f.write_str("live"),
            LiveStatus::Polling(why) => write!(f, "polling: {why}"),
        }
    }
}

/// What [`Live::wait`] came back for.
#[derive(Debug)]
pub enum Step {
    /// The report changed (or was scanned again): these are the entries
    /// replaced and the indices of their successors in [`Live::report`].
    Updated(Refreshed),
    /// Another thread or a signal woke the loop.
    Woken,
}

/// A report kept current by the kernel's events.
pub struct Live {
    scanner: Scanner,
    report: Report,
    sources: Sources,
    /// The operator's rescan period; `None`: [`SAFETY_NET`] or [`POLL_INTERVAL`].
    interval: Option<Duration>,
    next_full: Instant,
    woken: bool,
    pending: Dirty,
    /// PIDs already looked at again because their pidfd could not be
    /// opened: once per process, so a PID that stays unwaitable is polled,
    /// not spun on.
    rechecked: HashSet<(i32, u64)>,
    /// The start time of each lock holder waited on (read once per holder).
    holder_ticks: HashMap<i32, u64>,
}

impl Live {
    /// Set up the event sources; the first [`Live::wait`] scans everything
    /// and starts watching what it walked. `events` false: watch nothing,
    /// rescan every `interval` (the operator's `--poll`). Fails only when
    /// the kernel gives no epoll set or pipe (out of descriptors).
    pub fn new(scanner: Scanner, interval: Option<Duration>, events: bool) -> io::Result<Live> {
        let sources = Sources::new(events)?;
        let report = Report {
            roots: scanner.roots().to_vec(),
            entries: Vec::new(),
            errors: Vec::new(),
            started_at: std::time::SystemTime::now(),
            duration: Duration::ZERO,
            pid_namespace: crate::probe::namespace::PidNamespace::current(),
        };
        Ok(Live {
            scanner,
            report,
            sources,
            interval,
            next_full: Instant::now(),
            woken: false,
            pending: Dirty::default(),
            rechecked: HashSet::new(),
            holder_ticks: HashMap::new(),
        })
    }

    /// The current report (empty before the first [`Live::wait`]).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Live, or polling and why.
    pub fn status(&self) -> LiveStatus {
        let gaps = self.sources.gaps();
        if gaps.is_empty() {
            LiveStatus::Live
        } else {
            LiveStatus::Polling(gaps.describe())
        }
    }

    /// The full rescan's period now.
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(if self.sources.gaps().is_empty() {
            SAFETY_NET
        } else {
            POLL_INTERVAL
        })
    }

    /// A handle another thread (or a signal handler) wakes [`Live::wait`] with.
    pub fn waker(&self) -> Waker {
        self.sources.waker()
    }

    /// How many directories are watched and PIDs waited on.
    pub fn watching(&self) -> (usize, usize) {
        self.sources.counts()
    }

    /// What is watched and how, in one line: `watching 3 directories and
    /// 1 PID: live`.
    pub fn describe(&self) -> String {
        let (dirs, pids) = self.watching();
        format!(
            "watching {dirs} director{} and {pids} PID{}: {}",
            sources::plural_y(dirs),
            sources::plural_s(pids),
            self.status()
        )
    }

    /// Scan everything now.
    pub fn rescan(&mut self) -> Refreshed {
        self.pending = Dirty::default();
        let everything = Dirty {
            everything: true,
            ..Dirty::default()
        };
        self.apply(everything)
    }

    /// Block until the report changes (events gathered for [`COALESCE`]
    /// and the touched entries inspected again), the full rescan is due, or
    /// the loop is woken.
    pub fn wait(&mut self) -> io::Result<Step> {
        loop {
            if std::mem::take(&mut self.woken) {
                return Ok(Step::Woken);
            }
            if !self.pending.is_empty() {
                let dirty = std::mem::take(&mut self.pending);
                return Ok(Step::Updated(self.apply(dirty)));
            }
            let now = Instant::now();
            if now >= self.next_full {
                return Ok(Step::Updated(self.rescan()));
            }
            let ready = self.sources.wait(Some(self.next_full - now))?;
            self.absorb(ready);
            if self.pending.is_empty() {
                continue;
            }
            // Gather the rest of the burst: one re-inspection for all of it.
            let until = Instant::now() + COALESCE;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let more = self.sources.wait(Some(left))?;
                self.absorb(more);
            }
        }
    }

    /// Re-inspect what `dirty` names, then watch what the new report needs.
    fn apply(&mut self, dirty: Dirty) -> Refreshed {
        let everything = dirty.everything;
        let placeholder = empty_like(&self.report);
        let previous = std::mem::replace(&mut self.report, placeholder);
        let mut refreshed = self.scanner.refresh(previous, &dirty);
        let placeholder = empty_like(&refreshed.report);
        self.report = std::mem::replace(&mut refreshed.report, placeholder);
        self.sync();
        let next = Instant::now() + self.interval();
        if everything || next < self.next_full {
            self.next_full = next;
        }
        refreshed
    }

    /// Turn what the kernel reported into what to inspect again.
    fn absorb(&mut self, ready: Vec<Ready>) {
        for r in ready {
            match r {
                Ready::Woken => self.woken = true,
                Ready::Overflow => self.pending.everything = true,
                Ready::Exited(pid) => {
                    self.pending.pids.insert(pid);
                }
                Ready::DirGone(watched) => {
                    for w in watched {
                        match w.depth {
                            Some(d) if d > 0 => {
                                self.pending.dirs.insert(w.dir);
                            }
                            // A root, or the directory of a root file: start over.
                            _ => self.pending.everything = true,
                        }
                    }
                }
                Ready::Entry {
                    watched,
                    name,
                    is_dir,
                    moved,
                } => {
                    for w in watched {
                        self.entry_changed(&w, &name, is_dir, moved);
                    }
                }
            }
        }
    }

    fn entry_changed(&mut self, w: &Watched, name: &Path, is_dir: bool, moved: bool) {
        let rules = self.scanner.rules();
        let Some(depth) = w.depth else {
            // Watched only for the pidfiles named on the command line.
            for root in self.scanner.roots() {
                if root.file_name() == Some(name.as_os_str()) && parent_dir(root) == w.dir {
                    self.pending.files.insert(root.clone());
                }
            }
            return;
        };
        let path = w.dir.join(name);
        if is_dir {
            if moved {
                // A renamed directory renames every path below it.
                self.pending.everything = true;
            } else if rules.enters(&path, depth + 1) {
                self.pending.dirs.insert(path);
            }
        } else if rules.wants(&path) {
            self.pending.files.insert(path);
        }
    }

    /// Watch the directories the report was walked from and wait on every
    /// live PID it names.
    fn sync(&mut self) {
        let mut wanted: Vec<Watched> = self
            .scanner
            .walked_dirs()
            .iter()
            .map(|d| Watched {
                dir: d.path.clone(),
                depth: Some(d.depth),
            })
            .collect();
        for root in self.scanner.roots() {
            if !std::fs::metadata(root).is_ok_and(|m| m.is_dir()) {
                wanted.push(Watched {
                    dir: parent_dir(root),
                    depth: None,
                });
            }
        }
        wanted.sort_by(|a, b| a.dir.cmp(&b.dir).then(a.depth.cmp(&b.depth)));
        wanted.dedup();
        self.sources.watch_dirs(&wanted);

        let mut pids: HashMap<i32, (u64, Wait)> =
            self.report.entries.iter().filter_map(awaited).collect();
        self.await_lock_holders(&mut pids);
        self.rechecked
            .retain(|(pid, ticks)| pids.get(pid).is_some_and(|(t, _)| t == ticks));
        for pid in self.sources.watch_pids(&pids) {
            let ticks = pids[&pid].0;
            if self.rechecked.insert((pid, ticks)) {
                self.pending.pids.insert(pid);
            }
        }
    }
}

impl Live {
    /// Add the holders of the pidfiles' locks to `pids`: a holder's exit
    /// releases the lock, which no file event reports.
    fn await_lock_holders(&mut self, pids: &mut HashMap<i32, (u64, Wait)>) {
        let holders: HashSet<i32> = self
            .report
            .entries
            .iter()
            .filter_map(|e| e.lock.as_ref())
            .flat_map(|l| l.holders.iter().copied())
            .filter(|h| !pids.contains_key(h))
            .collect();
        self.holder_ticks.retain(|h, _| holders.contains(h));
        for holder in holders {
            let ticks = match self.holder_ticks.get(&holder) {
                Some(&ticks) => ticks,
                None => match crate::probe::identity::read_identity(holder) {
                    Ok(id) if !id.state.has_exited() => {
                        self.holder_ticks.insert(holder, id.start_ticks);
                        id.start_ticks
                    }
                    _ => continue,
                },
            };
            pids.insert(holder, (ticks, Wait::Exit));
        }
    }
}

/// The PID an entry names, its process's start time, and the event that
/// would change the verdict: a running process's exit, a zombie's reaping.
fn awaited(entry: &Entry) -> Option<(i32, (u64, Wait))> {
    let pid = entry.pid?;
    let process = entry.process.as_ref()?;
    let wait = if entry.status == Status::Zombie || process.state.has_exited() {
        Wait::Reap
    } else {
        Wait::Exit
    };
    Some((pid, (process.start_ticks, wait)))
}

/// The directory holding a root file (`.` for a bare name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A report with nothing in it, standing in while the real one is refreshed.
fn empty_like(report: &Report) -> Report {
    Report {
        roots: Vec::new(),
        entries: Vec::new(),
        errors: Vec::new(),
        started_at: report.started_at,
        duration: Duration::ZERO,
        pid_namespace: report.pid_namespace,
    }
}
