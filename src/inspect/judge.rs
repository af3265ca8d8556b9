//! Giving every entry of a scan its verdict: the PIDs probed and the locks
//! resolved all at once, then the rules applied to each entry.

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::systemd::SystemdGathered;
use super::{ScanInProgress, Scanner};
use crate::policy::classify;
use crate::probe::exes::ExeNames;
use crate::probe::fds;
use crate::probe::locks::{FileKey, LockInfo, LockTable};
use crate::probe::process::ProcessProbe;
use crate::scan::ScanError;
use crate::systemd::SystemdView;
use crate::verdict::{Content, Entry, Evidence, Namesake, NamesakeLook, OpenCheck, SystemdFacts};

impl Scanner {
    /// Probe every PID and resolve every lock at once, then give each entry
    /// its verdict; `partial`: PIDs outside this namespace cannot be seen.
    pub(super) fn judge(
        &mut self,
        scan: &mut ScanInProgress,
        partial: bool,
        systemd: Option<&SystemdView>,
    ) {
        let probe_from = Instant::now();
        let pids: Vec<i32> = scan.entries.iter().filter_map(|e| e.pid).collect();
        let probes = self.prober.probe(&pids);
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
        let locks = self.holders.resolve(&LockTable::read(), &keys);
        // Every entry is kept to the end of the scan: what only this step
        // needed goes back now, for the reasons written below to reuse.
        drop((pids, keys));

        self.phases.locks = locks_from.elapsed();
        let classify_from = Instant::now();
        let open_files = OpenFiles::default();
        let exe_names = OnceCell::new();
        let cwd = OnceCell::new();
        // Each content is dropped once judged, its memory reused by the
        // reason written next.
        let mut others = std::mem::take(&mut scan.others).into_iter();
        for entry in scan.entries.iter_mut() {
            let content = content_of(entry, &mut others);
            let pid = content.pid();
            let lock = entry.file.as_ref().and_then(|file| {
                locks
                    .get(&FileKey::from_dev_ino(file.dev, file.ino))
                    .cloned()
            });
            let probe = pid.and_then(|p| probes.get(&p));
            let gathered = systemd.map(|view| SystemdGathered::of(view, entry, probe, &cwd));
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
                &content,
                (probe, lock),
                partial,
                &open_files,
                facts.as_ref(),
            );
        }
        self.phases.classify = classify_from.elapsed();
    }

    /// This scan's systemd view: the previous one while its unit
    /// directories are unchanged, else read again. A unit file that cannot
    /// be used is a scan error.
    pub(super) fn systemd_view(&mut self, errors: &mut Vec<ScanError>) -> Option<SystemdView> {
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
    // A reason is written with room to grow that it never uses: kept per
    // entry to the end of the scan, it is cut to its length.
    entry.reason.shrink_to_fit();
    entry.warnings = verdict.warnings;
    entry.process = probe.and_then(|p| p.info.clone());
    entry.lock = lock.map(Box::new);
    entry.systemd = verdict.systemd.map(Box::new);
}
