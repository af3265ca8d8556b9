//! Does a process have a given file open? One walk of `/proc/PID/fd`, made
//! only for the PID a pidfile names, and only when a rule needs to know.

use std::os::unix::fs::MetadataExt;

/// Is one of `pid`'s descriptors the file `(dev, ino)`? `false` when its
/// descriptors cannot be read (another user's process, unless root).
pub fn has_open(pid: i32, dev: u64, ino: u64) -> bool {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    entries.flatten().any(|fd| {
        // stat follows the magic link to the open file itself, even one
        // removed since (its dev and ino stay).
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
