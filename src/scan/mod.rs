//! Finding and reading pidfiles: discovery, the bounded reader and the PID parser.

pub mod discover;
pub mod parse;
pub mod read;

use std::path::PathBuf;

use serde::Serialize;

/// A problem met during a scan that is not about one pidfile's verdict:
/// an unreadable directory, a root that does not exist, an entry that vanished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanError {
    /// Where it happened.
    #[serde(serialize_with = "crate::serial::lossy_path")]
    pub path: PathBuf,
    /// What went wrong, as a short phrase.
    pub error: String,
}

/// Where a pidfile sits on disk: the identity of its directory and of the
/// directory entry itself (the link, for a symlinked pidfile). Actions compare
/// it with what they open, so a directory or file swapped in meanwhile
/// (for a symlink to somewhere else) is noticed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// `(st_dev, st_ino)` of the containing directory, shared by the
    /// pidfiles of one directory (a scan keeps a location per pidfile).
    pub dir: std::sync::Arc<(u64, u64)>,
    /// `(st_dev, st_ino)` of the entry, not following a symlink.
    pub entry: (u64, u64),
}
