//! One scan from end to end: discover, read, parse, probe, classify.
//!
//! The single scanner behind `audit`, the TUI and every action: a fix made
//! here is made everywhere.

mod beside;
mod judge;
mod phases;
mod read;
mod refresh;
mod systemd;

use self::beside::Peeked;
pub use self::phases::Phases;
use self::read::{DirIds, Done, Job, ReadPidfile, locate, read_helpers, read_slice};
pub use self::refresh::{Dirty, Refreshed};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::probe::locks::HolderCache;
use crate::probe::namespace::PidNamespace;
use crate::probe::process::{Claimed, Prober, Sightings};
use crate::report::Report;
use crate::scan::ScanError;
use crate::scan::discover::{Candidate, Rules, WalkedDir, discover_all};
use crate::scan::parse::read_pid_max;
use crate::scan::read::{EntryKind, FileInfo, Parent};
use crate::systemd::SystemdView;
use crate::verdict::{Content, Entry, Status, Warnings};

/// Scans a fixed set of roots, again and again. Keeps the process prober
/// between scans (CPU use over the interval, cached user names).
pub struct Scanner {
    roots: Vec<PathBuf>,
    rules: Rules,
    prober: Prober,
    /// What the previous scan read from each regular file, to skip re-reading
    /// files whose device, inode, size and mtime are unchanged.
    cache: HashMap<PathBuf, Cached>,
    /// Keep `cache` at all: only worth its memory when scanning repeatedly.
    remember: bool,
    /// The operator stated that the pidfiles' PIDs belong to the PID
    /// namespace pidscope runs in, even a nested one.
    same_namespace: bool,
    /// Where to read systemd units from; `None`: do not look at systemd.
    unit_dirs: Option<Vec<PathBuf>>,
    /// The systemd view of the previous scan, kept while its units are unchanged.
    systemd: Option<SystemdView>,
    /// The directories the walk listed, for a live view to watch.
    walked: Vec<WalkedDir>,
    /// The lock holders only a look at every process could find, kept
    /// while their locks stay.
    holders: HolderCache,
    /// How many times this scanner read the table of every lock.
    lock_tables: u64,
    /// How long each phase of the last scan took.
    phases: Phases,
}

/// A regular pidfile's parsed content, valid while its identity and mtime hold.
#[derive(Debug, Clone)]
struct Cached {
    file: FileInfo,
    content: Content,
    first_line: crate::text::Line,
    pid_max: u32,
}

impl Scanner {
    /// A scanner for `roots` (directories are walked, files inspected) under `rules`.
    pub fn new(roots: Vec<PathBuf>, rules: Rules) -> Self {
        Scanner {
            roots,
            rules,
            prober: Prober::new(),
            cache: HashMap::new(),
            remember: false,
            same_namespace: false,
            unit_dirs: None,
            systemd: None,
            walked: Vec::new(),
            holders: HolderCache::default(),
            lock_tables: 0,
            phases: Phases::default(),
        }
    }

    /// Read systemd's units from `dirs` (see
    /// [`crate::systemd::index::system_unit_dirs`]) to tell which unit
    /// declares each pidfile and whether systemd would accept it; `None`
    /// turns this off (the default).
    pub fn systemd(mut self, dirs: Option<Vec<PathBuf>>) -> Self {
        self.unit_dirs = dirs;
        self.systemd = None;
        self
    }

    /// State that the pidfiles' PIDs belong to the PID namespace pidscope
    /// runs in (a sidecar sharing its pod's namespace): then even in a
    /// nested namespace a PID that is not seen is stale.
    pub fn same_namespace(mut self, same: bool) -> Self {
        self.same_namespace = same;
        self
    }

    /// Remember what each scan read, so the next scan re-reads only the
    /// files that changed (for the inspector's periodic rescans).
    pub fn remembering(mut self) -> Self {
        self.remember = true;
        self.prober = Prober::new().tracking_cpu();
        self
    }

    /// Inspect one file now, whatever its name, with no statement about
    /// the PID namespace. `None` when the path no longer exists.
    pub fn inspect_file(path: &std::path::Path) -> Option<Entry> {
        Self::inspect_one(path, false)
    }

    /// Inspect one file now, stating (`same_namespace`) or not that its PID
    /// belongs to this PID namespace: the fresh verdict an action re-verifies
    /// against.
    pub fn inspect_one(path: &std::path::Path, same_namespace: bool) -> Option<Entry> {
        let rules = Rules {
            patterns: globset::GlobSet::empty(),
            exclude: globset::GlobSet::empty(),
            max_depth: 1,
        };
        let mut scanner =
            Scanner::new(vec![path.to_path_buf()], rules).same_namespace(same_namespace);
        scanner.scan().entries.into_iter().next()
    }

    /// The roots this scanner walks.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The walk rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// How many times this scanner looked at every process's descriptors
    /// to find who holds a lock (see [`HolderCache`]).
    pub fn lock_walks(&self) -> u64 {
        self.holders.walks()
    }

    /// How many times this scanner read `/proc/locks`: not when a scan made
    /// once as root saw that none of its pidfiles is locked.
    pub fn lock_tables(&self) -> u64 {
        self.lock_tables
    }

    /// How long each phase of the last scan or refresh took.
    pub fn phases(&self) -> Phases {
        self.phases
    }

    /// The directories the last scan listed (and those a refresh walked
    /// since): the ones a live view watches.
    pub fn walked_dirs(&self) -> &[WalkedDir] {
        &self.walked
    }

    /// Scan once: read every candidate, then probe the PIDs and resolve the
    /// locks of them all at once and give each entry its verdict.
    pub fn scan(&mut self) -> Report {
        let started_at = SystemTime::now();
        let timer = Instant::now();
        let mut errors = Vec::new();
        let mut beside = self.beside();
        let found = discover_all(&self.roots, &self.rules, &mut errors);
        self.walked = found.dirs;
        self.phases.walk = timer.elapsed();
        let read_from = Instant::now();
        let peek = beside.peek(found.candidates.len());
        let mut scan = self.collect(found.candidates, &mut errors, (true, peek));
        self.phases.read = read_from.elapsed();
        let pid_namespace = PidNamespace::current();
        let partial = pid_namespace == PidNamespace::Nested && !self.same_namespace;
        self.judge(&mut scan, partial, beside, &mut errors);
        Report {
            roots: self.roots.clone(),
            entries: scan.entries,
            errors,
            started_at,
            duration: timer.elapsed(),
            pid_namespace,
        }
    }
}

/// How many candidates a thread reads in one go: few enough that the last
/// slices keep every thread busy to the end.
const SLICE: usize = 64;

/// Below this many candidates, this thread reads them all: starting
/// another costs more than it saves (and a view's rescans, which mostly
/// `lstat` unchanged files, nobody waits for).
const MIN_FOR_HELPERS: usize = 512;

/// A scan in progress: the entries met so far and what is needed to fold
/// duplicates and identify their directories.
///
/// Entries are built in place (their verdicts filled in once every PID
/// and lock is known), with the parsed content of each alongside.
struct ScanInProgress {
    /// One entry per distinct file, verdict fields still placeholders.
    entries: Vec<Entry>,
    /// The parsed content of each entry that names no valid PID, in the
    /// order of `entries`; an entry that names one holds it in `pid`
    /// (most do: a slot per entry would be kept for nothing).
    others: Vec<Content>,
    /// The index in `entries` of each file met, by device and inode.
    seen: Seen,
    /// Each parent directory's identity, stat'ed once per directory.
    dirs: DirIds,
    /// The PIDs the entries name, sighted as their files were read.
    sightings: Sightings,
    /// What the peeks at the pidfiles' locks saw.
    peeked: Peeked,
}

impl Scanner {
    /// Read and parse every candidate (or take it from the previous scan's
    /// cache), folding second paths to one file into the first. `whole`:
    /// the candidates are the whole tree, so the cache keeps only them;
    /// else it keeps its other files too.
    fn collect(
        &mut self,
        candidates: Vec<Candidate>,
        errors: &mut Vec<ScanError>,
        (whole, peek): (bool, bool),
    ) -> ScanInProgress {
        let pid_max = read_pid_max();
        let mut scan = ScanInProgress {
            entries: Vec::with_capacity(candidates.len()),
            others: Vec::new(),
            seen: Seen::with_capacity(candidates.len()),
            dirs: DirIds::default(),
            sightings: Sightings::default(),
            peeked: Peeked::starting(peek),
        };
        let mut cache = HashMap::with_capacity(if whole { self.cache.len() } else { 0 });
        // Walk order, cut in slices that this thread and the helpers take as
        // each is free (so a thread the system slows holds no other back):
        // the reads of one overlap those of the others, and the slices come
        // back in order, so the entries are pushed in walk order.
        let helpers = if candidates.len() >= MIN_FOR_HELPERS {
            read_helpers()
        } else {
            0
        };
        let slices = self.slices(candidates, pid_max);
        let claimed = &Claimed::default();
        // The walk kept this thread's processor busy: the helpers read on
        // another (see `Elsewhere`).
        crate::cores::in_order(
            ("pidscope-read", Some(crate::cores::Elsewhere::here())),
            slices,
            helpers,
            2 * (helpers + 1),
            Parent::default,
            |parent, slice| read_slice(parent, slice, (pid_max, peek), claimed),
            |(slice, sightings, peeked)| {
                scan.sightings.merge(sightings);
                scan.peeked.merge(peeked);
                for (candidate, done) in slice {
                    self.take(candidate, done, pid_max, &mut scan, &mut cache, errors);
                }
            },
        );
        // Only reading needed these: their memory goes back before judging.
        scan.seen = Seen::default();
        scan.dirs = DirIds::default();
        if whole {
            self.cache = cache;
        } else {
            self.cache.extend(cache);
        }
        scan
    }

    /// The candidates in slices of [`SLICE`], each with what the cache
    /// still knows of it.
    fn slices(&mut self, candidates: Vec<Candidate>, pid_max: u32) -> Vec<Vec<Job>> {
        let mut slices: Vec<Vec<Job>> = Vec::with_capacity(candidates.len().div_ceil(SLICE));
        for candidate in candidates {
            if slices.last().is_none_or(|s| s.len() == SLICE) {
                slices.push(Vec::with_capacity(SLICE));
            }
            let hit = self.unchanged(&candidate, pid_max).map(Box::new);
            if let Some(last) = slices.last_mut() {
                last.push((candidate, hit));
            }
        }
        slices
    }

    /// Add one candidate, read or answered by the cache, to the scan.
    fn take(
        &mut self,
        candidate: Candidate,
        done: Done,
        pid_max: u32,
        scan: &mut ScanInProgress,
        cache: &mut HashMap<PathBuf, Cached>,
        errors: &mut Vec<ScanError>,
    ) {
        let read = match done {
            Done::Cached(hit) => {
                let read = ReadPidfile {
                    content: hit.content.clone(),
                    file: Some(hit.file.clone()),
                    first_line: Some(hit.first_line.clone()),
                };
                cache.insert(candidate.path.clone(), *hit);
                return scan.push(&mut self.prober, candidate, read);
            }
            Done::Read(Some(read)) => read,
            Done::Read(None) => {
                return errors.push(ScanError {
                    path: candidate.path,
                    error: "vanished during the scan".into(),
                });
            }
        };
        if let (true, EntryKind::Regular, Some(file), Some(line)) =
            (self.remember, candidate.kind, &read.file, &read.first_line)
        {
            let entry = Cached {
                file: file.clone(),
                content: read.content.clone(),
                first_line: line.clone(),
                pid_max,
            };
            cache.insert(candidate.path.clone(), entry);
        }
        scan.push(&mut self.prober, candidate, read);
    }
}

impl Scanner {
    /// The previous scan's result for a regular file that has not changed since:
    /// one `lstat` instead of open, fstat, read and close.
    fn unchanged(&mut self, candidate: &Candidate, pid_max: u32) -> Option<Cached> {
        use std::os::unix::fs::MetadataExt;
        if candidate.kind != EntryKind::Regular {
            return None;
        }
        let cached = self.cache.remove(&candidate.path)?;
        let meta = std::fs::symlink_metadata(&candidate.path).ok()?;
        let now = FileInfo::from_metadata(&meta);
        let same = meta.is_file()
            && (now.dev, now.ino, now.size, now.mtime)
                == (
                    cached.file.dev,
                    cached.file.ino,
                    cached.file.size,
                    cached.file.mtime,
                )
            && (now.uid, now.gid, now.mode) == (cached.file.uid, cached.file.gid, cached.file.mode)
            && cached.pid_max == pid_max
            && meta.nlink() > 0;
        same.then_some(cached)
    }
}

/// The entries met so far by device and inode, in 16 bytes a file (a scan
/// of 100,000 pidfiles holds them all at once, at the height of its memory):
/// keyed by the inode alone, the device checked against the entry's, and
/// the rare inode met again on another device kept apart.
#[derive(Debug, Default)]
struct Seen {
    by_ino: HashMap<u64, u32>,
    elsewhere: HashMap<(u64, u64), usize>,
}

impl Seen {
    fn with_capacity(files: usize) -> Seen {
        Seen {
            by_ino: HashMap::with_capacity(files),
            elsewhere: HashMap::new(),
        }
    }

    /// The index in `entries` of the file `dev`:`ino` if met before; else
    /// `None`, and it is recorded as the entry about to be pushed.
    fn first(&mut self, dev: u64, ino: u64, entries: &[Entry]) -> Option<usize> {
        let next = entries.len();
        let dev_of = |k: usize| entries.get(k).and_then(|e| e.file.as_ref()).map(|f| f.dev);
        match self.by_ino.get(&ino) {
            Some(&k) if dev_of(k as usize) == Some(dev) => return Some(k as usize),
            Some(_) => {}
            None => {
                if let Ok(k) = u32::try_from(next) {
                    self.by_ino.insert(ino, k);
                    return None;
                }
            }
        }
        match self.elsewhere.entry((dev, ino)) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(next);
                None
            }
        }
    }
}

impl ScanInProgress {
    /// Record one read pidfile, folding a second path to the same file into the first.
    fn push(&mut self, prober: &mut Prober, candidate: Candidate, read: ReadPidfile) {
        let ReadPidfile {
            content,
            file,
            first_line,
        } = read;
        // A file reached twice (overlapping roots, hard links, a symlink to
        // another pidfile) is reported once, under the first path met.
        if let Some(f) = &file
            && let Some(first) = self.seen.first(f.dev, f.ino, &self.entries)
        {
            self.entries[first].aliases.push(candidate.path);
            return;
        }
        let file = file.map(|mut f| {
            f.owner = prober.user_name(f.uid);
            f
        });
        let location = locate(&candidate, file.as_ref(), &mut self.dirs);
        let pid = content.pid();
        if pid.is_none() {
            self.others.push(content);
        }
        // The verdict's fields (but the PID) are placeholders until the
        // scan's end fills them.
        self.entries.push(Entry {
            path: candidate.path,
            aliases: Default::default(),
            status: Status::Invalid,
            pid,
            reason: Box::default(),
            warnings: Warnings::new(),
            file,
            first_line,
            process: None,
            lock: None,
            systemd: None,
            location,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn a_file_is_met_again_by_device_and_inode() {
        let mut seen = Seen::default();
        let mut entries = Vec::new();
        let mut meet = |dev: u64, ino: u64| {
            let first = seen.first(dev, ino, &entries);
            if first.is_none() {
                let file = fixture::file().device(dev, ino).build();
                entries.push(
                    fixture::entry("/run/x.pid", Status::Alive)
                        .file(file)
                        .build(),
                );
            }
            first
        };
        assert_eq!(meet(1, 10), None);
        assert_eq!(meet(1, 11), None);
        assert_eq!(meet(1, 10), Some(0), "the same file again");
        // The same inode on another device is another file, met again too.
        assert_eq!(meet(2, 10), None);
        assert_eq!(meet(2, 10), Some(2));
        assert_eq!(meet(1, 10), Some(0));
        assert_eq!(meet(3, 10), None);
        assert_eq!(meet(3, 10), Some(3));
        assert_eq!(meet(1, 11), Some(1));
    }
}
