//! systemd's system unit search path, listed as systemd lists it: the first
//! file found for a unit name wins, a link to `/dev/null` (or an empty file)
//! masks the unit, an alias is left to its unit, and the drop-ins of every
//! directory are gathered by name.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, open, readlinkat_raw, statat};

use super::name::is_service_name;
use super::stamp::{Noted, Stamp};

/// systemd's system unit search path, highest priority first
/// (systemd.unit(5), "System Unit Search Path").
pub const SYSTEM_UNIT_PATH: [&str; 13] = [
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// The system search path as paths.
pub fn system_unit_dirs() -> Vec<PathBuf> {
    SYSTEM_UNIT_PATH.iter().map(PathBuf::from).collect()
}

/// A unit file or drop-in that could not be used. It is skipped; the index
/// is built from the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, as a short phrase (with the line number when one is to blame).
    pub error: String,
}

/// A unit whose file wins on the search path (not masked).
#[derive(Debug, Clone)]
pub(super) struct Unit {
    /// The directory it is in: an index into [`Listing::dirs`].
    dir: usize,
    /// Its name, in [`Listing::names`].
    name: Range<usize>,
}

/// A drop-in file, and its `PIDFile=` settings once read.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct DropIn {
    /// The file.
    pub(super) path: PathBuf,
    /// Its settings in file order; `None` until it is read (none when it
    /// could not be used).
    pub(super) settings: Option<Vec<String>>,
}

/// What the search path holds.
#[derive(Debug, Default)]
pub(super) struct Listing<'a> {
    /// The directories listed, open, highest priority first: unit files
    /// are opened relative to them.
    dirs: Vec<(&'a Path, OwnedFd)>,
    /// The names of the units and drop-in directories, one after the other.
    names: String,
    /// The units, in name order.
    pub(super) units: Vec<Unit>,
    /// The drop-in files of each unit (`foo.service`), in the order they apply.
    pub(super) dropins: HashMap<String, Vec<DropIn>>,
    /// Every directory looked at, with its modification time then.
    pub(super) stamps: Vec<(PathBuf, Option<SystemTime>)>,
    /// Every directory looked at, and every link to a unit's file (or a
    /// mask), as they were then, and whether one could not be listed.
    pub(super) noted: Noted,
    /// Directories that could not be listed.
    pub(super) errors: Vec<UnitError>,
}

impl Listing<'_> {
    /// The unit's name.
    pub(super) fn name(&self, unit: &Unit) -> &str {
        &self.names[unit.name.clone()]
    }

    /// The unit's file.
    pub(super) fn path(&self, unit: &Unit) -> PathBuf {
        self.dirs[unit.dir].0.join(self.name(unit))
    }

    /// The directory the unit's file is in, open.
    pub(super) fn dir_fd(&self, unit: &Unit) -> &OwnedFd {
        &self.dirs[unit.dir].1
    }
}

/// A name met in a directory that may be a unit or a drop-in directory.
struct Candidate {
    dir: usize,
    name: Range<usize>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `.service` file, link, or other entry (of this type).
    Unit(FileType),
    /// `NAME.d`, for a unit `NAME`: its span is the unit's name.
    DropIns,
}

/// List the units and drop-ins of `dirs`, highest priority first.
pub(super) fn list(dirs: &[PathBuf]) -> Listing<'_> {
    // Room for the units and drop-in directories of a usual host at once.
    let mut listing = Listing {
        names: String::with_capacity(4096),
        ..Listing::default()
    };
    let mut candidates = Vec::with_capacity(256);
    let mut seen_dirs = Vec::new();
    for dir in dirs {
        let meta = std::fs::metadata(dir);
        let mtime = meta.as_ref().ok().and_then(|m| m.modified().ok());
        listing.stamps.push((dir.clone(), mtime));
        listing
            .noted
            .see(dir.clone(), meta.as_ref().ok().map(Stamp::of));
        let Ok(meta) = meta else {
            continue;
        };
        // /lib and /usr/lib are one directory on merged-/usr systems.
        if !seen_dirs.contains(&(meta.dev(), meta.ino())) {
            seen_dirs.push((meta.dev(), meta.ino()));
            list_dir(dir, &mut listing, &mut candidates);
        }
    }
    pick_units(&mut listing, &mut candidates);
    for files in listing.dropins.values_mut() {
        // By file name, the first directory's first: the one that applies.
        files.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        files.dedup_by(|later, first| later.path.file_name() == first.path.file_name());
    }
    listing
}

/// One directory of the search path: its units are noted as candidates,
/// its drop-ins gathered.
fn list_dir<'a>(dir: &'a Path, listing: &mut Listing<'a>, candidates: &mut Vec<Candidate>) {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(fd) = open(dir, flags, Mode::empty()) else {
        listing.errors.push(UnitError {
            path: dir.to_path_buf(),
            error: "cannot list the unit directory".into(),
        });
        listing.noted.failed = true;
        return;
    };
    let index = listing.dirs.len();
    let first = candidates.len();
    // Names are filtered as they come: most entries are other unit types
    // and cost nothing. The entry's type comes with the listing too.
    let listed = for_each_entry(&fd, |name, kind| {
        let (unit, kind) = match name.strip_suffix(".d") {
            Some(unit) => (unit, Kind::DropIns),
            None => (name, Kind::Unit(kind)),
        };
        if is_service_name(unit) {
            let start = listing.names.len();
            listing.names.push_str(unit);
            candidates.push(Candidate {
                dir: index,
                name: start..listing.names.len(),
                kind,
            });
        }
    });
    if !listed {
        listing.noted.failed = true;
    }
    let names = &listing.names;
    candidates[first..].sort_by(|a, b| names[a.name.clone()].cmp(&names[b.name.clone()]));
    for candidate in &candidates[first..] {
        if candidate.kind != Kind::DropIns {
            continue;
        }
        let unit = &listing.names[candidate.name.clone()];
        let mut path = dir.join(unit);
        path.as_mut_os_string().push(".d");
        let meta = std::fs::metadata(&path);
        listing
            .noted
            .see(path.clone(), meta.as_ref().ok().map(Stamp::of));
        let Ok(meta) = meta else {
            continue;
        };
        if meta.is_dir() {
            listing.stamps.push((path.clone(), meta.modified().ok()));
            let files = match listing.dropins.get_mut(unit) {
                Some(files) => files,
                None => listing.dropins.entry(unit.to_owned()).or_default(),
            };
            if !collect_dropins(&path, files) {
                listing.noted.failed = true;
            }
        }
    }
    listing.dirs.push((dir, fd));
}

/// The file that wins for each unit name: the first directory's, unless
/// it is an alias (left to its unit) or not a file at all; a link to
/// anything but a regular file masks the unit.
fn pick_units(listing: &mut Listing<'_>, candidates: &mut [Candidate]) {
    let names = &listing.names;
    candidates.sort_by(|a, b| {
        (names[a.name.clone()].cmp(&names[b.name.clone()])).then(a.dir.cmp(&b.dir))
    });
    let mut decided: Option<&str> = None;
    for candidate in candidates.iter() {
        let Kind::Unit(kind) = candidate.kind else {
            continue;
        };
        let name = &names[candidate.name.clone()];
        if decided == Some(name) {
            continue;
        }
        let fd = &listing.dirs[candidate.dir].1;
        let kind = match kind {
            FileType::Unknown => match statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                Err(_) => continue,
            },
            kind => kind,
        };
        let wins = match kind {
            FileType::RegularFile => true,
            FileType::Symlink => {
                match link_kind(fd, listing.dirs[candidate.dir].0, name, &mut listing.noted) {
                    Link::Alias => continue,
                    Link::Masked => false,
                    Link::Unit => true,
                }
            }
            _ => continue,
        };
        decided = Some(name);
        if wins {
            listing.units.push(Unit {
                dir: candidate.dir,
                name: candidate.name.clone(),
            });
        }
    }
}

/// Call `each` with the name and type of every entry of the directory
/// `fd` but `.` and `..` (names that are not UTF-8 are skipped), read into
/// a buffer on the stack; `false` when the listing stopped on an error.
fn for_each_entry(fd: impl AsFd, mut each: impl FnMut(&str, FileType)) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut dir = RawDir::new(fd, &mut buf);
    loop {
        let entry = match dir.next() {
            None => return true,
            Some(Ok(entry)) => entry,
            Some(Err(_)) => return false,
        };
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name != "." && name != ".." {
            each(name, entry.file_type());
        }
    }
}

/// The `*.conf` files of a drop-in directory, added to `into` (which keeps
/// the highest-priority directory's first); `false` when the directory
/// could not be listed whole.
fn collect_dropins(dir: &Path, into: &mut Vec<DropIn>) -> bool {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(fd) = open(dir, flags, Mode::empty()) else {
        return false;
    };
    for_each_entry(&fd, |name, _| {
        if name.ends_with(".conf") {
            into.push(DropIn {
                path: dir.join(name),
                settings: None,
            });
        }
    })
}

/// What a symlink in a unit directory is.
enum Link {
    /// To `/dev/null` (or anything not a regular file): the unit is masked.
    Masked,
    /// To a unit of another name: an alias, indexed under that unit's own name.
    Alias,
    /// To the unit's file kept elsewhere.
    Unit,
}

/// The link `name` in the directory `fd` (at `dir`).
fn link_kind(fd: &OwnedFd, dir: &Path, name: &str, noted: &mut Noted) -> Link {
    // PATH_MAX bytes and one more: a target that fills it all was cut short.
    let mut buf = [0u8; 4097];
    let long;
    let target = match readlinkat_raw(fd, name, &mut buf[..]) {
        Ok(len) if len < buf.len() => Path::new(OsStr::from_bytes(&buf[..len])),
        Ok(_) => match std::fs::read_link(dir.join(name)) {
            Ok(target) => {
                long = target;
                long.as_path()
            }
            Err(_) => return Link::Masked,
        },
        Err(_) => return Link::Masked,
    };
    let alias = target
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|t| t != name && is_service_name(t));
    if alias {
        return Link::Alias;
    }
    let target = statat(fd, name, AtFlags::empty());
    noted.see(dir.join(name), target.as_ref().ok().map(Stamp::of_stat));
    match target {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => Link::Unit,
        _ => Link::Masked,
    }
}

pub(super) fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
