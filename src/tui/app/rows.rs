//! Which rows are visible and in what order: the status and text filters, the
//! sort, the selection and scrolling.

use std::path::PathBuf;
use std::time::SystemTime;

use super::{App, layout};
use crate::verdict::{Entry, Status};

/// Which rows the status filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every row.
    All,
    /// Every row that is not alive, or has a warning.
    Problems,
    /// One status.
    Only(Status),
}

impl StatusFilter {
    pub(super) fn next(self) -> Self {
        match self {
            StatusFilter::All => StatusFilter::Problems,
            StatusFilter::Problems => StatusFilter::Only(Status::ALL[0]),
            StatusFilter::Only(s) => match Status::ALL.iter().position(|x| *x == s) {
                Some(i) if i + 1 < Status::ALL.len() => StatusFilter::Only(Status::ALL[i + 1]),
                _ => StatusFilter::All,
            },
        }
    }

    pub(super) fn admits(self, entry: &Entry) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Problems => entry.status != Status::Alive || !entry.warnings.is_empty(),
            StatusFilter::Only(s) => entry.status == s,
        }
    }

    /// How the header names it.
    pub fn label(self) -> String {
        match self {
            StatusFilter::All => "all".into(),
            StatusFilter::Problems => "problems".into(),
            StatusFilter::Only(s) => s.to_string(),
        }
    }
}

/// Sortable columns, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Problems first, then by path.
    Status,
    /// PID.
    Pid,
    /// Path.
    Path,
    /// Process name.
    Process,
    /// User.
    User,
    /// CPU %.
    Cpu,
    /// Memory.
    Memory,
    /// Process uptime.
    Uptime,
    /// Pidfile age.
    Age,
}

impl SortColumn {
    const ORDER: [SortColumn; 9] = [
        SortColumn::Status,
        SortColumn::Pid,
        SortColumn::Path,
        SortColumn::Process,
        SortColumn::User,
        SortColumn::Cpu,
        SortColumn::Memory,
        SortColumn::Uptime,
        SortColumn::Age,
    ];

    pub(super) fn next(self) -> Self {
        let i = Self::ORDER.iter().position(|c| *c == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    /// How the header names it.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Status => "status",
            SortColumn::Pid => "pid",
            SortColumn::Path => "path",
            SortColumn::Process => "process",
            SortColumn::User => "user",
            SortColumn::Cpu => "cpu",
            SortColumn::Memory => "memory",
            SortColumn::Uptime => "uptime",
            SortColumn::Age => "age",
        }
    }
}

impl App {
    /// Recompute the visible rows, keeping the selection on `keep` when it is still shown.
    pub(super) fn rebuild_rows(&mut self, keep: Option<PathBuf>) {
        let Some(report) = &self.report else { return };
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<usize> = report
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| self.status_filter.admits(e) && matches_text(e, &needle))
            .map(|(i, _)| i)
            .collect();
        let now = self.now;
        let sort = self.sort;
        rows.sort_by(|&a, &b| compare(&report.entries[a], &report.entries[b], sort, now));
        if self.reverse {
            rows.reverse();
        }
        let position =
            keep.and_then(|path| rows.iter().position(|&i| report.entries[i].path == path));
        self.rows = rows;
        self.selected = position
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
        self.scroll_into_view();
    }

    /// Re-filter and re-sort after a filter or the sort changed, keeping the selection.
    pub(super) fn resort(&mut self) {
        let keep = self.selected_entry().map(|e| e.path.clone());
        self.rebuild_rows(keep);
    }

    /// Rows of the table that fit on screen.
    pub fn page_height(&self) -> usize {
        layout::page_height(self.size)
    }

    /// Move the first visible row so that the selection is on screen.
    pub(super) fn scroll_into_view(&mut self) {
        let page = self.page_height();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(page));
    }

    /// Select row `index` (clamped to the rows there are).
    pub(super) fn select(&mut self, index: usize) {
        self.selected = index.min(self.rows.len().saturating_sub(1));
        self.scroll_into_view();
    }
}

fn matches_text(entry: &Entry, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let process = entry.process.as_ref();
    entry.path.to_string_lossy().to_lowercase().contains(needle)
        || process.is_some_and(|p| p.name.to_lowercase().contains(needle))
        || process
            .and_then(|p| p.user.as_ref())
            .is_some_and(|u| u.to_lowercase().contains(needle))
}

/// Problems first: the order of the status column's sort.
fn severity(status: Status) -> u8 {
    match status {
        Status::Unreadable => 0,
        Status::Invalid => 1,
        Status::Zombie => 2,
        Status::Reused => 3,
        Status::Stale => 4,
        Status::Alive => 5,
    }
}

fn compare(a: &Entry, b: &Entry, sort: SortColumn, now: SystemTime) -> std::cmp::Ordering {
    let pa = a.process.as_ref();
    let pb = b.process.as_ref();
    let by = match sort {
        SortColumn::Status => severity(a.status).cmp(&severity(b.status)),
        SortColumn::Pid => a.pid.cmp(&b.pid),
        SortColumn::Path => a.path.cmp(&b.path),
        SortColumn::Process => pa.map(|p| &p.name).cmp(&pb.map(|p| &p.name)),
        SortColumn::User => pa
            .and_then(|p| p.user.as_ref())
            .cmp(&pb.and_then(|p| p.user.as_ref())),
        SortColumn::Cpu => pb
            .map(|p| p.cpu_percent)
            .partial_cmp(&pa.map(|p| p.cpu_percent))
            .unwrap_or(std::cmp::Ordering::Equal),
        SortColumn::Memory => pb.map(|p| p.memory_bytes).cmp(&pa.map(|p| p.memory_bytes)),
        // Oldest first for both ages.
        SortColumn::Uptime => pa
            .and_then(|p| p.start_time)
            .cmp(&pb.and_then(|p| p.start_time)),
        SortColumn::Age => {
            let mtime = |e: &Entry| e.file.as_ref().map(|f| f.mtime).unwrap_or(now);
            mtime(a).cmp(&mtime(b))
        }
    };
    by.then_with(|| a.path.cmp(&b.path))
}
