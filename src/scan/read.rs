//! Reading a pidfile safely: bounded, never blocking, never opening devices.
//!
//! `/run` holds FIFOs, sockets and symlinks next to pidfiles. A plain `open()`
//! on a FIFO blocks until a writer appears and a plain `read_to_end()` on a
//! symlink to `/dev/zero` never ends, so the reader opens with `O_NONBLOCK`,
//! checks with `fstat` that the file is regular, and reads at most
//! [`MAX_READ`] bytes: a 100 MB file costs the same as a small one.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Mode, OFlags};
use serde::Serialize;

use super::parse::MAX_READ;

/// What pidscope knows about the file itself, from `fstat` (or `lstat` when it
/// could not be opened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// Owner uid.
    pub uid: u32,
    /// Owner's user name, when the uid has one (shared by every file and
    /// process of that user: a scan keeps one entry per pidfile).
    pub owner: Option<std::sync::Arc<str>>,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (with setuid, setgid, sticky), written in JSON as an octal string like `"0644"`.
    #[serde(serialize_with = "crate::serial::octal_mode")]
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    #[serde(serialize_with = "crate::serial::epoch_seconds")]
    pub mtime: SystemTime,
    /// Device number, for matching `/proc/locks` and de-duplicating hard links.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileInfo {
    /// Build from metadata returned by `fstat`/`lstat`.
    pub fn from_metadata(meta: &Metadata) -> Self {
        let mtime = UNIX_EPOCH
            .checked_add(Duration::new(
                meta.mtime().max(0) as u64,
                meta.mtime_nsec().clamp(0, 999_999_999) as u32,
            ))
            .unwrap_or(UNIX_EPOCH);
        FileInfo {
            uid: meta.uid(),
            owner: None,
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            size: meta.size(),
            mtime,
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The result of trying to read one pidfile.
#[derive(Debug)]
pub enum ReadOutcome {
    /// The file is regular and its first bytes were read.
    Read {
        /// `fstat` of the opened file.
        file: FileInfo,
        /// At most [`MAX_READ`] bytes from the start of the file.
        content: Vec<u8>,
        /// True when the file holds more than `content`.
        truncated: bool,
    },
    /// The path exists but cannot be read as a pidfile.
    Unreadable {
        /// `lstat`/`fstat` information, when any could be had.
        file: Option<FileInfo>,
        /// Why, as a short phrase ("permission denied", "not a regular file: FIFO").
        reason: String,
    },
    /// The path disappeared between discovery and reading.
    Vanished(io::Error),
}

/// What the directory walk already knows about an entry's type (from `readdir`),
/// so that device nodes and sockets are never opened at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    Regular,
    /// A symbolic link: its target is checked with `stat` before opening.
    Symlink,
    /// Anything else (FIFO, socket, device, directory).
    Special,
    /// Not known (a path given on the command line).
    Unknown,
}

/// Read the first [`MAX_READ`] bytes of `path` without ever blocking.
pub fn read_pidfile(path: &Path, kind: EntryKind) -> ReadOutcome {
    read_pidfile_in(&mut Parent::default(), path, kind, None)
}

/// The directory of the last pidfile read, held open (`O_PATH`) so that the
/// next pidfile in it is opened by its name alone (`openat`), without the
/// kernel walking its whole path again. Walk order keeps a directory's
/// entries together: one `open` per directory.
#[derive(Debug, Default)]
pub struct Parent {
    /// The directory and its descriptor; `None` when it could not be opened.
    held: Option<(PathBuf, Option<OwnedFd>)>,
}

impl Parent {
    /// The descriptor of `path`'s directory, opened when it is not the one held.
    fn of(&mut self, path: &Path) -> Option<BorrowedFd<'_>> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        if self.held.as_ref().is_none_or(|(held, _)| held != dir) {
            // The directory is reached as the full path's own lookup reaches
            // it, symlinks followed; `O_PATH` needs only search permission, as
            // that lookup does.
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(dir, flags, Mode::empty()).ok();
            self.held = Some((dir.to_path_buf(), fd));
        }
        self.held.as_ref()?.1.as_ref().map(|fd| fd.as_fd())
    }
}

/// [`read_pidfile`], opening a regular file through its directory's
/// descriptor held in `parent` (kept for the next file in the same
/// directory), and keeping the file open in `held`, if given, once read (so
/// that what the kernel knows of it can be asked after the read).
pub fn read_pidfile_in(
    parent: &mut Parent,
    path: &Path,
    kind: EntryKind,
    held: Option<&mut Vec<File>>,
) -> ReadOutcome {
    let opened = match kind {
        EntryKind::Special => return special(path, std::fs::symlink_metadata(path)),
        EntryKind::Regular => open_regular(parent, path),
        EntryKind::Symlink | EntryKind::Unknown => {
            if let Some(why) = untrusted_symlink(path) {
                let info = std::fs::symlink_metadata(path)
                    .ok()
                    .map(|m| FileInfo::from_metadata(&m));
                return unreadable(info, why);
            }
            open_through_links(path)
        }
    };
    let mut file = match opened {
        Ok(file) => file,
        Err(outcome) => return outcome,
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(err) => return unreadable(None, format!("cannot stat: {}", describe(&err))),
    };
    if !meta.file_type().is_file() {
        // Swapped for something else since the directory was read.
        return special(path, Ok(meta));
    }
    let info = FileInfo::from_metadata(&meta);
    match read_head(&mut file, info.size) {
        Ok(content) => {
            if let Some(held) = held {
                held.push(file);
            }
            ReadOutcome::Read {
                truncated: info.size > MAX_READ as u64,
                file: info,
                content,
            }
        }
        Err(err) => unreadable(Some(info), format!("read failed: {}", describe(&err))),
    }
}

/// Read the first `min(size, MAX_READ)` bytes: one `read` for a pidfile,
/// with no extra call to find the end (fstat already said where it is). A
/// file that grows or shrinks meanwhile is read up to the limit or its end.
fn read_head(file: &mut File, size: u64) -> io::Result<Vec<u8>> {
    // Size 0 is either empty (one read says so) or a pseudo-file that does not know its size.
    let want = if size == 0 {
        MAX_READ
    } else {
        size.min(MAX_READ as u64) as usize
    };
    let mut content = vec![0; want];
    let mut filled = 0;
    while filled < want {
        match file.read(&mut content[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    content.truncate(filled);
    Ok(content)
}

const READ_FLAGS: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// `readdir` said regular: open without following a symlink swapped in
/// since, by name in its directory's descriptor when there is one.
fn open_regular(parent: &mut Parent, path: &Path) -> Result<File, ReadOutcome> {
    let opened = match (parent.of(path), path.file_name()) {
        (Some(dir), Some(name)) => {
            let flags = OFlags::RDONLY
                | OFlags::NONBLOCK
                | OFlags::NOCTTY
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC;
            rustix::fs::openat(dir, name, flags, Mode::empty())
                .map(File::from)
                .map_err(io::Error::from)
        }
        _ => OpenOptions::new()
            .read(true)
            .custom_flags(READ_FLAGS | libc::O_NOFOLLOW)
            .open(path),
    };
    match opened {
        Ok(file) => Ok(file),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => open_through_links(path),
        Err(err) => Err(open_error(path, err)),
    }
}

/// Follow symlinks to the final file without opening it for reading (`O_PATH`
/// has no side effects, even on a device), check it is regular, and only then
/// reopen that very inode through `/proc/self/fd` to read it.
fn open_through_links(path: &Path) -> Result<File, ReadOutcome> {
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .map_err(|err| open_error(path, err))?;
    let meta = handle.metadata().map_err(|err| open_error(path, err))?;
    if !meta.file_type().is_file() {
        return Err(special(path, Ok(meta)));
    }
    let reopen = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
    OpenOptions::new()
        .read(true)
        .custom_flags(READ_FLAGS)
        .open(&reopen)
        // Without /proc, open the path itself: it was a regular file a moment ago.
        .or_else(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(READ_FLAGS)
                .open(path)
        })
        .map_err(|err| open_error(path, err))
}

/// A symlink is followed only when its owner is root, us, or the owner of
/// what it points to. Otherwise anyone who can write a directory under the
/// scanned roots (`/run/lock`, `/run/user/UID`) could point root at
/// `/etc/shadow` and have its first line printed as an "invalid PID". This
/// extends the kernel's `fs.protected_symlinks` rule, and applies even where
/// that sysctl is off.
fn untrusted_symlink(path: &Path) -> Option<String> {
    let link = std::fs::symlink_metadata(path).ok()?;
    if !link.file_type().is_symlink()
        || link.uid() == 0
        || link.uid() == nix::unistd::geteuid().as_raw()
    {
        return None;
    }
    let target = std::fs::metadata(path).ok()?;
    (target.uid() != link.uid()).then(|| {
        format!(
            "symlink owned by uid {} to a file of uid {}: not followed",
            link.uid(),
            target.uid()
        )
    })
}

fn special(path: &Path, meta: io::Result<Metadata>) -> ReadOutcome {
    match meta {
        Ok(meta) => {
            let what = file_type_name(&meta);
            unreadable(
                Some(FileInfo::from_metadata(&meta)),
                format!("not a regular file: {what}"),
            )
        }
        Err(err) => open_error(path, err),
    }
}

fn open_error(path: &Path, err: io::Error) -> ReadOutcome {
    let lstat = std::fs::symlink_metadata(path);
    match (err.raw_os_error(), lstat) {
        (Some(libc::ENOENT), Err(_)) => ReadOutcome::Vanished(err),
        (Some(libc::ENOENT), Ok(meta)) => unreadable(
            Some(FileInfo::from_metadata(&meta)),
            "dangling symlink".into(),
        ),
        (Some(libc::ELOOP), meta) => unreadable(
            meta.ok().map(|m| FileInfo::from_metadata(&m)),
            "symlink loop".into(),
        ),
        (Some(libc::ENXIO), meta) => unreadable(
            meta.ok().map(|m| FileInfo::from_metadata(&m)),
            "not a regular file: socket".into(),
        ),
        (_, meta) => unreadable(
            meta.ok().map(|m| FileInfo::from_metadata(&m)),
            describe(&err),
        ),
    }
}

fn unreadable(file: Option<FileInfo>, reason: String) -> ReadOutcome {
    ReadOutcome::Unreadable { file, reason }
}

/// The kind of a non-regular file, in the words `ls -l` users know.
pub fn file_type_name(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "regular file"
    } else {
        "unknown file type"
    }
}

/// An I/O error as a short lower-case phrase without the "(os error N)" suffix.
pub fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = nix::errno::Errno::from_raw(code).desc().to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
        None => err.to_string(),
    }
}
