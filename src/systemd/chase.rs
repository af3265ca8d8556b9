//! The path to a pidfile as systemd's safe chase (`chase()` with
//! `CHASE_SAFE`) walks it: component by component from `/`, following
//! symlinks, it notes the first step from a directory or link owned by a
//! non-root user to something owned by another user. systemd accepts a PID
//! found through such a path only from a process in the unit's own cgroup.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// How many symlinks a chase follows before it gives up (`ELOOP`).
const MAX_LINKS: usize = 32;

/// A step from something owned by one non-root user to something owned by
/// another user: what systemd calls an unsafe transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeStep {
    /// Where the step starts (a directory, or a symlink).
    pub from: PathBuf,
    /// Its owner.
    pub from_uid: u32,
    /// Where it leads.
    pub to: PathBuf,
    /// Its owner.
    pub to_uid: u32,
}

/// What the chase found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chase {
    /// The first unsafe step, if any.
    pub unsafe_step: Option<UnsafeStep>,
    /// The owner of the file the path leads to.
    pub owner: u32,
}

/// systemd's rule: leaving a root-owned object is always safe; otherwise
/// the next one must have the same owner.
fn unsafe_transition(from_uid: u32, to_uid: u32) -> bool {
    from_uid != 0 && from_uid != to_uid
}

/// Chase `path` (absolute) as systemd would before reading a pidfile.
pub fn chase(path: &Path) -> io::Result<Chase> {
    let root = std::fs::metadata("/")?;
    let mut done = PathBuf::from("/");
    let mut uid = root.uid();
    let mut todo: Vec<OsString> = parts(path);
    todo.reverse();
    let mut links = 0;
    let mut first_unsafe = None;
    let mut note = |from: &Path, from_uid: u32, to: &Path, to_uid: u32| {
        if first_unsafe.is_none() && unsafe_transition(from_uid, to_uid) {
            first_unsafe = Some(UnsafeStep {
                from: from.to_path_buf(),
                from_uid,
                to: to.to_path_buf(),
                to_uid,
            });
        }
    };
    while let Some(part) = todo.pop() {
        if part == ".." {
            let parent = done.parent().unwrap_or(Path::new("/")).to_path_buf();
            let parent_uid = std::fs::metadata(&parent)?.uid();
            note(&done, uid, &parent, parent_uid);
            (done, uid) = (parent, parent_uid);
            continue;
        }
        let child = done.join(&part);
        let meta = std::fs::symlink_metadata(&child)?;
        note(&done, uid, &child, meta.uid());
        if !meta.file_type().is_symlink() {
            (done, uid) = (child, meta.uid());
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&child)?;
        if target.as_os_str().is_empty() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if target.is_absolute() {
            note(&child, meta.uid(), Path::new("/"), root.uid());
            (done, uid) = (PathBuf::from("/"), root.uid());
        }
        let mut more = parts(&target);
        more.reverse();
        todo.extend(more);
    }
    Ok(Chase {
        unsafe_step: first_unsafe,
        owner: uid,
    })
}

/// The names along `path`, `..` kept, `.` and `/` dropped.
fn parts(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from(std::ffi::OsStr::from_bytes(b".."))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_root_owner_handing_over_to_another_is_unsafe() {
        assert!(!unsafe_transition(0, 1000));
        assert!(!unsafe_transition(0, 0));
        assert!(!unsafe_transition(1000, 1000));
        assert!(unsafe_transition(1000, 0));
        assert!(unsafe_transition(1000, 1001));
    }

    #[test]
    fn a_root_owned_path_is_safe() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pid");
        std::fs::write(&file, "1\n").unwrap();
        let owner = std::fs::metadata(&file).unwrap().uid();
        let chase = chase(&file).unwrap();
        assert_eq!(chase.owner, owner);
        if owner == 0 {
            assert_eq!(chase.unsafe_step, None);
        }
        assert!(super::chase(&dir.path().join("missing")).is_err());
    }
}
