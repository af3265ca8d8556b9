//! The real holders of a lock: `/proc/locks` names them exactly for POSIX
//! locks only, so flock and OFD holders are found through `/proc/PID/fdinfo`.
//!
//! Finding a holder nobody names means looking at every process's
//! descriptors, a cost that grows with the host. A [`HolderCache`] kept
//! across scans remembers what such a walk found, for as long as the same
//! locks are in `/proc/locks` and the holders found still hold them, so that
//! repeated scans of an unchanged system walk once.

use std::collections::{HashMap, HashSet};

use super::bpf;
use super::table::LockTable;
use super::walk::{Held, Proc, dirent_buf};
use super::{FileKey, LockInfo, LockKind};

/// Resolve the lock holders of every locked file among `files` (each with the
/// PID its pidfile names), walking `/proc` at most once: a scan that
/// remembers nothing (see [`HolderCache::resolve`]).
pub fn resolve_all(
    table: &LockTable,
    files: &[(FileKey, Option<i32>)],
) -> HashMap<FileKey, LockInfo> {
    HolderCache::default().resolve(table, files)
}

/// The flock and OFD locks on one file as `/proc/locks` shows them: the file,
/// and each record's kind and PID column (the taker of a flock, -1 for an
/// OFD lock), sorted. While this is unchanged, the same locks are held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LockId {
    key: FileKey,
    records: Vec<(LockKind, i32)>,
}

impl LockId {
    /// The identity of the flock and OFD locks on `key`; `None` when it has none.
    fn of(table: &LockTable, key: FileKey) -> Option<Self> {
        let mut records: Vec<(LockKind, i32)> = table
            .on(key)
            .iter()
            .filter(|r| r.kind != LockKind::Posix)
            .map(|r| (r.kind, r.pid))
            .collect();
        records.sort_unstable_by_key(|&(kind, pid)| (kind as u8, pid));
        (!records.is_empty()).then_some(LockId { key, records })
    }
}

/// What a walk found for one lock, kept while it stays true.
#[derive(Debug, Clone, Default)]
struct Resolved {
    /// The descriptors holding the lock (none: the walk found no holder it
    /// could see; it is not repeated while the lock stays).
    holders: Vec<Held>,
    /// Children of the holders seen not to hold the lock, by PID and start
    /// time: a process that has no descriptor on the lock cannot come to
    /// have one by a fork of its parent.
    cleared: HashSet<(i32, u64)>,
}

/// The holders of flock and OFD locks that only a walk over every process's
/// descriptors could find, kept across scans by lock identity (the file, and
/// the kind and taker PID of each of its records in `/proc/locks`).
///
/// An entry is dropped when its lock leaves `/proc/locks` (or changes) and
/// when one of its holders no longer shows the lock in its `fdinfo` (it
/// exited, or closed the descriptor); the next scan that needs it walks
/// again. Dropping it whole, rather than the one holder, also finds a
/// child that holder forked before it went. A holder that forks after the
/// walk passes the lock to its child: each scan reads the holders'
/// `children` and adds any child whose descriptors hold the lock, so holder
/// lists stay complete. What this does not see until the lock changes or a
/// known holder lets it go: a descriptor passed over a socket to an
/// unrelated process, and the grandchild of a holder whose child (the
/// grandchild's parent) exited between two scans.
#[derive(Debug, Default)]
pub struct HolderCache {
    resolved: HashMap<LockId, Resolved>,
    walks: u64,
}

impl HolderCache {
    /// How many times this cache walked every process's descriptors.
    pub fn walks(&self) -> u64 {
        self.walks
    }

    /// Resolve the lock holders of every locked file among `files` (each
    /// with the PID its pidfile names), walking `/proc` at most once, and
    /// only for locks not resolved before.
    ///
    /// POSIX records name their holder. For flock and OFD records the cheap
    /// candidates are tried first: the PID the file names and the PID that
    /// took the flock. A lock whose holder is still unknown is looked up in
    /// the cache, checked against what holds it now; failing that, the
    /// processes in the process group or session the taker leads are
    /// tried, and the locks still unresolved are resolved together in a
    /// single walk over every process's descriptors.
    pub fn resolve(
        &mut self,
        table: &LockTable,
        files: &[(FileKey, Option<i32>)],
    ) -> HashMap<FileKey, LockInfo> {
        self.resolved
            .retain(|id, _| LockId::of(table, id.key).as_ref() == Some(id));
        let proc = Proc::open();
        let mut found: HashMap<FileKey, (Option<i32>, Vec<i32>)> = HashMap::new();
        let mut unresolved: Vec<LockId> = Vec::new();
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
            if let (Some(id), Some(proc)) = (LockId::of(table, key), &proc) {
                let mut candidates: Vec<i32> = named
                    .into_iter()
                    .chain(id.records.iter().map(|&(_, pid)| pid))
                    .filter(|&p| p > 0)
                    .collect();
                candidates.sort_unstable();
                candidates.dedup();
                let before = holders.len();
                holders.extend(
                    candidates
                        .into_iter()
                        .filter(|&pid| !proc.holds_one(pid, key).is_empty()),
                );
                if holders.len() == before {
                    match self.verified(proc, &id) {
                        Some(pids) => holders.extend(pids),
                        None => unresolved.push(id),
                    }
                }
            }
            found.insert(key, (named, holders));
        }
        if let (false, Some(proc)) = (unresolved.is_empty(), &proc) {
            for (id, resolved) in self.find(proc, unresolved) {
                if let Some((_, holders)) = found.get_mut(&id.key) {
                    holders.extend(resolved.holders.iter().map(|h| h.pid));
                }
                self.resolved.insert(id, resolved);
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

    /// The PIDs holding the lock `id` as found before, if that still holds:
    /// every holder found still shows the lock in its `fdinfo`. Children the
    /// holders forked since, and which hold the lock too, are added. `None`
    /// (and the entry dropped) when the lock was not resolved before or a
    /// holder let it go.
    fn verified(&mut self, proc: &Proc, id: &LockId) -> Option<Vec<i32>> {
        let entry = self.resolved.get_mut(id)?;
        if !entry
            .holders
            .iter()
            .all(|h| proc.shows_lock(h.pid, h.fd, h.key))
        {
            self.resolved.remove(id);
            return None;
        }
        let mut cleared = HashSet::new();
        let mut next = 0;
        while let Some(&holder) = entry.holders.get(next) {
            next += 1;
            for child in proc.children(holder.pid).unwrap_or_default() {
                if entry.holders.iter().any(|h| h.pid == child) {
                    continue;
                }
                let Some(start) = proc.start_time(child) else {
                    continue;
                };
                if entry.cleared.contains(&(child, start)) {
                    cleared.insert((child, start));
                    continue;
                }
                // A fork keeps the descriptor's number: try it before the rest.
                let held = if proc.shows_lock(child, holder.fd, holder.key) {
                    vec![Held {
                        pid: child,
                        ..holder
                    }]
                } else {
                    proc.holds_one(child, holder.key)
                };
                if held.is_empty() {
                    cleared.insert((child, start));
                }
                entry.holders.extend(held);
            }
        }
        entry.holders.sort_unstable();
        entry.cleared = cleared;
        Some(entry.holders.iter().map(|h| h.pid).collect())
    }

    /// Find the holders of the locks `ids`: first among the processes in
    /// the process group or session their takers lead, then, for the locks
    /// still without a holder, in one walk over every process.
    fn find(&mut self, proc: &Proc, ids: Vec<LockId>) -> Vec<(LockId, Resolved)> {
        let pids = proc.pids();
        let keys: Vec<FileKey> = ids.iter().map(|id| id.key).collect();
        let leaders: HashSet<i32> = ids
            .iter()
            .flat_map(|id| id.records.iter().map(|&(_, pid)| pid))
            .filter(|&pid| pid > 0)
            .collect();
        let mut held = Vec::new();
        if !leaders.is_empty() {
            let mut buf = dirent_buf();
            for member in proc.led_by(&pids, &leaders) {
                proc.holds(member, &keys, &mut buf, &mut held);
            }
        }
        let missing: Vec<FileKey> = keys
            .iter()
            .copied()
            .filter(|&key| !held.iter().any(|h| h.key == key))
            .collect();
        if !missing.is_empty() {
            self.walks += 1;
            held.extend(every_holder(proc, &pids, &missing));
        }
        ids.into_iter()
            .map(|id| {
                let mut holders: Vec<Held> =
                    held.iter().copied().filter(|h| h.key == id.key).collect();
                holders.sort_unstable();
                (
                    id,
                    Resolved {
                        holders,
                        cleared: HashSet::new(),
                    },
                )
            })
            .collect()
    }
}

/// Every descriptor of every process that holds a lock on one of `keys`,
/// sorted: the descriptors on them, from a BPF iterator where it can be used
/// (see [`bpf::descriptors_on`]), else from a walk over `pids` in `/proc`,
/// kept when their `fdinfo` shows the lock.
fn every_holder(proc: &Proc, pids: &[i32], keys: &[FileKey]) -> Vec<Held> {
    let Some(found) = bpf::descriptors_on(keys) else {
        return proc.walk(pids, keys);
    };
    let mut held: Vec<Held> = found
        .into_iter()
        .filter(|&(pid, fd, key)| proc.shows_lock(pid, fd, key))
        .map(|(pid, fd, key)| Held { key, pid, fd })
        .collect();
    held.sort_unstable();
    held
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

    #[test]
    fn an_entry_lives_while_its_lock_is_listed_and_its_holder_holds_it() {
        use rustix::fs::{FlockOperation, flock};
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("a.pid")).unwrap();
        flock(&file, FlockOperation::LockExclusive).unwrap();
        let meta = file.metadata().unwrap();
        let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
        // The PID column names a taker that is gone, and leads no group.
        let gone = i32::MAX;
        let line = format!(
            "1: FLOCK  ADVISORY  WRITE {gone} {:02x}:{:02x}:{} 0 EOF\n",
            key.major, key.minor, key.ino
        );
        let table = LockTable::parse(&line);
        let files = [(key, None)];
        let me = std::process::id() as i32;
        let mut cache = HolderCache::default();
        assert_eq!(cache.resolve(&table, &files)[&key].holders, vec![me]);
        assert_eq!((cache.walks(), cache.resolved.len()), (1, 1));
        assert_eq!(cache.resolve(&table, &files)[&key].holders, vec![me]);
        assert_eq!(cache.walks(), 1, "resolved before: no walk");

        // The lock leaves /proc/locks: its entry goes, and a lock listed again is walked for.
        assert!(cache.resolve(&LockTable::default(), &files).is_empty());
        assert!(cache.resolved.is_empty());
        assert_eq!(cache.resolve(&table, &files)[&key].holders, vec![me]);
        assert_eq!(cache.walks(), 2);

        // The holder lets go while the table still lists the lock: walked for again.
        flock(&file, FlockOperation::Unlock).unwrap();
        assert!(cache.resolve(&table, &files)[&key].holders.is_empty());
        assert_eq!(cache.walks(), 3);
    }
}
