//! Verdict changes between two reports, and their renderings for `watch`:
//! one line for people, one JSON object per line for programs.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::display::{clock, display_path};
use crate::inspect::Refreshed;
use crate::report::Report;
use crate::verdict::{Entry, Warnings};

/// One pidfile whose verdict changed: its status, its PID or its warnings.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The entry before; `None` for a new pidfile.
    pub before: Option<&'a Entry>,
    /// The entry now; `None` for a removed one.
    pub after: Option<&'a Entry>,
}

/// What a removed pidfile's line gives as its reason.
pub const REMOVED: &str = "the pidfile is gone";

impl<'a> Change<'a> {
    /// The pidfile's path.
    pub fn path(&self) -> &'a Path {
        match (self.after, self.before) {
            (Some(e), _) | (None, Some(e)) => &e.path,
            (None, None) => Path::new(""),
        }
    }

    fn pid(&self) -> Option<i32> {
        self.after.or(self.before).and_then(|e| e.pid)
    }

    fn reason(&self) -> &'a str {
        self.after.map_or(REMOVED, |e| &*e.reason)
    }

    fn warnings(&self) -> Warnings {
        self.after.map_or(Warnings::new(), |e| e.warnings)
    }

    /// One line for people: `03:12:07  /run/nginx.pid  alive → stale  No process has PID 812`.
    pub fn human(&self, at: SystemTime, utc_offset: i32) -> String {
        let word =
            |e: Option<&Entry>, none: &str| e.map_or(none.to_string(), |e| e.status.to_string());
        let mut line = format!(
            "{}  {}  {} → {}  {}",
            clock(at, utc_offset),
            display_path(self.path()),
            word(self.before, "new"),
            word(self.after, "gone"),
            self.reason(),
        );
        if let (Some(b), Some(a)) = (
            self.before.and_then(|e| e.pid),
            self.after.and_then(|e| e.pid),
        ) && a != b
        {
            line.push_str(&format!("  (PID {b} → {a})"));
        }
        let warnings = self.warnings();
        if !warnings.is_empty() {
            let words: Vec<&str> = warnings.iter().map(|w| w.as_str()).collect();
            line.push_str(&format!("  [{}]", words.join(", ")));
        }
        line
    }

    /// One JSON object (no newline), `time` in seconds since the epoch.
    pub fn json(&self, at: SystemTime) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            time: f64,
            #[serde(serialize_with = "crate::serial::lossy_path")]
            path: &'a Path,
            pid: Option<i32>,
            from: Option<&'a str>,
            to: Option<&'a str>,
            reason: &'a str,
            warnings: Warnings,
        }
        let time = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| (d.as_millis() / 10) as f64 / 100.0);
        let line = Line {
            time,
            path: self.path(),
            pid: self.pid(),
            from: self.before.map(|e| e.status.as_str()),
            to: self.after.map(|e| e.status.as_str()),
            reason: self.reason(),
            warnings: self.warnings(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// Whether two entries for one path tell a different story.
fn differs(a: &Entry, b: &Entry) -> bool {
    a.status != b.status || a.pid != b.pid || a.warnings != b.warnings
}

/// The changes a refresh made to `report`, in the report's order, removed
/// pidfiles after the rest.
pub fn between<'a>(refreshed: &'a Refreshed, report: &'a Report) -> Vec<Change<'a>> {
    let mut before: HashMap<&Path, &Entry> = refreshed
        .replaced
        .iter()
        .map(|e| (e.path.as_path(), e))
        .collect();
    let mut changes = Vec::new();
    for &i in &refreshed.fresh {
        let Some(after) = report.entries.get(i) else {
            continue;
        };
        let old = before.remove(after.path.as_path());
        if old.is_none_or(|old| differs(old, after)) {
            changes.push(Change {
                before: old,
                after: Some(after),
            });
        }
    }
    let mut gone: Vec<&Entry> = refreshed
        .replaced
        .iter()
        .filter(|e| before.contains_key(e.path.as_path()))
        .collect();
    gone.dedup_by(|a, b| a.path == b.path);
    changes.extend(gone.into_iter().map(|e| Change {
        before: Some(e),
        after: None,
    }));
    changes
}

/// Every entry of `report` as new (`watch --initial`).
pub fn initial(report: &Report) -> Vec<Change<'_>> {
    report
        .entries
        .iter()
        .map(|e| Change {
            before: None,
            after: Some(e),
        })
        .collect()
}
