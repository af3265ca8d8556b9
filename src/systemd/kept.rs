//! The unit index of systemd's search path, kept from one scan to the next.
//!
//! Building it lists a dozen directories and reads every service unit and
//! drop-in: on a usual host 1 to 2 ms of a scan's processor time, taken
//! while the pidfiles are read. A scan made as root keeps the index in
//! [`FILE`] (see [`crate::kept`]), with every directory, link and file it
//! was built from as it was when looked at (device, inode, mode, size,
//! modification and change times): a later scan checks each with one
//! `stat`, and uses the index only when none changed. Any change to a unit
//! file, even in place, moves its change time; a file added, removed or
//! renamed moves its directory's.
//!
//! A change made in the same clock tick as the look, after it, could keep
//! every time as it was: as git does with its index, an index built from
//! anything changed in the last [`SETTLE`] is not kept.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::index::{Declaration, Setting, Template, UnitError, UnitIndex, system_unit_dirs};
use super::name::UnitName;
use super::search::DropIn;
use super::stamp::{Noted, Seen, unchanged};

/// Where the index is kept: readable by root alone (a drop-in may be).
const FILE: &str = "/run/pidscope/unit-index";

/// The first line of the file: what it is, and its format's version.
const HEADER: &str = "pidscope unit index 1\n";

/// The largest kept index read back.
const MAX_LEN: u64 = 16 << 20;

/// How long ago the newest change to what an index was built from must be
/// for the index to be kept.
const SETTLE: Duration = Duration::from_secs(2);

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Kept {
    dirs: Vec<PathBuf>,
    seen: Vec<Seen>,
    declarations: Vec<Declaration>,
    /// Each template's name and setting.
    templates: Vec<(String, Setting)>,
    dropins: Vec<(String, Vec<DropIn>)>,
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
    units_read: usize,
    errors: Vec<(PathBuf, String)>,
}

/// The index of `dirs` as [`UnitIndex::build`] makes it, or as a scan
/// kept it when nothing it was built from has changed since.
pub(super) fn index(dirs: &[PathBuf]) -> (UnitIndex, Vec<UnitError>) {
    let keep = applies(dirs);
    if keep && let Some(kept) = load(dirs) {
        return kept;
    }
    let (index, errors, noted) = UnitIndex::build_noting(dirs);
    if keep {
        store(dirs, (&index, &errors), &noted);
    }
    (index, errors)
}

/// Whether the index of `dirs` is kept: systemd's own search path, read
/// as root (who alone may write the file pidscope trusts).
fn applies(dirs: &[PathBuf]) -> bool {
    dirs == system_unit_dirs() && rustix::process::geteuid().is_root()
}

/// The kept index of `dirs` and its unit files' errors, if nothing it was
/// built from changed since.
fn load(dirs: &[PathBuf]) -> Option<(UnitIndex, Vec<UnitError>)> {
    load_from(Path::new(FILE), dirs)
}

/// Keep the index of `dirs` built from what `noted` says; nothing is
/// kept when something could not be read, changed too recently, or the
/// file cannot be written.
fn store(dirs: &[PathBuf], built: (&UnitIndex, &[UnitError]), noted: &Noted) {
    let _ = store_in(Path::new(FILE), dirs, built, noted, SystemTime::now());
}

fn load_from(path: &Path, dirs: &[PathBuf]) -> Option<(UnitIndex, Vec<UnitError>)> {
    let text = crate::kept::read(path, MAX_LEN)?;
    let kept: Kept = serde_json::from_str(text.strip_prefix(HEADER)?).ok()?;
    if kept.dirs != dirs {
        return None;
    }
    if !unchanged(&kept.seen) {
        return None;
    }
    let mut index = UnitIndex {
        stamps: kept.stamps,
        units_read: kept.units_read,
        dropins: kept.dropins.into_iter().collect(),
        ..UnitIndex::default()
    };
    for (name, setting) in kept.templates {
        index
            .templates
            .extend(UnitName::parse(&name).and_then(|name| Template::new(name, setting)));
    }
    for declaration in kept.declarations {
        index.declare(declaration);
    }
    index.sort();
    let errors = kept.errors.into_iter();
    let errors = errors.map(|(path, error)| UnitError { path, error });
    Some((index, errors.collect()))
}

/// Keep the index in `path`, unless something it was built from could
/// not be read or changed after `now - SETTLE`. `Ok(false)`: it was not
/// kept.
fn store_in(
    path: &Path,
    dirs: &[PathBuf],
    (index, errors): (&UnitIndex, &[UnitError]),
    noted: &Noted,
    now: SystemTime,
) -> std::io::Result<bool> {
    if noted.failed {
        return Ok(false);
    }
    let seen = &noted.seen;
    let settled = now.checked_sub(SETTLE);
    let fresh = seen
        .iter()
        .filter_map(|(_, s)| s.as_ref())
        .any(|s| match (s.changed(), settled) {
            (Some(changed), Some(settled)) => changed >= settled,
            _ => true,
        });
    if fresh {
        return Ok(false);
    }
    // In path order: the check at load opens each directory once.
    let mut seen = seen.to_vec();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut declarations: Vec<Declaration> = index.exact.values().flatten().cloned().collect();
    declarations.sort();
    let kept = Kept {
        dirs: dirs.to_vec(),
        seen,
        declarations,
        templates: (index.templates.iter())
            .map(|t| (t.name.full.clone(), t.setting.clone()))
            .collect(),
        dropins: (index.dropins.iter())
            .map(|(unit, files)| (unit.clone(), files.clone()))
            .collect(),
        stamps: index.stamps.clone(),
        units_read: index.units_read,
        errors: (errors.iter())
            .map(|e| (e.path.clone(), e.error.clone()))
            .collect(),
    };
    let json = serde_json::to_string(&kept).map_err(std::io::Error::other)?;
    crate::kept::write(path, &format!("{HEADER}{json}"), true)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A search path of two directories (and one missing), a directory
    /// outside it, and where the index is kept.
    struct Host {
        root: tempfile::TempDir,
        dirs: Vec<PathBuf>,
    }

    impl Host {
        /// Units of every kind the index reads: a plain one with a drop-in, a
        /// template, an instance's own drop-in, one masked by a link to
        /// `/dev/null`, one linked from outside, and one that cannot be used.
        fn new() -> Host {
            let root = tempfile::tempdir().unwrap();
            let dirs: Vec<PathBuf> = ["etc", "missing", "lib"]
                .iter()
                .map(|d| root.path().join(d))
                .collect();
            let host = Host { root, dirs };
            for d in ["etc", "lib", "outside"] {
                std::fs::create_dir(host.root.path().join(d)).unwrap();
            }
            host.write("etc/a.service", "[Service]\nPIDFile=/run/a.pid\n");
            host.write(
                "etc/a.service.d/10-move.conf",
                "[Service]\nPIDFile=/run/a2.pid\n",
            );
            host.write("lib/b@.service", "[Service]\nPIDFile=/run/b/%i.pid\n");
            host.write(
                "lib/b@one.service.d/x.conf",
                "[Service]\nPIDFile=/run/b-one.pid\n",
            );
            host.write("lib/c.service", "[Service]\nPIDFile=/run/c.pid\n");
            std::os::unix::fs::symlink("/dev/null", host.root.path().join("etc/c.service"))
                .unwrap();
            host.write("outside/e.service", "[Service]\nPIDFile=/run/e.pid\n");
            let target = host.root.path().join("outside/e.service");
            std::os::unix::fs::symlink(target, host.root.path().join("etc/e.service")).unwrap();
            std::fs::write(host.root.path().join("lib/bad.service"), b"\xff\xfe").unwrap();
            host
        }

        fn path(&self, name: &str) -> PathBuf {
            self.root.path().join(name)
        }

        fn write(&self, name: &str, text: &str) {
            let path = self.path(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn kept(&self) -> PathBuf {
            self.path("kept/unit-index")
        }

        /// Build the index and keep it, as if its files had settled.
        fn build_and_keep(&self) -> (UnitIndex, Vec<UnitError>) {
            let (index, errors, noted) = UnitIndex::build_noting(&self.dirs);
            let later = SystemTime::now() + Duration::from_secs(60);
            let kept = store_in(&self.kept(), &self.dirs, (&index, &errors), &noted, later);
            assert!(kept.unwrap(), "kept");
            (index, errors)
        }

        fn load(&self) -> Option<(UnitIndex, Vec<UnitError>)> {
            load_from(&self.kept(), &self.dirs)
        }
    }

    /// What the index says of the paths the host's units declare.
    fn answers(index: &UnitIndex) -> Vec<Vec<Declaration>> {
        [
            "/run/a.pid",
            "/run/a2.pid",
            "/run/b/two.pid",
            "/run/b-one.pid",
            "/run/c.pid",
            "/run/e.pid",
        ]
        .iter()
        .map(|p| index.declaring(Path::new(p)))
        .collect()
    }

    #[test]
    fn a_kept_index_answers_as_the_one_built() {
        if !crate::fixture::root_or_skip("trusting a kept index") {
            return;
        }
        let host = Host::new();
        let (built, errors) = host.build_and_keep();
        let (kept, kept_errors) = host.load().expect("the kept index is used");
        assert_eq!(answers(&kept), answers(&built));
        let units = |a: &[Vec<Declaration>]| -> Vec<usize> { a.iter().map(Vec::len).collect() };
        assert_eq!(
            units(&answers(&built)),
            [0, 1, 1, 1, 0, 1],
            "the host's units as declared"
        );
        assert_eq!(
            (kept.len(), kept.stamps.clone()),
            (built.len(), built.stamps.clone())
        );
        assert_eq!(kept_errors, errors);
        assert_eq!(errors.len(), 1, "bad.service is not UTF-8: {errors:?}");
        assert!(!kept.is_outdated());
    }

    /// A change to a host, and what it is.
    type Change = (&'static str, fn(&Host));

    #[test]
    fn any_change_to_what_it_was_built_from_sets_it_aside() {
        if !crate::fixture::root_or_skip("trusting a kept index") {
            return;
        }
        let changes: [Change; 7] = [
            ("a unit file changed in place", |h| {
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(h.path("etc/a.service"));
                std::io::Write::write_all(&mut file.unwrap(), b"PIDFile=/run/a3.pid\n").unwrap();
            }),
            ("a drop-in rewritten", |h| {
                h.write("etc/a.service.d/10-move.conf", "")
            }),
            ("a drop-in removed", |h| {
                std::fs::remove_file(h.path("lib/b@one.service.d/x.conf")).unwrap();
            }),
            ("a unit added", |h| {
                h.write("lib/f.service", "[Service]\nPIDFile=/run/f.pid\n")
            }),
            ("a linked unit's file changed", |h| {
                h.write("outside/e.service", "")
            }),
            ("a missing directory created", |h| {
                h.write("missing/g.service", "")
            }),
            ("a mask's target changed", |h| {
                std::fs::remove_file(h.path("etc/c.service")).unwrap();
                std::os::unix::fs::symlink(h.path("outside/e.service"), h.path("etc/c.service"))
                    .unwrap();
            }),
        ];
        for (what, change) in changes {
            let host = Host::new();
            host.build_and_keep();
            assert!(host.load().is_some(), "{what}: kept before");
            // Past the clock tick of the look, as a later change would be.
            std::thread::sleep(Duration::from_millis(20));
            change(&host);
            assert!(host.load().is_none(), "{what}: set aside");
        }
    }

    #[test]
    fn an_index_built_from_a_file_it_could_not_read_is_used_not_kept() {
        if !crate::fixture::root_or_skip("trusting a kept index") {
            return;
        }
        let host = Host::new();
        // A FIFO where a drop-in should be: never opened for a blocking read.
        let fifo = host.path("etc/a.service.d/20-fifo.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let (index, errors, noted) = UnitIndex::build_noting(&host.dirs);
        let theirs: Vec<_> = errors.iter().filter(|e| e.path == fifo).collect();
        assert_eq!(theirs.len(), 1, "{errors:?}");
        assert!(theirs[0].error.contains("not a regular file"), "{errors:?}");
        assert_eq!(
            answers(&index)[1].len(),
            1,
            "the rest of the index is built"
        );
        assert!(noted.failed);
        let later = SystemTime::now() + Duration::from_secs(60);
        let kept = store_in(&host.kept(), &host.dirs, (&index, &errors), &noted, later);
        assert!(!kept.unwrap(), "not kept");
        assert!(!host.kept().exists());
    }

    #[test]
    fn only_the_system_search_path_read_as_root_is_kept() {
        let root = rustix::process::geteuid().is_root();
        assert_eq!(applies(&system_unit_dirs()), root);
        assert!(!applies(&system_unit_dirs()[1..]));
        assert!(!applies(&Host::new().dirs));
    }

    #[test]
    fn an_index_of_fresh_changes_or_another_path_is_not_used() {
        if !crate::fixture::root_or_skip("trusting a kept index") {
            return;
        }
        let host = Host::new();
        let (index, errors, noted) = UnitIndex::build_noting(&host.dirs);
        let now = SystemTime::now();
        let kept = store_in(&host.kept(), &host.dirs, (&index, &errors), &noted, now);
        assert!(!kept.unwrap(), "files written just now are not settled");
        assert!(!host.kept().exists());
        host.build_and_keep();
        assert!(
            load_from(&host.kept(), &host.dirs[..2]).is_none(),
            "another search path"
        );
        let text = std::fs::read_to_string(host.kept()).unwrap();
        crate::kept::write(&host.kept(), &text.replacen(" 1\n", " 0\n", 1), true).unwrap();
        assert!(host.load().is_none(), "another format");
    }
}
