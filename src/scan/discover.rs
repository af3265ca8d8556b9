//! Discovery: walk the roots and list the entries that look like pidfiles.
//!
//! Directory symlinks are never followed below a root (no loops, no escaping
//! the root); a root itself may be a symlink (`/var/run -> /run`). Unreadable
//! directories and entries that vanish mid-walk are recorded and the walk goes on.

use std::path::{Path, PathBuf};

use globset::GlobSet;
use walkdir::WalkDir;

use super::ScanError;
use super::read::{EntryKind, describe};

/// Which entries of the walked directories are pidfiles.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Globs matched against file names (`*.pid`).
    pub patterns: GlobSet,
    /// Globs matched against file and directory names and full paths; a match skips the entry
    /// (and a whole directory).
    pub exclude: GlobSet,
    /// How deep below each root to look (a root's own entries are depth 1).
    pub max_depth: usize,
}

/// An entry found by the walk, to be read and classified.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The path as reached from its root.
    pub path: PathBuf,
    /// What `readdir` said the entry is.
    pub kind: EntryKind,
    /// How far below its root: 0 for a file given as a root, 1 for a root's own entries.
    pub depth: usize,
}

impl Rules {
    fn excluded(&self, path: &Path) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        self.exclude.is_match(path) || path.file_name().is_some_and(|n| self.exclude.is_match(n))
    }
}

/// Walk every root and return the candidates in walk order (sorted by name
/// within a directory, so output is stable) with the errors met on the way.
pub fn discover(roots: &[PathBuf], rules: &Rules, errors: &mut Vec<ScanError>) -> Vec<Candidate> {
    let mut found = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => walk(root, rules, &mut found, errors),
            // A file named on the command line is inspected whatever its name.
            Ok(_) => found.push(Candidate {
                path: root.clone(),
                kind: EntryKind::Unknown,
                depth: 0,
            }),
            // A dangling or looping symlink given as a root: the reader says which.
            Err(_) if std::fs::symlink_metadata(root).is_ok() => {
                found.push(Candidate {
                    path: root.clone(),
                    kind: EntryKind::Unknown,
                    depth: 0,
                });
            }
            Err(err) => errors.push(ScanError {
                path: root.clone(),
                error: describe(&err),
            }),
        }
    }
    found
}

fn walk(root: &Path, rules: &Rules, found: &mut Vec<Candidate>, errors: &mut Vec<ScanError>) {
    let walker = WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(true)
        .max_depth(rules.max_depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !rules.excluded(e.path()));
    for item in walker {
        let entry = match item {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(root).to_path_buf();
                let error = match err.io_error() {
                    Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
                        "vanished during the scan".to_string()
                    }
                    Some(io) => describe(io),
                    None => err.to_string(),
                };
                errors.push(ScanError { path, error });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() || !rules.patterns.is_match(entry.file_name()) {
            continue;
        }
        let kind = if ft.is_file() {
            EntryKind::Regular
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::Special
        };
        found.push(Candidate {
            depth: entry.depth(),
            path: entry.into_path(),
            kind,
        });
    }
}
