//! One scan from end to end: discover, read, parse, probe, classify.
//!
//! The single scanner behind `audit`, the TUI and every action: a fix made
//! here is made everywhere.

mod read;
mod refresh;
mod systemd;

use self::read::{ReadPidfile, locate, read_candidate};
pub use self::refresh::{Dirty, Refreshed};
use self::systemd::SystemdGathered;
use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::policy::classify;
use crate::probe::exes::ExeNames;
use crate::probe::fds;
use crate::probe::locks::{FileKey, HolderCache, LockInfo, LockTable};
use crate::probe::namespace::PidNamespace;
use crate::probe::process::{Prober, ProcessProbe};
use crate::report::Report;
use crate::scan::ScanError;
use crate::scan::discover::{Candidate, Rules, WalkedDir, discover_all};
use crate::scan::parse::read_pid_max;
use crate::scan::read::{EntryKind, FileInfo};
use crate::systemd::SystemdView;
use crate::verdict::{
    Content, Entry, Evidence, Namesake, NamesakeLook, OpenCheck, Status, SystemdFacts,
};

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
}

/// A regular pidfile's parsed content, valid while its identity and mtime hold.
#[derive(Debug, Clone)]
struct Cached {
    file: FileInfo,
    content: Content,
    first_line: String,
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
        let found = discover_all(&self.roots, &self.rules, &mut errors);
        self.walked = found.dirs;
        let mut scan = self.collect(found.candidates, &mut errors, true);
        let pid_namespace = PidNamespace::current();
        let partial = pid_namespace == PidNamespace::Nested && !self.same_namespace;
        let systemd = self.systemd_view(&mut errors);
        self.judge(&mut scan, partial, systemd.as_ref());
        self.systemd = systemd;
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

/// A scan in progress: the entries met so far and what is needed to fold
/// duplicates and identify their directories.
///
/// Entries are built in place (their verdicts filled in once every PID
/// and lock is known), with the parsed content of each alongside.
struct ScanInProgress {
    /// One entry per distinct file, verdict fields still placeholders.
    entries: Vec<Entry>,
    /// The parsed content of `entries[i]`, at the same index.
    contents: Vec<Content>,
    /// The index in `entries` of each file met, by device and inode.
    seen: HashMap<(u64, u64), usize>,
    /// Each parent directory's identity, stat'ed once per directory.
    dirs: HashMap<PathBuf, Option<(u64, u64)>>,
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
        whole: bool,
    ) -> ScanInProgress {
        let pid_max = read_pid_max();
        let mut scan = ScanInProgress {
            entries: Vec::with_capacity(candidates.len()),
            contents: Vec::with_capacity(candidates.len()),
            seen: HashMap::new(),
            dirs: HashMap::new(),
        };
        let mut cache = HashMap::with_capacity(if whole { self.cache.len() } else { 0 });
        for candidate in candidates {
            if let Some(hit) = self.unchanged(&candidate, pid_max) {
                let read = ReadPidfile {
                    content: hit.content.clone(),
                    file: Some(hit.file.clone()),
                    first_line: Some(hit.first_line.clone()),
                };
                cache.insert(candidate.path.clone(), hit);
                scan.push(&mut self.prober, candidate, read);
                continue;
            }
            let Some(read) = read_candidate(&candidate, pid_max) else {
                errors.push(ScanError {
                    path: candidate.path,
                    error: "vanished during the scan".into(),
                });
                continue;
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
        if whole {
            self.cache = cache;
        } else {
            self.cache.extend(cache);
        }
        scan
    }

    /// Probe every PID and resolve every lock at once, then give each entry
    /// its verdict; `partial`: PIDs outside this namespace cannot be seen.
    fn judge(&mut self, scan: &mut ScanInProgress, partial: bool, systemd: Option<&SystemdView>) {
        let pids: Vec<i32> = scan.contents.iter().filter_map(Content::pid).collect();
        let probes = self.prober.probe(&pids);
        let keys: Vec<(FileKey, Option<i32>)> = scan
            .entries
            .iter()
            .zip(&scan.contents)
            .filter_map(|(e, content)| {
                let file = e.file.as_ref()?;
                Some((FileKey::from_dev_ino(file.dev, file.ino), content.pid()))
            })
            .collect();
        let locks = self.holders.resolve(&LockTable::read(), &keys);

        let open_files = OpenFiles::default();
        let exe_names = OnceCell::new();
        for (entry, content) in scan.entries.iter_mut().zip(&scan.contents) {
            let pid = content.pid();
            let lock = entry.file.as_ref().and_then(|file| {
                locks
                    .get(&FileKey::from_dev_ino(file.dev, file.ino))
                    .cloned()
            });
            let probe = pid.and_then(|p| probes.get(&p));
            let gathered = systemd.map(|view| SystemdGathered::of(view, entry, probe));
            let stem = entry
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let look = || {
                let names: &ExeNames = exe_names.get_or_init(ExeNames::read);
                let found = names
                    .named(&stem)
                    .into_iter()
                    .map(|(pid, parent_same_name)| Namesake {
                        pid,
                        parent_same_name,
                    })
                    .collect();
                (stem.clone(), found)
            };
            let facts = gathered.as_ref().map(|g| SystemdFacts {
                declarations: &g.declarations,
                unit_pids: &g.unit_pids,
                chase: g.chase.as_ref(),
                namesakes: Some(NamesakeLook(&look)),
            });
            fill_verdict(
                entry,
                content,
                (probe, lock),
                partial,
                &open_files,
                facts.as_ref(),
            );
        }
    }

    /// This scan's systemd view: the previous one while its unit
    /// directories are unchanged, else read again. A unit file that cannot
    /// be used is a scan error.
    fn systemd_view(&mut self, errors: &mut Vec<ScanError>) -> Option<SystemdView> {
        let dirs = self.unit_dirs.clone()?;
        let (view, unit_errors) = match self.systemd.take() {
            Some(view) => view.refresh(),
            None => SystemdView::load(dirs),
        };
        errors.extend(unit_errors.into_iter().map(|e| ScanError {
            path: e.path,
            error: e.error,
        }));
        Some(view)
    }
}

/// The files each PID has open, walked at most once per scan and only for
/// the PIDs a rule asks about.
type OpenFiles = RefCell<HashMap<i32, HashSet<(u64, u64)>>>;

/// Fill in one entry's verdict from the evidence gathered for it.
///
/// The single place a scan applies the rules: every entry's status,
/// reason and warnings come from this one `classify` call.
fn fill_verdict(
    entry: &mut Entry,
    content: &Content,
    (probe, lock): (Option<&ProcessProbe>, Option<LockInfo>),
    partial_pid_view: bool,
    open_files: &OpenFiles,
    systemd: Option<&SystemdFacts<'_>>,
) {
    let file_id = entry.file.as_ref().map(|f| (f.dev, f.ino));
    let open_check = || match (content.pid(), file_id) {
        (Some(pid), Some(id)) => open_files
            .borrow_mut()
            .entry(pid)
            .or_insert_with(|| fds::open_files(pid))
            .contains(&id),
        _ => false,
    };
    let verdict = classify(&Evidence {
        path: &entry.path,
        aliases: &entry.aliases,
        content,
        file: entry.file.as_ref(),
        probe,
        lock: lock.as_ref(),
        open_check: Some(OpenCheck(&open_check)),
        systemd,
        partial_pid_view,
    });
    entry.status = verdict.status;
    entry.pid = content.pid();
    entry.reason = verdict.reason;
    entry.warnings = verdict.warnings;
    entry.process = probe.and_then(|p| p.info.clone());
    entry.lock = lock;
    entry.systemd = verdict.systemd;
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
        if let Some(f) = &file {
            if let Some(&first) = self.seen.get(&(f.dev, f.ino)) {
                self.entries[first].aliases.push(candidate.path);
                return;
            }
            self.seen.insert((f.dev, f.ino), self.entries.len());
        }
        let file = file.map(|mut f| {
            f.owner = prober.user_name(f.uid);
            f
        });
        let location = locate(&candidate, file.as_ref(), &mut self.dirs);
        // The verdict's fields are placeholders until the scan's end fills them.
        self.entries.push(Entry {
            path: candidate.path,
            aliases: Vec::new(),
            status: Status::Invalid,
            pid: None,
            reason: String::new(),
            warnings: Vec::new(),
            file,
            first_line,
            process: None,
            lock: None,
            systemd: None,
            location,
        });
        self.contents.push(content);
    }
}
