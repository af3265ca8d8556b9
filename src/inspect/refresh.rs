//! Re-inspecting only what changed: the entries a live view saw change, the
//! directories it saw appear or go, and the pidfiles naming a PID that
//! exited. They go through the same read, probe and verdict as a full scan
//! (`collect` and `judge`), and the result is folded into the previous report
//! in walk order.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::Scanner;
use crate::probe::namespace::PidNamespace;
use crate::report::Report;
use crate::scan::discover::{candidate_at, discover_all, discover_below};
use crate::verdict::Entry;

/// What changed since the last report, as a live view saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Directory entries that were created, removed, renamed, written or
    /// changed mode: read again, or dropped when no longer there.
    pub files: BTreeSet<PathBuf>,
    /// Directories that appeared or went: walked again, with everything below.
    pub dirs: BTreeSet<PathBuf>,
    /// PIDs whose process exited (or may have): the pidfiles naming them,
    /// or locked by them, are judged again.
    pub pids: BTreeSet<i32>,
    /// Something no narrower change describes (lost events, a root gone):
    /// scan everything.
    pub everything: bool,
}

/// A refreshed report, with what it replaced.
#[derive(Debug)]
pub struct Refreshed {
    /// The report now.
    pub report: Report,
    /// The previous report's entries that were inspected again (all of
    /// them after a full scan).
    pub replaced: Vec<Entry>,
    /// The indices in `report.entries` of the entries inspected now.
    pub fresh: Vec<usize>,
}

impl Dirty {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.files.is_empty() && self.dirs.is_empty() && self.pids.is_empty()
    }
}

impl Scanner {
    /// Re-inspect only what `dirty` names and fold the result into
    /// `previous` (the last report of this scanner): the same entries, in
    /// the same order, as a full scan would give now for everything it
    /// touched. A change a partial look cannot place (a new second path to
    /// a file already listed) falls back to a full scan.
    pub fn refresh(&mut self, previous: Report, dirty: &Dirty) -> Refreshed {
        if dirty.everything {
            return self.rescan_all(previous.entries);
        }
        let started_at = SystemTime::now();
        let timer = Instant::now();
        let in_dirty_dir = |p: &Path| dirty.dirs.iter().any(|d| p.starts_with(d));

        // Entries touched by the change are dropped, and every path of theirs
        // outside a re-walked directory is looked at again.
        let mut recheck: BTreeSet<PathBuf> = dirty.files.clone();
        let mut kept = Vec::with_capacity(previous.entries.len());
        let mut replaced = Vec::new();
        for entry in previous.entries {
            if touched(&entry, dirty, &in_dirty_dir) {
                recheck.extend(paths(&entry).filter(|p| !in_dirty_dir(p)).cloned());
                replaced.push(entry);
            } else {
                kept.push(entry);
            }
        }
        let mut errors: Vec<_> = previous
            .errors
            .into_iter()
            .filter(|e| !recheck.contains(&e.path) && !in_dirty_dir(&e.path))
            .collect();

        let candidates = self.candidates(dirty, &recheck, &mut errors);
        let mut scan = self.collect(candidates, &mut errors, (false, false));
        let listed: HashSet<(u64, u64)> = kept
            .iter()
            .filter_map(|e| e.file.as_ref().map(|f| (f.dev, f.ino)))
            .collect();
        let folds = scan.entries.iter().any(|e| {
            e.file
                .as_ref()
                .is_some_and(|f| listed.contains(&(f.dev, f.ino)))
        });
        if folds {
            kept.extend(replaced);
            return self.rescan_all(kept);
        }
        let pid_namespace = PidNamespace::current();
        let partial = pid_namespace == PidNamespace::Nested && !self.same_namespace;
        let beside = self.beside();
        self.judge(&mut scan, partial, beside, &mut errors);

        let (entries, fresh) = self.merge(kept, scan.entries);
        let report = Report {
            roots: previous.roots,
            entries,
            errors,
            started_at,
            duration: timer.elapsed(),
            pid_namespace,
        };
        Refreshed {
            report,
            replaced,
            fresh,
        }
    }

    /// The candidates a change asks to look at again, in walk order: the
    /// re-walked directories' and the rechecked paths' that are still
    /// pidfiles. The walked directories and the read cache forget what the
    /// change removed.
    fn candidates(
        &mut self,
        dirty: &Dirty,
        recheck: &BTreeSet<PathBuf>,
        errors: &mut Vec<crate::scan::ScanError>,
    ) -> Vec<crate::scan::discover::Candidate> {
        let in_dirty_dir = |p: &Path| dirty.dirs.iter().any(|d| p.starts_with(d));
        let mut candidates = Vec::new();
        if !dirty.dirs.is_empty() {
            self.walked.retain(|d| !in_dirty_dir(&d.path));
            self.cache.retain(|p, _| !in_dirty_dir(p));
        }
        // A directory below another one walked again is walked with it.
        let tops = dirty
            .dirs
            .iter()
            .filter(|d| !dirty.dirs.iter().any(|o| o != *d && d.starts_with(o)));
        for dir in tops {
            let Some((_, depth)) = self.place(dir) else {
                continue;
            };
            let found = discover_below(dir, depth, &self.rules, errors);
            candidates.extend(found.candidates);
            self.walked.extend(found.dirs);
        }
        for path in recheck {
            match self.place(path) {
                Some((_, 0)) => {
                    let found = discover_all(std::slice::from_ref(path), &self.rules, errors);
                    candidates.extend(found.candidates);
                }
                Some((_, depth)) => match candidate_at(path, depth, &self.rules) {
                    Some(candidate) => candidates.push(candidate),
                    None => {
                        self.cache.remove(path);
                    }
                },
                None => {}
            }
        }
        candidates.sort_by(|a, b| self.order(&a.path).cmp(&self.order(&b.path)));
        candidates.dedup_by(|a, b| a.path == b.path);
        candidates
    }

    /// A full scan, replacing every entry of the previous report.
    fn rescan_all(&mut self, previous: Vec<Entry>) -> Refreshed {
        let report = self.scan();
        let fresh = (0..report.entries.len()).collect();
        Refreshed {
            report,
            replaced: previous,
            fresh,
        }
    }

    /// The root a path lies under (the first that holds it) and how deep
    /// below it: 0 for the root itself.
    fn place(&self, path: &Path) -> Option<(usize, usize)> {
        self.roots.iter().enumerate().find_map(|(i, root)| {
            let rest = path.strip_prefix(root).ok()?;
            Some((i, rest.components().count()))
        })
    }

    /// A path's place in walk order: roots in order, then by name within
    /// each directory, a directory's entries right after it (which is how
    /// paths compare, component by component).
    fn order<'p>(&self, path: &'p Path) -> (usize, &'p Path) {
        (self.place(path).map_or(usize::MAX, |(i, _)| i), path)
    }

    /// Two lists in walk order, merged into one; with the indices the
    /// second list's entries got.
    fn merge(&self, kept: Vec<Entry>, fresh: Vec<Entry>) -> (Vec<Entry>, Vec<usize>) {
        let mut merged = Vec::with_capacity(kept.len() + fresh.len());
        let mut at = Vec::with_capacity(fresh.len());
        let mut fresh = fresh.into_iter().peekable();
        for entry in kept {
            while let Some(next) = fresh.next_if(|f| self.order(&f.path) < self.order(&entry.path))
            {
                at.push(merged.len());
                merged.push(next);
            }
            merged.push(entry);
        }
        for next in fresh {
            at.push(merged.len());
            merged.push(next);
        }
        (merged, at)
    }
}

/// Whether a change touches an entry: one of its paths changed or lies in a
/// re-walked directory, or the process it names or a holder of its lock
/// may have exited.
fn touched(entry: &Entry, dirty: &Dirty, in_dirty_dir: &impl Fn(&Path) -> bool) -> bool {
    paths(entry).any(|p| dirty.files.contains(p) || in_dirty_dir(p))
        || entry.pid.is_some_and(|pid| dirty.pids.contains(&pid))
        || entry
            .lock
            .as_ref()
            .is_some_and(|l| l.holders.iter().any(|h| dirty.pids.contains(h)))
}

/// Every path an entry was reached by.
fn paths(entry: &Entry) -> impl Iterator<Item = &PathBuf> {
    std::iter::once(&entry.path).chain(&entry.aliases)
}
