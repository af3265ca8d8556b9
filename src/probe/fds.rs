//! Does a process have a given file open? One walk of `/proc/PID/fd`, made
//! only for the PID a pidfile names, and only when a rule needs to know.

use std::collections::HashSet;

use rustix::fs::{AtFlags, CWD, StatxFlags, statx};

/// Is one of `pid`'s descriptors the file `(dev, ino)`? `false` when its
/// descriptors cannot be read (another user's process, unless root).
pub fn has_open(pid: i32, dev: u64, ino: u64) -> bool {
    open_files(pid).contains(&(dev, ino))
}

/// The `(dev, ino)` of every file `pid` has open; empty when its descriptors
/// cannot be read. One walk, for callers asking about several files.
pub fn open_files(pid: i32) -> HashSet<(u64, u64)> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|fd| {
            // statx follows the magic link to the open file itself, even one
            // removed since (its dev and ino stay). AT_STATX_DONT_SYNC answers
            // from the kernel's cached attributes: a descriptor on a hung NFS or
            // FUSE mount cannot make the scan wait for its server.
            statx(CWD, fd.path(), AtFlags::STATX_DONT_SYNC, StatxFlags::INO)
                .ok()
                .map(|st| {
                    (
                        libc::makedev(st.stx_dev_major, st.stx_dev_minor),
                        st.stx_ino,
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn finds_a_file_this_process_holds_open_and_not_one_it_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        let file = std::fs::File::create(&path).unwrap();
        let meta = file.metadata().unwrap();
        let me = std::process::id() as i32;
        assert!(has_open(me, meta.dev(), meta.ino()));
        drop(file);
        assert!(!has_open(me, meta.dev(), meta.ino()));
        assert!(!has_open(i32::MAX, meta.dev(), meta.ino()));
    }
}
