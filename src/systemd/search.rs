//! systemd's system unit search path, listed as systemd lists it: the first
//! file found for a unit name wins, a link to `/dev/null` (or an empty file)
//! masks the unit, an alias is left to its unit, and the drop-ins of every
//! directory are gathered by name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::name::UnitName;

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

/// One unit as found on the search path, before its settings are folded.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub(super) name: UnitName,
    pub(super) file: PathBuf,
}

/// What the search path holds.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Each unit by name: the file that wins, or `None` when it is masked.
    pub(super) units: BTreeMap<String, Option<Found>>,
    /// The drop-in files of each unit (`foo.service`), in the order they apply.
    pub(super) dropins: HashMap<String, Vec<PathBuf>>,
    /// Every directory looked at, with its modification time then.
    pub(super) stamps: Vec<(PathBuf, Option<SystemTime>)>,
    /// Directories that could not be listed.
    pub(super) errors: Vec<UnitError>,
}

/// List the units and drop-ins of `dirs`, highest priority first.
pub(super) fn list(dirs: &[PathBuf]) -> Listing {
    let mut listing = Listing::default();
    let mut dropins: HashMap<String, BTreeMap<String, PathBuf>> = HashMap::new();
    let mut seen_dirs = HashSet::new();
    for dir in dirs {
        listing.stamps.push((dir.clone(), modified(dir)));
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        // /lib and /usr/lib are one directory on merged-/usr systems.
        if seen_dirs.insert((meta.dev(), meta.ino())) {
            list_dir(dir, &mut listing, &mut dropins);
        }
    }
    for (unit, files) in dropins {
        listing.dropins.insert(unit, files.into_values().collect());
    }
    listing
}

/// One directory of the search path.
fn list_dir(
    dir: &Path,
    listing: &mut Listing,
    dropins: &mut HashMap<String, BTreeMap<String, PathBuf>>,
) {
    let Ok(read) = std::fs::read_dir(dir) else {
        listing.errors.push(UnitError {
            path: dir.to_path_buf(),
            error: "cannot list the unit directory".into(),
        });
        return;
    };
    // The entry's type comes with the listing: no stat per file.
    let mut names: Vec<_> = read
        .flatten()
        .map(|e| (e.file_name(), e.file_type().ok()))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (os_name, kind) in names {
        let Some(name) = os_name.to_str() else {
            continue;
        };
        let path = dir.join(name);
        if let Some(unit) = name.strip_suffix(".d") {
            if UnitName::parse(unit).is_some() && path.is_dir() {
                listing.stamps.push((path.clone(), modified(&path)));
                collect_dropins(&path, dropins.entry(unit.to_owned()).or_default());
            }
            continue;
        }
        let Some(parsed) = UnitName::parse(name) else {
            continue;
        };
        if listing.units.contains_key(name) {
            continue;
        }
        let found = match kind {
            Some(k) if k.is_file() => Some(Found {
                name: parsed,
                file: path,
            }),
            Some(k) if k.is_symlink() => match link_kind(&path, name) {
                Link::Alias => continue,
                Link::Masked => None,
                Link::Unit => Some(Found {
                    name: parsed,
                    file: path,
                }),
            },
            _ => continue,
        };
        listing.units.insert(name.to_owned(), found);
    }
}

/// The `*.conf` files of a drop-in directory, by file name; a name already
/// taken by a higher-priority directory is kept.
fn collect_dropins(dir: &Path, into: &mut BTreeMap<String, PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".conf") {
            into.entry(name.to_owned()).or_insert_with(|| entry.path());
        }
    }
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

fn link_kind(path: &Path, name: &str) -> Link {
    let Ok(target) = std::fs::read_link(path) else {
        return Link::Masked;
    };
    let alias = target
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|t| t != name && UnitName::parse(t).is_some());
    if alias {
        return Link::Alias;
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Link::Unit,
        _ => Link::Masked,
    }
}

pub(super) fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
