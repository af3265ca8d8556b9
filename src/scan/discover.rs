//! Discovery: walk the roots and list the entries that look like pidfiles.
//!
//! Directory symlinks are never followed below a root (no loops, no escaping
//! the root); a root itself may be a symlink (`/var/run -> /run`). Unreadable
//! directories and entries that vanish mid-walk are recorded and the walk goes on.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::GlobSet;

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

/// A directory the walk listed: its path and its depth below its root (0
/// for the root itself). A live view watches exactly these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WalkedDir {
    /// The directory, as reached from its root.
    pub path: PathBuf,
    /// 0 for a root, 1 for a root's own subdirectories.
    pub depth: usize,
}

/// What a walk found: the candidates in walk order and the directories it listed.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The candidates, sorted by name within a directory.
    pub candidates: Vec<Candidate>,
    /// Every directory whose entries were listed.
    pub dirs: Vec<WalkedDir>,
}

impl Rules {
    /// Whether an entry named `name` at `path` is a pidfile candidate by its
    /// name alone: it matches a pattern and nothing excludes it. The one
    /// test the walk and a live view's single entries share.
    pub fn wants(&self, path: &Path) -> bool {
        path.file_name()
            .is_some_and(|name| self.patterns.is_match(name))
            && !self.excluded(path)
    }

    /// Whether the walk enters a directory at `path`, `depth` below its root.
    pub fn enters(&self, path: &Path, depth: usize) -> bool {
        depth < self.max_depth && (depth == 0 || !self.excluded(path))
    }
}

/// Walk every root and return the candidates in walk order (sorted by name
/// within a directory, so output is stable) with the errors met on the way.
pub fn discover(roots: &[PathBuf], rules: &Rules, errors: &mut Vec<ScanError>) -> Vec<Candidate> {
    discover_all(roots, rules, errors).candidates
}

/// [`discover`], also listing the directories walked.
pub fn discover_all(roots: &[PathBuf], rules: &Rules, errors: &mut Vec<ScanError>) -> Discovery {
    let mut found = Discovery::default();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(meta) if meta.is_dir() => walk(root, 0, rules, &mut found, errors),
            // A file named on the command line is inspected whatever its name.
            Ok(_) => found.candidates.push(Candidate {
                path: root.clone(),
                kind: EntryKind::Unknown,
                depth: 0,
            }),
            // A dangling or looping symlink given as a root: the reader says which.
            Err(_) if std::fs::symlink_metadata(root).is_ok() => {
                found.candidates.push(Candidate {
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

/// Walk one directory `depth` below its root as the full walk would reach
/// it (a live view's new or changed subdirectory). Nothing when it is gone
/// or no longer a directory.
pub fn discover_below(
    dir: &Path,
    depth: usize,
    rules: &Rules,
    errors: &mut Vec<ScanError>,
) -> Discovery {
    let mut found = Discovery::default();
    let is_dir = if depth == 0 {
        std::fs::metadata(dir).is_ok_and(|m| m.is_dir())
    } else {
        std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
    };
    if is_dir && rules.enters(dir, depth) {
        walk(dir, depth, rules, &mut found, errors);
    }
    found
}

/// The candidate at `path`, `depth` (at least 1) below its root, as the walk
/// would list it now; `None` when it is gone, a directory, or not wanted.
pub fn candidate_at(path: &Path, depth: usize, rules: &Rules) -> Option<Candidate> {
    if depth == 0 || depth > rules.max_depth || !rules.wants(path) {
        return None;
    }
    let ft = std::fs::symlink_metadata(path).ok()?.file_type();
    Some(Candidate {
        path: path.to_path_buf(),
        kind: kind_of(Kind::from(ft))?,
        depth,
    })
}

/// What a directory entry is, from `readdir` or `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

impl From<std::fs::FileType> for Kind {
    fn from(ft: std::fs::FileType) -> Kind {
        if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }
}

/// What a directory entry is, as a candidate; `None` for a directory.
fn kind_of(kind: Kind) -> Option<EntryKind> {
    Some(match kind {
        Kind::Dir => return None,
        Kind::File => EntryKind::Regular,
        Kind::Symlink => EntryKind::Symlink,
        Kind::Other => EntryKind::Special,
    })
}

/// Walk `root` (a directory, `base` below its root) in name order: each
/// directory is listed once, its entries sorted by the bytes of their names
/// (no path is taken apart to compare two names), and a subdirectory is
/// walked right after it is met, before its next sibling.
fn walk(
    root: &Path,
    base: usize,
    rules: &Rules,
    found: &mut Discovery,
    errors: &mut Vec<ScanError>,
) {
    if base < rules.max_depth {
        found.dirs.push(WalkedDir {
            path: root.to_path_buf(),
            depth: base,
        });
        walk_dir(root, base, rules, found, errors);
    }
}

/// List `dir` (`depth` below its root, which is less than the maximum) and
/// walk what it holds.
fn walk_dir(
    dir: &Path,
    depth: usize,
    rules: &Rules,
    found: &mut Discovery,
    errors: &mut Vec<ScanError>,
) {
    let listing = match Listing::of(dir) {
        Ok(listing) => listing,
        Err(err) => return errors.push(walk_error(dir.to_path_buf(), &err)),
    };
    let below = depth + 1;
    for (name, ft) in listing.iter() {
        let name = OsStr::from_bytes(name);
        // Exactly as long as it needs: `join` would double the directory's
        // buffer, and a scan keeps one path per pidfile.
        let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
        path.push(dir);
        path.push(name);
        if rules.excluded(&path) {
            continue;
        }
        if ft == Kind::Dir {
            if below < rules.max_depth {
                found.dirs.push(WalkedDir {
                    path: path.clone(),
                    depth: below,
                });
                walk_dir(&path, below, rules, found, errors);
            }
            continue;
        }
        if !rules.patterns.is_match(name) {
            continue;
        }
        let Some(kind) = kind_of(ft) else { continue };
        found.candidates.push(Candidate {
            depth: below,
            path,
            kind,
        });
    }
}

/// A directory's entries (but `.` and `..`) in the order of their names'
/// bytes, each with its type: the names in one buffer, so that listing
/// costs no allocation per entry.
struct Listing {
    names: Vec<u8>,
    /// Where each name is in `names`, and its type.
    entries: Vec<(u32, u32, Kind)>,
}

impl Listing {
    /// List `dir`: `readdir`'s type for each entry, or `lstat`'s where the
    /// file system gives none.
    fn of(dir: &Path) -> std::io::Result<Listing> {
        use rustix::fs::{FileType, Mode, OFlags, RawDir, open};
        use std::mem::MaybeUninit;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = open(dir, flags, Mode::empty())?;
        let mut buf = [MaybeUninit::<u8>::uninit(); 16384];
        let mut raw = RawDir::new(&fd, &mut buf);
        let mut listing = Listing {
            names: Vec::new(),
            entries: Vec::new(),
        };
        while let Some(entry) = raw.next() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let ft = match entry.file_type() {
                FileType::Unknown => Kind::from(
                    std::fs::symlink_metadata(dir.join(OsStr::from_bytes(name)))?.file_type(),
                ),
                FileType::Directory => Kind::Dir,
                FileType::RegularFile => Kind::File,
                FileType::Symlink => Kind::Symlink,
                _ => Kind::Other,
            };
            let (Ok(start), Ok(len)) = (
                u32::try_from(listing.names.len()),
                u32::try_from(name.len()),
            ) else {
                return Err(std::io::Error::other("a directory too large to list"));
            };
            listing.names.extend_from_slice(name);
            listing.entries.push((start, len, ft));
        }
        let names = &listing.names;
        let name =
            |&(start, len, _): &(u32, u32, _)| &names[start as usize..(start + len) as usize];
        listing
            .entries
            .sort_unstable_by(|a, b| name(a).cmp(name(b)));
        Ok(listing)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], Kind)> {
        self.entries
            .iter()
            .map(|&(start, len, ft)| (&self.names[start as usize..(start + len) as usize], ft))
    }
}

/// A directory that could not be listed: gone since it was met, or why not.
fn walk_error(path: PathBuf, err: &std::io::Error) -> ScanError {
    let error = if err.kind() == std::io::ErrorKind::NotFound {
        "vanished during the scan".to_string()
    } else {
        describe(err)
    };
    ScanError { path, error }
}
