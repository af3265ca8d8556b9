//! The real holders of a lock: `/proc/locks` names them exactly for POSIX
//! locks only, so flock and OFD holders are found through `/proc/PID/fdinfo`.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;

use super::table::{LockTable, parse_lock_line};
use super::{FileKey, LockInfo, LockKind, LockRecord};

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
