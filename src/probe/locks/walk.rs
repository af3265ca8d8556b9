//! Finding the processes whose descriptors hold a lock on a file: one
//! process's descriptors, a process group's, or every process's.
//!
//! Each descriptor is looked at through its `/proc/PID/fd` directory, opened
//! once (`openat` below an open `/proc`): one `getdents64` per buffer of
//! entries, then one `statx` per descriptor relative to that directory, which
//! follows the magic link to the open file. Only a descriptor on one of the
//! files asked about has its `fdinfo` read. The walk over every process
//! splits the PIDs between threads, one per core (at most [`MAX_THREADS`]).

use std::collections::HashSet;
use std::ffi::CStr;
use std::fs::File;
use std::io::Read;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::thread;

use rustix::fs::{AtFlags, Mode, OFlags, RawDir, StatxFlags, openat, statx};

use super::FileKey;
use super::table::parse_lock_line;

/// One descriptor holding a lock: which file, which process, which descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Held {
    /// The locked file.
    pub key: FileKey,
    /// The process holding it.
    pub pid: i32,
    /// The descriptor through which it holds it.
    pub fd: i32,
}

/// Threads the walk over every process uses at most.
const MAX_THREADS: usize = 4;

/// Below this many processes, one thread walks them all: starting another
/// costs more than it saves.
const MIN_PIDS_PER_THREAD: usize = 64;

/// Bytes of directory entries read per `getdents64`.
const DIRENT_BUF: usize = 16 * 1024;

/// `/proc`, open, for the `openat`s below it.
pub(super) struct Proc(OwnedFd);

impl Proc {
    /// Open `/proc`; `None` when it cannot be (no procfs mounted).
    pub(super) fn open() -> Option<Self> {
        openat(
            rustix::fs::CWD,
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(Proc)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Every PID listed in `/proc`, ascending.
    pub(super) fn pids(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut pids: Vec<i32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        pids.sort_unstable();
        pids
    }

    /// The descriptors of `pid` on one of `keys` whose `fdinfo` shows a lock
    /// on that file, appended to `out`. Nothing when its descriptors cannot
    /// be read (it exited, or it is another user's and we are not root).
    pub(super) fn holds(
        &self,
        pid: i32,
        keys: &[FileKey],
        buf: &mut [MaybeUninit<u8>],
        out: &mut Vec<Held>,
    ) {
        let Ok(dir) = openat(
            self.fd(),
            format!("{pid}/fd"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        let mut entries = RawDir::new(&dir, buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            // statx follows the magic link to the open file, even one removed
            // since. AT_STATX_DONT_SYNC answers from cached attributes, so a
            // descriptor on a hung NFS or FUSE mount cannot make this wait.
            let Ok(st) = statx(&dir, name, AtFlags::STATX_DONT_SYNC, StatxFlags::INO) else {
                continue;
            };
            let key = FileKey {
                major: st.stx_dev_major,
                minor: st.stx_dev_minor,
                ino: st.stx_ino,
            };
            if !keys.contains(&key) {
                continue;
            }
            let Some(fd) = fd_number(name) else { continue };
            if self.shows_lock(pid, fd, key) {
                out.push(Held { key, pid, fd });
            }
        }
    }

    /// The descriptors of one process holding a lock on `key`.
    pub(super) fn holds_one(&self, pid: i32, key: FileKey) -> Vec<Held> {
        let mut buf = dirent_buf();
        let mut out = Vec::new();
        self.holds(pid, &[key], &mut buf, &mut out);
        out
    }

    /// Does `/proc/PID/fdinfo/FD` show a lock on `key`? This is the proof
    /// that `pid` holds it through `fd`, whatever `/proc/locks` names.
    pub(super) fn shows_lock(&self, pid: i32, fd: i32, key: FileKey) -> bool {
        let Ok(info) = openat(
            self.fd(),
            format!("{pid}/fdinfo/{fd}"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return false;
        };
        let mut text = String::new();
        File::from(info).read_to_string(&mut text).is_ok()
            && text
                .lines()
                .filter_map(|l| l.strip_prefix("lock:"))
                .filter_map(parse_lock_line)
                .any(|r| r.key == key)
    }

    /// The process group and session of `pid`, `None` when it is gone: two
    /// system calls, where `/proc/PID/stat` would cost the kernel much more.
    fn group_and_session(&self, pid: i32) -> Option<(i32, i32)> {
        let pid = nix::unistd::Pid::from_raw(pid);
        let group = nix::unistd::getpgid(Some(pid)).ok()?;
        let session = nix::unistd::getsid(Some(pid)).ok()?;
        Some((group.as_raw(), session.as_raw()))
    }

    /// The start time of `pid` (field 22 of `/proc/PID/stat`), `None` when it is gone.
    pub(super) fn start_time(&self, pid: i32) -> Option<u64> {
        let text = self.read_small(&format!("{pid}/stat"))?;
        text.rsplit_once(')')?
            .1
            .split_ascii_whitespace()
            .nth(19)?
            .parse()
            .ok()
    }

    /// The direct children of `pid`, from every one of its threads'
    /// `children` file; `None` when they cannot be read (the process is gone,
    /// or the kernel lacks `CONFIG_PROC_CHILDREN`).
    pub(super) fn children(&self, pid: i32) -> Option<Vec<i32>> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut children = Vec::new();
        for task in tasks.flatten() {
            let name = task.file_name();
            let text = self.read_small(&format!("{pid}/task/{}/children", name.to_str()?))?;
            children.extend(
                text.split_ascii_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
        Some(children)
    }

    fn read_small(&self, path: &str) -> Option<String> {
        let fd = openat(
            self.fd(),
            path,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut text = String::new();
        File::from(fd).read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// The processes whose process group or session is one of `leaders`
    /// (a daemon's children keep the group of the daemon that started them,
    /// even after it exits), among `pids`.
    pub(super) fn led_by(&self, pids: &[i32], leaders: &HashSet<i32>) -> Vec<i32> {
        pids.iter()
            .copied()
            .filter(|&pid| {
                self.group_and_session(pid)
                    .is_some_and(|(g, s)| leaders.contains(&g) || leaders.contains(&s))
            })
            .collect()
    }

    /// Every descriptor of every process in `pids` that holds a lock on one
    /// of `keys`, sorted. The PIDs are shared out between threads, one per
    /// core.
    pub(super) fn walk(&self, pids: &[i32], keys: &[FileKey]) -> Vec<Held> {
        let cores = crate::cores::processors();
        let threads = cores
            .min(MAX_THREADS)
            .min(pids.len() / MIN_PIDS_PER_THREAD)
            .max(1);
        let part = &|first: usize| {
            let mut buf = dirent_buf();
            let mut out = Vec::new();
            for &pid in pids.iter().skip(first).step_by(threads) {
                self.holds(pid, keys, &mut buf, &mut out);
            }
            out
        };
        let mut held = thread::scope(|s| {
            let others: Vec<_> = (1..threads).map(|t| s.spawn(move || part(t))).collect();
            let mut held = part(0);
            for other in others {
                held.extend(
                    other
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            held
        });
        held.sort_unstable();
        held
    }
}

/// A buffer for [`RawDir`].
pub(super) fn dirent_buf() -> Vec<MaybeUninit<u8>> {
    vec![MaybeUninit::uninit(); DIRENT_BUF]
}

/// A descriptor's number from its name in `/proc/PID/fd`.
fn fd_number(name: &CStr) -> Option<i32> {
    name.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn finds_a_flock_this_process_holds_and_only_through_the_locked_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let locked = File::create(dir.path().join("a.pid")).unwrap();
        let other = File::open(dir.path().join("a.pid")).unwrap();
        rustix::fs::flock(&locked, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let meta = locked.metadata().unwrap();
        let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
        let proc = Proc::open().unwrap();
        let me = std::process::id() as i32;
        let held = proc.holds_one(me, key);
        use std::os::fd::AsRawFd;
        assert_eq!(
            held,
            vec![Held {
                key,
                pid: me,
                fd: locked.as_raw_fd()
            }]
        );
        assert!(!proc.shows_lock(me, other.as_raw_fd(), key));
        assert!(proc.walk(&proc.pids(), &[key]).contains(&held[0]));
        assert!(proc.start_time(me).is_some());
        assert!(proc.group_and_session(me).is_some());
    }
}
