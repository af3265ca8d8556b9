//! Giving every entry of a scan its verdict: the PIDs probed and the locks
//! resolved all at once, then the rules applied to each entry.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::beside::Beside;
use super::systemd::SystemdGathered;
use super::{ScanInProgress, Scanner};
use crate::policy::classify;
use crate::probe::exes::ExeNames;
use crate::probe::fds;
use crate::probe::locks::{FileKey, LockInfo};
use crate::probe::process::ProcessProbe;
use crate::scan::ScanError;
use crate::systemd::SystemdView;
use crate::verdict::{Content, Entry, Evidence, Namesake, NamesakeLook, OpenCheck, SystemdFacts};

impl Scanner {
    /// Probe every PID and resolve every lock at once, then give each entry
    /// its verdict; `partial`: PIDs outside this namespace cannot be seen.
    /// `beside`: the lock table and the systemd units, read meanwhile; the
    /// errors of unit files go to `errors`.
    pub(super) fn judge(
        &mut self,
        scan: &mut ScanInProgress,
        partial: bool,
        mut beside: Beside,
        errors: &mut Vec<ScanError>,
    ) {
        let units_from = Instant::now();
        let systemd = self.systemd_view(&mut beside, errors);
        self.phases.units = units_from.elapsed();
        self.judge_with(scan, partial, systemd.as_ref(), beside);
        self.systemd = systemd;
    }

    /// [`Self::judge`] once the systemd view is read.
    fn judge_with(
        &mut self,
        scan: &mut ScanInProgress,
        partial: bool,
        systemd: Option<&SystemdView>,
        mut beside: Beside,
    ) {
        let probe_from = Instant::now();
        let pids: Vec<i32> = scan.entries.iter().filter_map(|e| e.pid).collect();
        let probes = self
            .prober
            .probe(&pids, std::mem::take(&mut scan.sightings));
        self.phases.probe = probe_from.elapsed();
        let locks_from = Instant::now();
        let keys: Vec<(FileKey, Option<i32>)> = scan
            .entries
            .iter()
            .filter_map(|e| {
                let file = e.file.as_ref()?;
                Some((FileKey::from_dev_ino(file.dev, file.ino), e.pid))
            })
            .collect();
        let (table, read) = beside.locks(scan.peeked);
        self.lock_tables += u64::from(read);
        let locks = self.holders.resolve(&table, &keys);
        drop(table);
        // Every entry is kept to the end of the scan: what only this step
        // needed goes back now, for the reasons written below to reuse.
        drop((pids, keys));

        self.phases.locks = locks_from.elapsed();
        let classify_from = Instant::now();
        let verdicts = Verdicts {
            probes: &probes,
            locks: &locks,
            systemd,
            partial,
            open_files: OpenFiles::default(),
            exe_names: OnceLock::new(),
            cwd: OnceLock::new(),
            beside: Mutex::new(beside),
        };
        let entries = &mut scan.entries[..];
        let mut others = std::mem::take(&mut scan.others);
        let spare = crate::cores::spare();
        // A scan made once is waited for; a view's rescans are not, and one
        // thread spends less on them in all (see `Self::remembering`).
        if spare && !self.remember && entries.len() >= 2 * MIN_ENTRIES_PER_THREAD {
            // Two halves, one per thread: each entry's verdict is its own.
            let mid = entries.len() / 2;
            let (first, second) = entries.split_at_mut(mid);
            let theirs = others.split_off(first.iter().filter(|e| e.pid.is_none()).count());
            let verdicts = &verdicts;
            // The second half waits here for whichever thread takes it: the
            // other one, or this one if no other could be started.
            let second = Mutex::new(Some((second, theirs)));
            let take_second = || {
                let half = second.lock().ok().and_then(|mut h| h.take());
                if let Some((half, theirs)) = half {
                    verdicts.fill(half, theirs);
                }
            };
            std::thread::scope(|threads| {
                let other = std::thread::Builder::new()
                    .name("pidscope-verdicts".into())
                    .spawn_scoped(threads, take_second);
                verdicts.fill(first, others);
                if other.is_err() {
                    take_second();
                }
            });
        } else {
            verdicts.fill(entries, others);
        }
        self.phases.classify = classify_from.elapsed();
    }

    /// The systemd view `beside` read (the previous one while its unit
    /// directories are unchanged); a unit file that cannot be used is a
    /// scan error.
    fn systemd_view(
        &mut self,
        beside: &mut Beside,
        errors: &mut Vec<ScanError>,
    ) -> Option<SystemdView> {
        let (view, unit_errors) = beside.units()?;
        errors.extend(unit_errors.into_iter().map(|e| ScanError {
            path: e.path,
            error: e.error,
        }));
        Some(view)
    }

    /// Start reading, beside the pidfiles, what depends on none of them:
    /// the lock table and the systemd units.
    pub(super) fn beside(&mut self) -> Beside {
        let dirs = self.unit_dirs.clone();
        let previous = dirs.as_ref().and(self.systemd.take());
        Beside::start(dirs, previous, (!self.remember, !self.remember))
    }
}

/// The files each PID has open, walked at most once per scan and only for
/// the PIDs a rule asks about.
type OpenFiles = Mutex<HashMap<i32, HashSet<(u64, u64)>>>;

/// Below this many entries, one thread gives them all their verdicts.
const MIN_ENTRIES_PER_THREAD: usize = 256;

/// Everything a scan gathered, from which each entry gets its verdict; what
/// a rule looks at only when it needs it is looked at once, by whichever
/// thread asks first.
struct Verdicts<'a> {
    probes: &'a HashMap<i32, ProcessProbe>,
    locks: &'a HashMap<FileKey, LockInfo>,
    systemd: Option<&'a SystemdView>,
    partial: bool,
    open_files: OpenFiles,
    exe_names: OnceLock<ExeNames>,
    /// The working directory, for relative paths: looked up once per scan.
    cwd: OnceLock<Option<PathBuf>>,
    beside: Mutex<Beside>,
}

impl Verdicts<'_> {
    /// Give each of `entries` its verdict (`others`: the contents of those
    /// that name no PID, in order). Each content is dropped once judged, its
    /// memory reused by the reason written next.
    fn fill(&self, entries: &mut [Entry], others: Vec<Content>) {
        let mut others = others.into_iter();
        for entry in entries.iter_mut() {
            let content = content_of(entry, &mut others);
            let pid = content.pid();
            let lock = entry.file.as_ref().and_then(|file| {
                self.locks
                    .get(&FileKey::from_dev_ino(file.dev, file.ino))
                    .cloned()
            });
            // A positive PID left out of the probes has no process.
            let probe = pid.and_then(|p| {
                self.probes
                    .get(&p)
                    .or((p > 0).then_some(&ProcessProbe::GONE))
            });
            let gathered = self
                .systemd
                .map(|view| SystemdGathered::of(view, entry, probe, &self.cwd));
            let stem = entry
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let look = || {
                let names = self.exe_names.get_or_init(|| {
                    self.beside
                        .lock()
                        .map_or_else(|_| ExeNames::read(), |mut b| b.exe_names())
                });
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
                &content,
                (probe, lock),
                self.partial,
                &self.open_files,
                facts.as_ref(),
            );
        }
    }
}

/// What `entry`'s file holds: the PID it names, else the next of the
/// contents of the entries that name none (kept in their order).
fn content_of(entry: &Entry, others: &mut impl Iterator<Item = Content>) -> Content {
    match entry.pid {
        Some(pid) => Content::Pid(pid),
        None => others
            .next()
            .unwrap_or_else(|| Content::Unreadable("not read".into())),
    }
}

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
        (Some(pid), Some(id)) => match open_files.lock() {
            Ok(mut open) => open
                .entry(pid)
                .or_insert_with(|| fds::open_files(pid))
                .contains(&id),
            Err(_) => fds::open_files(pid).contains(&id),
        },
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
    // A reason is written with room to grow that it never uses: kept per
    // entry to the end of the scan, it is cut to its length.
    entry.reason = verdict.reason.into_boxed_str();
    // Sorted by `classify`, the order a set lists them in.
    entry.warnings = verdict.warnings.iter().copied().collect();
    entry.process = probe.and_then(|p| p.info.clone());
    entry.lock = lock.map(Box::new);
    entry.systemd = verdict.systemd.map(Box::new);
}
