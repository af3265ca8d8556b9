//! Whether any file this process has open is locked, asked of the kernel
//! without `/proc/locks`.
//!
//! Every reader of `/proc/locks` waits for an RCU grace period (the kernel
//! takes its file-lock semaphore for writing): 6 ms on an idle machine here,
//! 10 to 20 while both processors are busy with a scan's reads, longer than
//! the whole scan of a thousand pidfiles. Most scans find no lock at all. A
//! BPF iterator over this process's own descriptors (`bpf_iter_task_file`
//! with a PID, Linux 6.1 and later) reads each open file's lock context
//! instead, under no lock of the kernel's: a scan that holds its pidfiles
//! open while it peeks learns that none of them is locked, and then needs
//! no table of locks. When one is, the table is read as before.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use super::asm::{PEEK_FDS, PEEK_WORDS, assemble_peek};
use super::map::OneValue;
use super::{
    IterCreateAttr, LinkCreateAttr, SWITCH, TaskFilter, allowed, bpf, capable, layout, load,
};

/// The lock peek, ready to run: its iterator link over this process's
/// files, and the map its program leaves the answer in.
#[derive(Debug)]
pub struct Peek {
    link: OwnedFd,
    /// One peek at a time: each clears the answer, runs the program and
    /// reads what it left (the program's map is loaded when the peek is
    /// made).
    answer: Mutex<OneValue>,
    /// The process whose files the link iterates: a child forked without
    /// an exec has other files, and its peeks fail.
    pid: u32,
}

impl Peek {
    /// The peek for this process, made once (`None` when BPF cannot be used
    /// here, as for the holder search, or with `PIDSCOPE_BPF=0`).
    pub fn get() -> Option<&'static Peek> {
        static PEEK: OnceLock<Option<Peek>> = OnceLock::new();
        PEEK.get_or_init(|| Peek::prepare().ok()).as_ref()
    }

    /// Load the program and attach it to this process's files.
    fn prepare() -> Result<Peek, String> {
        if !allowed() {
            return Err(format!("{SWITCH}=0"));
        }
        if !capable() {
            return Err("needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN".into());
        }
        let layout = layout().ok_or("no usable kernel BTF")?;
        let answer = OneValue::create("pidscope_peek", PEEK_WORDS)
            .map_err(|e| format!("making the map: {e}"))?;
        let prog = assemble_peek(&layout, answer.raw_fd()).ok_or("an offset out of reach")?;
        let prog = load(&layout, &prog, false)?;
        let filter = TaskFilter {
            pid: std::process::id(),
            ..TaskFilter::default()
        };
        let link = bpf(&mut LinkCreateAttr::new(&prog, Some(&filter)))
            .map_err(|e| format!("attaching the program: {e}"))?;
        Ok(Peek {
            link,
            answer: Mutex::new(answer),
            pid: filter.pid,
        })
    }

    /// The descriptors of this process open on a file that has a lock of
    /// any kind (taken through any descriptor of any process), as the
    /// kernel's lock contexts show them at this moment.
    pub fn locked_descriptors(&self) -> io::Result<Vec<i32>> {
        if std::process::id() != self.pid {
            return Err(io::Error::other("made for another process"));
        }
        let mut bits = [0u64; PEEK_WORDS];
        {
            let answer = self
                .answer
                .lock()
                .map_err(|_| io::Error::other("a peek panicked"))?;
            answer.set(&mut bits)?;
            let iter = bpf(&mut IterCreateAttr {
                link_fd: self.link.as_raw_fd() as u32,
                flags: 0,
            })?;
            File::from(iter).read_to_end(&mut Vec::new())?;
            answer.get(&mut bits)?;
        }
        let (low, high) = bits.split_at(PEEK_WORDS - 1);
        if high[0] != 0 {
            return Err(io::Error::other(format!(
                "a locked descriptor above {PEEK_FDS}"
            )));
        }
        Ok((0..PEEK_FDS)
            .filter(|fd| low[fd / 64] & (1 << (fd % 64)) != 0)
            .map(|fd| fd as i32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::path::Path;

    use super::super::btf;
    use super::*;
    use crate::fixture::in_ci;

    /// The peek, which must be there under CI (root, kernel BTF, Linux 6.1
    /// or later); `None` elsewhere when it cannot be, and the test skips.
    fn peek() -> Option<&'static Peek> {
        let usable = nix::unistd::geteuid().is_root() && Path::new(btf::VMLINUX).exists();
        assert!(
            usable || !in_ci(),
            "cannot be skipped under CI: needs root and kernel BTF"
        );
        if !usable {
            eprintln!("skipped: needs root and {}", btf::VMLINUX);
            return None;
        }
        Some(Peek::get().expect("the lock peek on this kernel"))
    }

    fn posix(fd: std::os::fd::BorrowedFd<'_>, cmd: i32) {
        let mut lock = super::super::super::whole_file_write_lock();
        // SAFETY: fcntl on an open descriptor, writing only into `lock`.
        assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), cmd, &mut lock) }, 0);
    }

    #[test]
    fn the_kernel_layout_is_kept_for_this_boot() {
        if peek().is_none() {
            return;
        }
        let kept = super::super::super::btf_cache::load();
        assert!(kept.is_some(), "no layout in the boot's cache");
        assert_eq!(kept, super::super::layout(), "the one this process uses");
    }

    #[test]
    fn sees_every_kind_of_lock_on_an_open_file_and_none_on_the_others() {
        let Some(peek) = peek() else { return };
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(dir.path().join(name))
                .unwrap()
        };
        let (plain, flocked, posix_locked, ofd_locked) =
            (open("plain"), open("flock"), open("posix"), open("ofd"));
        // Each lock is taken through a second descriptor: the peek reports
        // whichever descriptor is open on a locked file.
        let (f2, p2, o2) = (open("flock"), open("posix"), open("ofd"));
        let before = peek.locked_descriptors().unwrap();
        for file in [&plain, &flocked, &posix_locked, &ofd_locked] {
            assert!(!before.contains(&file.as_raw_fd()), "{before:?}");
        }
        rustix::fs::flock(&f2, rustix::fs::FlockOperation::LockExclusive).unwrap();
        posix(p2.as_fd(), libc::F_SETLK);
        posix(o2.as_fd(), libc::F_OFD_SETLK);
        let after = peek.locked_descriptors().unwrap();
        for file in [&flocked, &posix_locked, &ofd_locked, &f2, &p2, &o2] {
            assert!(after.contains(&file.as_raw_fd()), "{after:?}");
        }
        assert!(!after.contains(&plain.as_raw_fd()), "{after:?}");
        drop((f2, p2, o2));
        // Closing the descriptors that took them released all three.
        let released = peek.locked_descriptors().unwrap();
        for file in [&plain, &flocked, &posix_locked, &ofd_locked] {
            assert!(!released.contains(&file.as_raw_fd()), "{released:?}");
        }
        // (In this test: another peeking at the same time would fail too.)
        a_locked_descriptor_beyond_the_bits_fails_the_peek(peek, &flocked);
    }

    /// The answer has a bit for each descriptor below 1,024: one above,
    /// locked, makes the peek fail (and the scan read the table).
    fn a_locked_descriptor_beyond_the_bits_fails_the_peek(peek: &Peek, file: &File) {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let high = PEEK_FDS as u64 + 100;
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current.is_some_and(|c| c <= high) {
            assert!(
                limit.maximum.is_none_or(|m| m > high),
                "a hard limit below {high}"
            );
            limit.current = Some(high + 1);
            setrlimit(Resource::Nofile, limit).unwrap();
        }
        let far = rustix::io::fcntl_dupfd_cloexec(file, high as i32).unwrap();
        assert!(far.as_raw_fd() >= PEEK_FDS as i32);
        assert!(peek.locked_descriptors().is_ok(), "not locked yet");
        rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let err = peek.locked_descriptors().unwrap_err();
        assert!(err.to_string().contains("above 1024"), "{err}");
        drop(far);
        let near = peek.locked_descriptors().unwrap();
        assert!(near.contains(&file.as_raw_fd()), "{near:?}");
    }
}
