//! What `/proc/PID` says of a live process beyond its identity: its command
//! line, its executable, its resident memory and its cgroup, the details an
//! operator reads and `audit --json` writes.
//!
//! Read through one descriptor of `/proc/PID`, so each file is looked up by
//! its name alone, and by whichever thread sighted the PID: a scan reads
//! them beside the pidfiles, on every core it uses.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags, openat, readlinkat_raw};
use rustix::io::read;

/// The details of one live process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// The command line, one element per argument (empty ones left out, as
    /// `ps` and sysinfo show it); empty for a kernel thread or a zombie.
    pub cmdline: Vec<String>,
    /// The executable's path, without the ` (deleted)` the kernel appends
    /// to one removed or replaced since.
    pub exe: Option<PathBuf>,
    /// Resident memory in bytes (`statm`'s second field).
    pub memory_bytes: u64,
    /// Its cgroup, from `/proc/PID/cgroup` (see [`super::cgroup::parse_proc_cgroup`]).
    pub cgroup: Option<String>,
}

/// Read the details of `pid`; what cannot be read (the process exited, or
/// `/proc` hides it) is left empty.
pub fn read_details(pid: i32) -> Details {
    let Ok(dir) = openat(
        rustix::fs::CWD,
        format!("/proc/{pid}"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return Details::default();
    };
    let mut buf = Vec::new();
    let cmdline = if read_into(&dir, "cmdline", &mut buf) {
        buf.split(|&b| b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect()
    } else {
        Vec::new()
    };
    let exe = exe_of(&dir, &mut buf);
    let memory_bytes = if read_into(&dir, "statm", &mut buf) {
        resident_pages(&buf).saturating_mul(page_size())
    } else {
        0
    };
    let cgroup = if read_into(&dir, "cgroup", &mut buf) {
        std::str::from_utf8(&buf)
            .ok()
            .and_then(super::cgroup::parse_proc_cgroup)
    } else {
        None
    };
    Details {
        cmdline,
        exe,
        memory_bytes,
        cgroup,
    }
}

/// The target of `exe`, ` (deleted)` removed.
fn exe_of(dir: &OwnedFd, buf: &mut Vec<u8>) -> Option<PathBuf> {
    // PATH_MAX bytes and one more: a link that fills it all was cut short.
    buf.clear();
    buf.resize(4097, 0);
    let len = readlinkat_raw(dir, "exe", &mut buf[..]).ok()?;
    if len >= buf.len() {
        return None;
    }
    let target = &buf[..len];
    let target = target.strip_suffix(b" (deleted)").unwrap_or(target);
    Some(PathBuf::from(OsStr::from_bytes(target)))
}

/// Read the whole of the file `name` under `dir` into `buf`; false when it
/// cannot be opened or read.
fn read_into(dir: &OwnedFd, name: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let Ok(file) = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return false;
    };
    let mut filled = 0;
    loop {
        if buf.len() - filled < 512 {
            buf.resize(filled + 4096, 0);
        }
        match read(&file, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    buf.truncate(filled);
    true
}

/// `statm`'s second field: the resident set, in pages.
fn resident_pages(statm: &[u8]) -> u64 {
    statm
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|field| std::str::from_utf8(field).ok())
        .and_then(|field| field.trim().parse().ok())
        .unwrap_or(0)
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = read_details(std::process::id() as i32);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exe.as_deref(), Some(exe.as_path()));
        let args: Vec<String> = std::env::args().filter(|a| !a.is_empty()).collect();
        assert_eq!(me.cmdline, args);
        assert!(me.memory_bytes > 0);
    }

    #[test]
    fn a_pid_no_process_has_has_no_details() {
        assert_eq!(read_details(i32::MAX), Details::default());
    }

    #[test]
    fn the_resident_set_is_the_second_field() {
        assert_eq!(resident_pages(b"2580 1234 567 12 0 345 0\n"), 1234);
        assert_eq!(resident_pages(b""), 0);
    }
}
