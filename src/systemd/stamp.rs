//! One version of a file or directory, as `stat` tells it: what a kept
//! unit index checks its files against.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A file or directory as it was when the index looked at it; `None`:
/// it did not exist (or could not be looked at).
pub(super) type Seen = (PathBuf, Option<Stamp>);

/// What an index was built from: each path as it was when looked at, and
/// whether something could not be looked at (a directory that could not be
/// listed, a file there that could not be read): a failure that may pass,
/// so such an index is used once, and not kept.
#[derive(Debug, Default)]
pub(super) struct Noted {
    pub(super) seen: Vec<Seen>,
    pub(super) failed: bool,
}

impl Noted {
    /// Note `path` as it was: `stamp`, or absent.
    pub(super) fn see(&mut self, path: PathBuf, stamp: Option<Stamp>) {
        self.seen.push((path, stamp));
    }
}

/// What identifies one version of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    mode: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// From what `stat` gave through std.
    pub(super) fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// From what `stat` gave through rustix.
    pub(super) fn of_stat(stat: &rustix::fs::Stat) -> Stamp {
        Stamp {
            dev: stat.st_dev,
            ino: stat.st_ino,
            mode: stat.st_mode,
            size: u64::try_from(stat.st_size).unwrap_or(u64::MAX),
            mtime: (
                stat.st_mtime,
                i64::try_from(stat.st_mtime_nsec).unwrap_or(0),
            ),
            ctime: (
                stat.st_ctime,
                i64::try_from(stat.st_ctime_nsec).unwrap_or(0),
            ),
        }
    }

    /// `path` as it is now (following links, as reading it does).
    pub(super) fn now(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// When it last changed.
    pub(super) fn changed(&self) -> Option<SystemTime> {
        let (secs, nanos) = self.ctime;
        let since = Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?);
        SystemTime::UNIX_EPOCH.checked_add(since)
    }
}

/// Whether every path of `seen` is as it was. Each is looked up from its
/// directory, opened once for the paths in it that come one after the
/// other (as an index notes them): a unit directory's hundred files cost
/// a hundred lookups of one name, not of five.
pub(super) fn unchanged(seen: &[Seen]) -> bool {
    use rustix::fs::{AtFlags, Mode, OFlags, open, statat};
    let mut dir: Option<(&Path, Option<rustix::fd::OwnedFd>)> = None;
    seen.iter().all(|(path, stamp)| {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Stamp::now(path) == *stamp;
        };
        if dir.as_ref().is_none_or(|(d, _)| *d != parent) {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            dir = Some((parent, open(parent, flags, Mode::empty()).ok()));
        }
        let now = match dir.as_ref().and_then(|(_, fd)| fd.as_ref()) {
            Some(fd) => statat(fd, name, AtFlags::empty()).ok(),
            None => None,
        };
        now.as_ref().map(Stamp::of_stat) == *stamp
    })
}
