//! What pidscope keeps under `/run/pidscope` from one scan to the next:
//! work a later scan can trust instead of doing again (the kernel's layout
//! for the BPF programs, the systemd unit index). `/run` is emptied at
//! every boot.
//!
//! The rules of trust live here, once: a kept file is believed only when
//! it is a regular file (not a symlink), root owns it and nobody else may
//! write it. Each is written whole to a temporary file and renamed over the
//! old one, so a reader sees one or the other. Keeping is a saving, never a
//! need: a file that cannot be read or written is ignored.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The text of the kept file `path`, if it can be trusted and is at most
/// `max` bytes long.
pub(crate) fn read(path: &Path, max: u64) -> Option<String> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 || meta.len() > max {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Keep `text` in `path` (its directory created if missing), readable by
/// root alone when `private`, else by all.
pub(crate) fn write(path: &Path, text: &str, private: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::DirBuilder::new().mode(0o755).create(dir);
    }
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(&temp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_file_only_root_may_write_is_trusted() {
        if !crate::fixture::root_or_skip("a file root may trust") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("kept");
        write(&path, "hello", true).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(read(&path, 100).is_some(), "trusted as root's");
        assert_eq!(read(&path, 4), None, "longer than allowed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o622)).unwrap();
        assert_eq!(read(&path, 100), None, "writable by others");
        write(&path, "again", false).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o644, "replaced whole");
        assert_eq!(read(&path, 100).as_deref(), Some("again"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read(&link, 100), None, "a symlink is not followed");
        std::os::unix::fs::chown(&path, Some(1), None).unwrap();
        assert_eq!(read(&path, 100), None, "not root's");
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left");
    }
}
