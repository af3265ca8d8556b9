//! Every descriptor open on some files, found in one pass in the kernel: a
//! BPF iterator over every task's open files (`bpf_iter_task_file`, Linux
//! 5.8 and later) runs a small program, assembled here for the files asked
//! about, that writes a record for each descriptor on one of them. Reading
//! the iterator runs it; no descriptor is looked at through `/proc`.
//!
//! The program reads `file->f_inode->i_ino` and `->i_sb->s_dev`, the very
//! fields `/proc/locks` prints, at the offsets the kernel's BTF gives (see
//! [`super::btf`]). Loading it needs `CAP_BPF` and `CAP_PERFMON` (or
//! `CAP_SYS_ADMIN`); without them, or on a kernel without BTF or the
//! iterator, [`descriptors_on`] says `None` and the caller walks `/proc`.

use std::ffi::{CStr, c_int};
use std::fs::File;
use std::io::{self, Read};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

mod asm;
mod map;
pub mod peek;

use self::asm::{Insn, RECORD, assemble};
use super::FileKey;
use super::btf::{self, Layout};
use super::btf_cache;

/// Files one program can look for: each costs about four instructions, and
/// every jump must stay within an instruction's 16-bit offset.
const MAX_KEYS: usize = 4096;

/// `BPF_PROG_TYPE_TRACING`.
const PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_ITER`, the expected attach type and the link's attach type.
const TRACE_ITER: u32 = 28;
const CMD_PROG_LOAD: c_int = 5;
const CMD_LINK_CREATE: c_int = 28;
const CMD_ITER_CREATE: c_int = 33;

/// Every (pid, fd) whose open file is one of `keys`, found by a BPF iterator
/// over every task's files, sorted and without duplicates: the PID is the
/// thread group's (a thread with a file table of its own counts as its
/// process). `None` when BPF cannot be used here: not root (or without
/// `CAP_BPF` and `CAP_PERFMON`), no `/sys/kernel/btf/vmlinux`, a kernel
/// without `task_file` iterators, a verifier refusal, more than 4,096 keys,
/// a PID namespace other than the kernel's first, or any other error.
/// `PIDSCOPE_BPF=0` in the environment turns it off (`None`): an operator
/// who wants no BPF program loaded, whatever the audit log would say of it.
pub(super) fn descriptors_on(keys: &[FileKey]) -> Option<Vec<(i32, i32, FileKey)>> {
    if !allowed() {
        return None;
    }
    find(keys, false).ok()
}

/// The environment variable that turns the iterator off when `0`.
const SWITCH: &str = "PIDSCOPE_BPF";

/// Whether BPF programs may be loaded: not with `PIDSCOPE_BPF=0` in the environment.
pub fn allowed() -> bool {
    std::env::var_os(SWITCH).is_none_or(|v| v != "0")
}

/// [`descriptors_on`], saying why it failed; with `log`, a refused program
/// is loaded again to get the verifier's log into the error.
fn find(keys: &[FileKey], log: bool) -> Result<Vec<(i32, i32, FileKey)>, String> {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("{} files, more than {MAX_KEYS}", keys.len()));
    }
    if !capable() {
        return Err("needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN".into());
    }
    let layout = layout().ok_or("no usable kernel BTF")?;
    let prog = assemble(&layout, &keys).ok_or("a program too long")?;
    let prog = load(&layout, &prog, log)?;
    let records = iterate(&prog).map_err(|e| format!("reading the iterator: {e}"))?;
    parse(&records, &keys)
}

/// Whether this process has the capabilities loading a tracing program takes
/// (from `CapEff` in `/proc/self/status`), checked before the BTF is read.
fn capable() -> bool {
    const SYS_ADMIN: u32 = 21;
    const PERFMON: u32 = 38;
    const BPF: u32 = 39;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let Some(eff) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    else {
        return false;
    };
    let has = |cap: u32| eff & (1 << cap) != 0;
    has(SYS_ADMIN) || (has(BPF) && has(PERFMON))
}

/// This kernel's layout, read once per process: from what an earlier one
/// kept for this boot, else from the BTF (and then kept).
fn layout() -> Option<Layout> {
    static LAYOUT: OnceLock<Option<Layout>> = OnceLock::new();
    *LAYOUT.get_or_init(|| {
        btf_cache::load().or_else(|| {
            let layout = btf::layout(&btf::Blob::open(btf::VMLINUX)?)?;
            btf_cache::store(&layout);
            Some(layout)
        })
    })
}

/// The leading part of `union bpf_attr` for `BPF_PROG_LOAD`, up to
/// `core_relo_cnt` (`attach_btf_obj_fd` 0: the BTF id is vmlinux's); no
/// padding, implicit or not.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr<'a> {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_btf_obj_fd: u32,
    core_relo_cnt: u32,
    /// The instructions, licence and log buffer the addresses above name.
    borrows: PhantomData<&'a mut [u8]>,
}

/// The leading part of `union bpf_attr` for `BPF_LINK_CREATE` of a task
/// iterator link: over every task, or those a [`TaskFilter`] names.
#[repr(C)]
struct LinkCreateAttr<'a> {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    iter_info: u64,
    iter_info_len: u32,
    pad: u32,
    /// The filter `iter_info` names, if any.
    borrows: PhantomData<&'a TaskFilter>,
}

/// `union bpf_iter_link_info` for a task iterator: one process's tasks
/// (`pid`), the other members unused.
#[repr(C)]
#[derive(Default)]
struct TaskFilter {
    tid: u32,
    pid: u32,
    pid_fd: u32,
    /// The union's size is its largest member's, 16 bytes.
    pad: u32,
}

impl<'a> LinkCreateAttr<'a> {
    /// Attach `prog` as a task iterator over every task, or `filter`'s.
    fn new(prog: &OwnedFd, filter: Option<&'a TaskFilter>) -> Self {
        LinkCreateAttr {
            prog_fd: prog.as_raw_fd() as u32,
            target_fd: 0,
            attach_type: TRACE_ITER,
            flags: 0,
            iter_info: filter.map_or(0, |f| f as *const TaskFilter as u64),
            iter_info_len: filter.map_or(0, |_| size_of::<TaskFilter>() as u32),
            pad: 0,
            borrows: PhantomData,
        }
    }
}

/// `union bpf_attr` for `BPF_ITER_CREATE`.
#[repr(C)]
#[derive(Default)]
struct IterCreateAttr {
    link_fd: u32,
    flags: u32,
}

const _: () = assert!(size_of::<ProgLoadAttr<'_>>() == 120);
const _: () = assert!(size_of::<LinkCreateAttr<'_>>() == 32);
const _: () = assert!(size_of::<TaskFilter>() == 16);
const _: () = assert!(size_of::<IterCreateAttr>() == 8);

/// An attribute block for one `bpf(2)` command.
///
/// # Safety
/// Implementors are `#[repr(C)]`, without implicit padding, laid out as the
/// leading part of `union bpf_attr` for `CMD`; every address they hold
/// points to memory that lives (and, for a log buffer, is writable) as long
/// as the value.
unsafe trait Command {
    const CMD: c_int;
}

/// A [`Command`] that returns a new descriptor.
trait MakesFd: Command {}

impl MakesFd for ProgLoadAttr<'_> {}
impl MakesFd for LinkCreateAttr<'_> {}
impl MakesFd for IterCreateAttr {}

// SAFETY: the layout above is the kernel's for BPF_PROG_LOAD, 120 bytes with
// no implicit padding; a value is only made by `ProgLoadAttr::new`, whose
// addresses come from borrows of lifetime 'a (the log buffer's mutable).
unsafe impl Command for ProgLoadAttr<'_> {
    const CMD: c_int = CMD_PROG_LOAD;
}

// SAFETY: the kernel's layout for BPF_LINK_CREATE, 32 bytes, `pad` explicit;
// a value is only made by `LinkCreateAttr::new`, whose `iter_info` is 0 or
// the address of a `TaskFilter` borrowed for 'a, the value's lifetime.
unsafe impl Command for LinkCreateAttr<'_> {
    const CMD: c_int = CMD_LINK_CREATE;
}

// SAFETY: the kernel's layout for BPF_ITER_CREATE, two u32, no address.
unsafe impl Command for IterCreateAttr {
    const CMD: c_int = CMD_ITER_CREATE;
}

/// Run `bpf(T::CMD, attr)`; what it returns.
fn call<T: Command>(attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, fully initialised value of `size_of::<T>()`
    // bytes laid out as the kernel expects for T::CMD (the `Command`
    // contract), and every address in it points to memory that outlives this
    // call; the kernel reads at most that many bytes and writes only into
    // the buffers it names (a log, a map value), within their sizes.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, T::CMD, attr as *mut T, size_of::<T>()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Run `bpf(T::CMD, attr)`; the descriptor it makes.
fn bpf<T: MakesFd>(attr: &mut T) -> io::Result<OwnedFd> {
    let fd = call(attr)?;
    // SAFETY: these commands return a new descriptor on success, which
    // nothing else owns or closes.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

impl<'a> ProgLoadAttr<'a> {
    /// The attributes loading `prog` as an iterator program on the function
    /// `attach_btf_id`, with a verifier log into `log` unless it is empty.
    fn new(prog: &'a [Insn], attach_btf_id: u32, log: &'a mut [u8]) -> Self {
        const LICENSE: &CStr = c"GPL";
        let mut prog_name = [0u8; 16];
        prog_name[..12].copy_from_slice(b"pidscope_fds");
        ProgLoadAttr {
            prog_type: PROG_TYPE_TRACING,
            insn_cnt: prog.len() as u32,
            insns: prog.as_ptr() as u64,
            license: LICENSE.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            prog_name,
            expected_attach_type: TRACE_ITER,
            attach_btf_id,
            ..ProgLoadAttr::default()
        }
    }
}

/// Load `prog`; when the kernel refuses it and `log` is set, load it again
/// with a log buffer and put the verifier's log in the error.
fn load(layout: &Layout, prog: &[Insn], log: bool) -> Result<OwnedFd, String> {
    let error = match bpf(&mut ProgLoadAttr::new(prog, layout.iter_func, &mut [])) {
        Ok(fd) => return Ok(fd),
        Err(e) => format!("loading the program: {e}"),
    };
    if !log {
        return Err(error);
    }
    let mut buf = vec![0u8; 1 << 20];
    let _ = bpf(&mut ProgLoadAttr::new(prog, layout.iter_func, &mut buf));
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Err(format!("{error}\n{}", String::from_utf8_lossy(&buf[..end])))
}

/// Attach `prog` to every task's files and read the iterator to its end.
fn iterate(prog: &OwnedFd) -> io::Result<Vec<u8>> {
    let link = bpf(&mut LinkCreateAttr::new(prog, None))?;
    let iter = bpf(&mut IterCreateAttr {
        link_fd: link.as_raw_fd() as u32,
        flags: 0,
    })?;
    let mut out = Vec::with_capacity(16 * 1024);
    File::from(iter).read_to_end(&mut out)?;
    Ok(out)
}

/// The descriptors in the iterator's output, sorted, without duplicates;
/// an error when the records were written for a reader numbered otherwise
/// than this process sees itself (a PID namespace below the first: the
/// program's PIDs would not be this process's).
fn parse(records: &[u8], keys: &[FileKey]) -> Result<Vec<(i32, i32, FileKey)>, String> {
    if !records.len().is_multiple_of(RECORD) {
        return Err(format!("{} bytes of records", records.len()));
    }
    let u32_at = |r: &[u8], at: usize| u32::from_ne_bytes(bytes(r, at));
    let u64_at = |r: &[u8], at: usize| u64::from_ne_bytes(bytes(r, at));
    let me = std::process::id();
    let mut found = Vec::with_capacity(records.len() / RECORD);
    for r in records.chunks_exact(RECORD) {
        if u32_at(r, 20) != me {
            return Err("another PID namespace".into());
        }
        let (ino, dev) = (u64_at(r, 8), u32_at(r, 16));
        let key = FileKey {
            major: dev >> 20,
            minor: dev & 0xf_ffff,
            ino,
        };
        if keys.binary_search(&key).is_ok() {
            found.push((u32_at(r, 0) as i32, u32_at(r, 4) as i32, key));
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// The `N` bytes of `r` at `at`, which the caller keeps within `r`.
fn bytes<const N: usize>(r: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&r[at..at + N]);
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;
    use std::process::{Command as Process, Stdio};

    use super::super::walk::{Held, Proc};
    use super::*;
    use crate::fixture::in_ci;

    /// Whether the BPF path must work here: root, with kernel BTF. Under CI
    /// it must; elsewhere the caller skips when it cannot.
    fn usable() -> bool {
        let usable = nix::unistd::geteuid().is_root() && Path::new(btf::VMLINUX).exists();
        if !usable {
            assert!(
                !in_ci(),
                "cannot be skipped under CI: needs root and kernel BTF"
            );
            eprintln!("skipped: needs root and {}", btf::VMLINUX);
        }
        usable
    }

    fn key_of(file: &File) -> FileKey {
        let meta = file.metadata().unwrap();
        FileKey::from_dev_ino(meta.dev(), meta.ino())
    }

    #[test]
    fn finds_a_flock_a_child_inherited_as_the_procfs_walk_does() {
        if !usable() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let locked = File::create(dir.path().join("a.pid")).unwrap();
        rustix::fs::flock(&locked, rustix::fs::FlockOperation::LockExclusive).unwrap();
        let unlocked = File::create(dir.path().join("b.pid")).unwrap();
        let (key, other) = (key_of(&locked), key_of(&unlocked));
        let mut child = Process::new("sleep")
            .arg("30")
            .stdin(Stdio::from(locked.try_clone().unwrap()))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let child_pid = child.id() as i32;
        let proc = Proc::open().unwrap();
        // Another test's child keeps every descriptor of this process for
        // the moment between its fork and its exec: the two looks are taken
        // again until they agree.
        let mut looks = Vec::new();
        for _ in 0..5 {
            let found = find(&[key, other, key], true);
            let walked = proc.walk(&proc.pids(), &[key, other]);
            let shown: Option<Vec<Held>> = found.as_ref().ok().map(|found| {
                found
                    .iter()
                    .filter(|&&(pid, fd, key)| proc.shows_lock(pid, fd, key))
                    .map(|&(pid, fd, key)| Held { key, pid, fd })
                    .collect()
            });
            let agree = shown.as_ref() == Some(&walked);
            looks.push((found, shown, walked));
            if agree {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let (found, shown, walked) = looks.pop().unwrap();
        let found = found.unwrap_or_else(|e| panic!("the BPF iterator failed: {e}"));
        assert!(found.contains(&(child_pid, 0, key)), "{found:?}");
        assert!(found.contains(&(me, locked.as_raw_fd(), key)), "{found:?}");
        assert!(
            found.contains(&(me, unlocked.as_raw_fd(), other)),
            "{found:?}"
        );
        assert!(found.windows(2).all(|w| w[0] < w[1]), "{found:?}");
        assert!(walked.contains(&Held {
            key,
            pid: child_pid,
            fd: 0
        }));
        assert_eq!(shown, Some(walked));
    }

    #[test]
    fn the_longest_program_is_accepted_and_a_longer_one_not_tried() {
        assert_eq!(descriptors_on(&[]), Some(Vec::new()));
        let fake = |ino| FileKey {
            major: 4095,
            minor: 7,
            ino,
        };
        let too_many: Vec<FileKey> = (0..=MAX_KEYS as u64).map(fake).collect();
        assert_eq!(descriptors_on(&too_many), None);
        if !usable() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("a.pid")).unwrap();
        let key = key_of(&file);
        let mut keys = too_many;
        keys[MAX_KEYS] = key;
        keys.remove(0);
        let me = std::process::id() as i32;
        let found = find(&keys, true).unwrap_or_else(|e| panic!("the BPF iterator failed: {e}"));
        assert_eq!(found, vec![(me, file.as_raw_fd(), key)]);
    }
}
