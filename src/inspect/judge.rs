//! Giving every entry of a scan its verdict: the PIDs probed and the locks
//! resolved all at once, then the rules applied to each entry.

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
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
        let pids: Vec<i32> = scan.contents.iter().filter_map(Content::pid).collect();
        let probes = self.prober.probe(&pids);
        self.phases.probe = probe_from.elapsed();
        let locks_from = Instant::now();
        let keys: Vec<(FileKey, Option<i32>)> = scan
            .entries
            .iter()
            .zip(&scan.contents)
            .filter_map(|(e, content)| {
                let file = e.file.as_ref()?;
                Some((FileKey::from_dev_ino(file.dev, file.ino), content.pid()))
            })
            .collect();
        let locks = self.holders.resolve(&beside.locks(), &keys);
        let beside = std::cell::RefCell::new(beside);

        self.phases.locks = locks_from.elapsed();
        let classify_from = Instant::now();
        let open_files = OpenFiles::default();
        let exe_names = OnceCell::new();
        let cwd = OnceCell::new();
        for (entry, content) in scan.entries.iter_mut().zip(&scan.contents) {
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
                let names: &ExeNames = exe_names.get_or_init(|| beside.borrow_mut().exe_names());
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
        Beside::start(dirs, previous, !self.remember)
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
    entry.systemd = verdict.systemd.map(Box::new);
}
