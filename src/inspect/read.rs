//! Reading one candidate: its content parsed, its first line, and where it sits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Cached;
use super::beside::Peeked;
use crate::probe::process::{Claimed, Sightings};
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
/// directory's descriptor in `parent`, keeping the file open in `held`, if
/// given, once read. `None` when it vanished between the walk and the read.
pub(super) fn read_candidate(
    parent: &mut Parent,
    candidate: &Candidate,
    pid_max: u32,
    held: Option<&mut Vec<std::fs::File>>,
) -> Option<ReadPidfile> {
    let read = match read_pidfile_in(parent, &candidate.path, candidate.kind, held) {
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

/// A candidate, with the previous scan's reading of it when still true
/// (boxed: most candidates have none, and all wait in line at once).
pub(super) type Job = (Candidate, Option<Box<Cached>>);

/// A candidate once looked at: the previous scan's reading of it, or what
/// reading it now gave (`None`: it vanished).
pub(super) enum Done {
    Cached(Box<Cached>),
    Read(Option<ReadPidfile>),
}

/// How many threads read beside the scanning one: one less than the
/// processors this process may use, at most three.
pub(super) fn read_helpers() -> usize {
    crate::cores::processors().min(4) - 1
}

/// One slice once looked at: each candidate in order, the PIDs they name,
/// sighted, and what a peek at their locks saw.
pub(super) type SliceDone = (Vec<(Candidate, Done)>, Sightings, Peeked);

/// Read the candidates of one slice that the cache did not answer, in
/// order, then sight the PIDs the slice names: on the thread that read
/// them, while the other threads read theirs.
pub(super) fn read_slice(
    parent: &mut Parent,
    slice: Vec<Job>,
    (pid_max, peek): (u32, bool),
    claimed: &Claimed,
) -> SliceDone {
    let mut held = Vec::new();
    let mut peeked = Peeked::starting(peek);
    let done: Vec<(Candidate, Done)> = slice
        .into_iter()
        .map(|(candidate, hit)| {
            let done = match hit {
                Some(hit) => Done::Cached(hit),
                None => {
                    let before = held.len();
                    let read =
                        read_candidate(parent, &candidate, pid_max, peek.then_some(&mut held));
                    peeked.all &= held.len() > before;
                    Done::Read(read)
                }
            };
            peeked.all &= matches!(done, Done::Read(_));
            (candidate, done)
        })
        .collect();
    let mut pids: Vec<i32> = done
        .iter()
        .filter_map(|(_, done)| match done {
            Done::Cached(hit) => hit.content.pid(),
            Done::Read(read) => read.as_ref().and_then(|r| r.content.pid()),
        })
        .collect();
    if peek {
        peeked.locked = Peeked::any_locked(&held);
    }
    // Closed here, on the thread that read them.
    drop(held);
    let sightings = Sightings::sight(&mut pids, claimed);
    (done, sightings, peeked)
}
