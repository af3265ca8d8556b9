//! Who holds a lock on a pidfile, from `/proc/locks` and `/proc/PID/fdinfo`.
//!
//! `/proc/locks` is read once per scan. Its PID column is exact for POSIX
//! locks only: for `flock` it is whoever took the lock (it stays after that
//! process exits while a forked child keeps the descriptor) and for OFD locks
//! it is -1. The real holders of those are the processes with a descriptor on
//! the file whose `fdinfo` shows the lock; they are looked up only when the
//! PID column does not already settle the question. Inspection never takes a lock.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::Serialize;

/// The kind of advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// BSD `flock(2)`, owned by an open file description.
    Flock,
    /// POSIX `fcntl(F_SETLK)`/`lockf`, owned by a process.
    Posix,
    /// Open-file-description `fcntl(F_OFD_SETLK)`.
    Ofd,
}

/// A file's identity as `/proc/locks` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Inode number.
    pub ino: u64,
}

impl FileKey {
    /// The key of a file from its `st_dev` and `st_ino`.
    pub fn from_dev_ino(dev: u64, ino: u64) -> Self {
        FileKey {
            major: libc::major(dev),
            minor: libc::minor(dev),
            ino,
        }
    }
}

/// One granted lock (waiters, the `->` lines, are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRecord {
    /// flock, POSIX or OFD.
    pub kind: LockKind,
    /// The PID column: exact for POSIX, the taker for flock, -1 for OFD.
    pub pid: i32,
    /// Which file.
    pub key: FileKey,
}

/// Parse one line of `/proc/locks` (or the part of an fdinfo `lock:` line after the tab).
///
/// `1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF`; `2: -> POSIX ...` is a waiter
/// and yields `None`, as does anything unparseable.
pub fn parse_lock_line(line: &str) -> Option<LockRecord> {
    let mut fields = line.split_ascii_whitespace();
    fields.next()?; // "N:"
    let kind = match fields.next()? {
        "FLOCK" => LockKind::Flock,
        "POSIX" => LockKind::Posix,
        "OFDLCK" => LockKind::Ofd,
        _ => return None, // a waiter ("->"), LEASE, DELEG...
    };
    let _advisory = fields.next()?;
    let _mode = fields.next()?;
    let pid = fields.next()?.parse().ok()?;
    let mut dev = fields.next()?.split(':');
    let major = u32::from_str_radix(dev.next()?, 16).ok()?;
    let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
    let ino = dev.next()?.parse().ok()?;
    Some(LockRecord {
        kind,
        pid,
        key: FileKey { major, minor, ino },
    })
}

/// The locks of the whole system at one moment, indexed by file.
#[derive(Debug, Default)]
pub struct LockTable {
    by_file: HashMap<FileKey, Vec<LockRecord>>,
}

impl LockTable {
    /// Read `/proc/locks`. An unreadable table is empty: lock details are then unknown.
    pub fn read() -> Self {
        fs::read_to_string("/proc/locks")
            .map(|t| Self::parse(&t))
            .unwrap_or_default()
    }

    /// Build from the text of `/proc/locks`.
    pub fn parse(text: &str) -> Self {
        let mut by_file: HashMap<FileKey, Vec<LockRecord>> = HashMap::new();
        for record in text.lines().filter_map(parse_lock_line) {
            by_file.entry(record.key).or_default().push(record);
        }
        LockTable { by_file }
    }

    /// The granted locks on one file.
    pub fn on(&self, key: FileKey) -> &[LockRecord] {
        self.by_file.get(&key).map_or(&[], Vec::as_slice)
    }
}

/// Who holds the locks on one pidfile, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    /// The holder that matters: the PID the file names when it holds the lock, else the first holder found.
    /// `None` when the holder could not be determined (an OFD lock whose holder's fdinfo is not readable).
    pub holder_pid: Option<i32>,
    /// The kind of the lock.
    pub kind: LockKind,
    /// Every process found holding a lock on the file.
    pub holders: Vec<i32>,
}

/// Resolve the lock holders of every locked file among `files` (each with the
/// PID its pidfile names), walking `/proc` at most once per scan.
///
/// POSIX records name their holder. For flock and OFD records the cheap
/// candidates are tried first: the PID the file names and the PID that took
/// the flock. Files whose holder is still unknown are resolved together in a
/// single pass over every process's descriptors.
pub fn resolve_all(
    table: &LockTable,
    files: &[(FileKey, Option<i32>)],
) -> HashMap<FileKey, LockInfo> {
    let mut found: HashMap<FileKey, (Option<i32>, Vec<i32>)> = HashMap::new();
    let mut unresolved: Vec<FileKey> = Vec::new();
    for &(key, named) in files {
        let records = table.on(key);
        if records.is_empty() || found.contains_key(&key) {
            continue;
        }
        let mut holders: Vec<i32> = records
            .iter()
            .filter(|r| r.kind == LockKind::Posix && r.pid > 0)
            .map(|r| r.pid)
            .collect();
        let shared: Vec<&LockRecord> = records
            .iter()
            .filter(|r| r.kind != LockKind::Posix)
            .collect();
        if !shared.is_empty() {
            let mut candidates: Vec<i32> = named
                .into_iter()
                .chain(shared.iter().map(|r| r.pid))
                .filter(|&p| p > 0)
                .collect();
            candidates.dedup();
            let before = holders.len();
            holders.extend(candidates.into_iter().filter(|&pid| holds_via_fd(pid, key)));
            if holders.len() == before {
                unresolved.push(key);
            }
        }
        found.insert(key, (named, holders));
    }
    if !unresolved.is_empty() {
        for (key, pid) in fd_holders(&unresolved) {
            if let Some((_, holders)) = found.get_mut(&key) {
                holders.push(pid);
            }
        }
    }
    found
        .into_iter()
        .map(|(key, (named, mut holders))| {
            holders.sort_unstable();
            holders.dedup();
            let records = table.on(key);
            let holder_pid = match named {
                Some(pid) if holders.contains(&pid) => Some(pid),
                _ => holders
                    .first()
                    .copied()
                    .or_else(|| records.iter().map(|r| r.pid).find(|&p| p > 0)),
            };
            let kind = records[0].kind;
            (
                key,
                LockInfo {
                    holder_pid,
                    kind,
                    holders,
                },
            )
        })
        .collect()
}

/// Does `pid` have a descriptor on the file whose fdinfo shows a lock on it?
fn holds_via_fd(pid: i32, key: FileKey) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        // stat() follows the magic link to the open file: cheaper than reading every fdinfo.
        let on_file =
            fs::metadata(fd.path()).is_ok_and(|m| FileKey::from_dev_ino(m.dev(), m.ino()) == key);
        on_file && fdinfo_has_lock(pid, &fd.file_name().to_string_lossy(), key)
    })
}

fn fdinfo_has_lock(pid: i32, fd: &str, key: FileKey) -> bool {
    fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).is_ok_and(|info| {
        info.lines()
            .filter_map(|l| l.strip_prefix("lock:"))
            .filter_map(parse_lock_line)
            .any(|r| r.key == key)
    })
}

/// Every (file, process) pair where the process holds a flock or OFD lock on
/// one of `keys`: one walk over `/proc/*/fd`.
fn fd_holders(keys: &[FileKey]) -> Vec<(FileKey, i32)> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for pid in procs
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
    {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
            if keys.contains(&key) && fdinfo_has_lock(pid, &fd.file_name().to_string_lossy(), key) {
                pairs.push((key, pid));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_skips_waiters() {
        let text = "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 99 fd:01:42 0 EOF\n\
                    2: -> POSIX  ADVISORY  WRITE 100 fd:01:42 0 EOF\n\
                    3: OFDLCK ADVISORY  READ  -1 00:1a:77 0 EOF\n\
                    4: LEASE  ACTIVE    READ  5 00:1a:78 0 EOF\n";
        let table = LockTable::parse(text);
        let flock = table.on(FileKey {
            major: 0,
            minor: 0x1a,
            ino: 5678,
        });
        assert_eq!(flock.len(), 1);
        assert_eq!((flock[0].kind, flock[0].pid), (LockKind::Flock, 1234));
        let posix = table.on(FileKey {
            major: 0xfd,
            minor: 1,
            ino: 42,
        });
        assert_eq!(posix.len(), 1, "the waiter is not a holder");
        assert_eq!(posix[0].pid, 99);
        let ofd = table.on(FileKey {
            major: 0,
            minor: 0x1a,
            ino: 77,
        });
        assert_eq!((ofd[0].kind, ofd[0].pid), (LockKind::Ofd, -1));
        assert!(
            table
                .on(FileKey {
                    major: 0,
                    minor: 0x1a,
                    ino: 78
                })
                .is_empty()
        );
    }

    #[test]
    fn posix_holders_come_from_the_table() {
        let table = LockTable::parse("1: POSIX  ADVISORY  WRITE 4321 08:01:9 0 EOF\n");
        let key = FileKey {
            major: 8,
            minor: 1,
            ino: 9,
        };
        let unlocked = FileKey {
            major: 8,
            minor: 1,
            ino: 10,
        };
        let infos = resolve_all(&table, &[(key, Some(77)), (unlocked, Some(77))]);
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[&key].holder_pid, Some(4321));
        assert_eq!(infos[&key].holders, vec![4321]);
    }
}
