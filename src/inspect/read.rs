//! Reading one candidate: its content parsed, its first line, and where it sits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::scan::Location;
use crate::scan::discover::Candidate;
use crate::scan::parse::{MAX_READ, parse_pid};
use crate::scan::read::{EntryKind, FileInfo, Parent, ReadOutcome, read_pidfile_in};
use crate::text::Line;
use crate::verdict::Content;

/// What was read from one pidfile: its parsed content, the file's details
/// and its first line when the file could be opened.
pub(super) struct ReadPidfile {
    pub(super) content: Content,
    pub(super) file: Option<FileInfo>,
    pub(super) first_line: Option<Line>,
}

/// Read and parse one candidate that the cache did not answer, through its
/// directory's descriptor in `parent`. `None` when it vanished between the
/// walk and the read.
pub(super) fn read_candidate(
    parent: &mut Parent,
    candidate: &Candidate,
    pid_max: u32,
) -> Option<ReadPidfile> {
    let read = match read_pidfile_in(parent, &candidate.path, candidate.kind) {
        ReadOutcome::Read {
            file,
            content,
            truncated,
        } => {
            let parsed = match parse_pid(&content, truncated, pid_max) {
                Ok(pid) => Content::Pid(pid),
                Err(why) => Content::Invalid(why),
            };
            ReadPidfile {
                content: parsed,
                file: Some(file),
                first_line: Some(first_line(&content)),
            }
        }
        ReadOutcome::Unreadable { file, reason } => ReadPidfile {
            content: Content::Unreadable(reason),
            file,
            first_line: None,
        },
        ReadOutcome::Vanished(_) => return None,
    };
    Some(read)
}

/// A directory's `(st_dev, st_ino)`, shared by the locations of its pidfiles.
type DirId = Arc<(u64, u64)>;

/// The identity of each directory holding a pidfile, `stat`ed once: the
/// last one asked about is answered without hashing its path, as walk order
/// keeps a directory's entries together.
#[derive(Debug, Default)]
pub(super) struct DirIds {
    last: Option<(PathBuf, Option<DirId>)>,
    all: HashMap<PathBuf, Option<DirId>>,
}

impl DirIds {
    /// `(st_dev, st_ino)` of `dir`, following a symlink or not.
    fn of(&mut self, dir: &Path, follow: bool) -> Option<DirId> {
        use std::os::unix::fs::MetadataExt;
        if let Some((last, id)) = &self.last
            && last == dir
        {
            return id.clone();
        }
        let id = match self.all.get(dir) {
            Some(id) => id.clone(),
            None => {
                let meta = if follow {
                    std::fs::metadata(dir)
                } else {
                    std::fs::symlink_metadata(dir)
                };
                let id = meta.ok().map(|m| Arc::new((m.dev(), m.ino())));
                self.all.insert(dir.to_path_buf(), id.clone());
                id
            }
        };
        self.last = Some((dir.to_path_buf(), id.clone()));
        id
    }
}

/// The directory's and the entry's identity; one `stat` per directory, and an
/// `lstat` only for entries that are not plain regular files.
pub(super) fn locate(
    candidate: &Candidate,
    file: Option<&FileInfo>,
    dirs: &mut DirIds,
) -> Option<Location> {
    use std::os::unix::fs::MetadataExt;
    let parent = match candidate.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Below its root a directory is never a symlink (the walk does not follow
    // them), so it is identified without following one: a directory swapped for
    // a symlink after the walk then no longer matches, and actions refuse. The
    // root itself may be a symlink (/var/run -> /run) and is followed.
    let follow = candidate.depth <= 1;
    let dir = dirs.of(parent, follow);
    let entry = match (candidate.kind, file) {
        (EntryKind::Regular, Some(f)) => (f.dev, f.ino),
        _ => std::fs::symlink_metadata(&candidate.path)
            .ok()
            .map(|m| (m.dev(), m.ino()))?,
    };
    Some(Location { dir: dir?, entry })
}

/// The first line of the content as it can be shown: trimmed, lossy, at most 80 characters.
fn first_line(content: &[u8]) -> Line {
    let end = content
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(content.len().min(MAX_READ));
    let text = String::from_utf8_lossy(&content[..end]);
    let text = text.trim_matches([' ', '\t', '\r']);
    if text.chars().nth(80).is_none() {
        return Line::from(text);
    }
    let mut shown: String = text.chars().take(80).collect();
    shown.push('…');
    Line::from(shown)
}
