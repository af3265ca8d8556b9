//! Which service units declare which pidfiles, read from systemd's system
//! unit search path as systemd itself would load them:
//! - the first file found for a unit name wins, and a unit linked to
//!   `/dev/null` (or empty) is masked;
//! - drop-ins `NAME.d/*.conf` (and, for an instance, its template's) come
//!   from every directory, a file name found twice taken from the first
//!   directory; they apply in file-name order after the unit file;
//! - the last `PIDFile=` wins and an empty one resets it;
//! - a template (`foo@.service`) declares every path its `PIDFile=` takes
//!   for some instance name: a pidfile's path yields the instance.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fd::AsFd;
use serde::{Deserialize, Serialize};

use super::name::{UnitName, escape, valid_instance};
use super::search::{DropIn, Listing, Unit};
use super::stamp::{Noted, Stamp};
use super::unit_file::{Piece, SyntaxError, expand, normalize, pid_file_settings, pieces};

pub use super::search::{SYSTEM_UNIT_PATH, UnitError, system_unit_dirs};

/// A unit that declares a pidfile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Declaration {
    /// The unit's name, `postgresql@15-main.service`.
    pub unit: String,
    /// The `PIDFile=` value as written, before expansion.
    pub setting: String,
    /// The path it expands to, as systemd reads it.
    pub path: PathBuf,
    /// The file the winning setting comes from (the unit file or a drop-in).
    pub source: PathBuf,
}

/// The last word of a unit's `PIDFile=` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Setting {
    pub(super) value: String,
    pub(super) source: PathBuf,
}

/// A template with the `PIDFile=` its instances inherit, for matching.
#[derive(Debug, Clone)]
pub(super) struct Template {
    pub(super) name: UnitName,
    pub(super) setting: Setting,
    pieces: Vec<Piece>,
    /// The text before the first instance specifier, normalised as
    /// [`expand`] would: a path must start with it to be an instance's.
    prefix: String,
}

/// The index of declared pidfiles, built once per scan.
#[derive(Debug, Default)]
pub struct UnitIndex {
    /// The units that declare each path, by the path's text (hashed
    /// whole, where a `Path` hashes component by component).
    pub(super) exact: HashMap<String, Vec<Declaration>>,
    pub(super) templates: Vec<Template>,
    /// Drop-in files by unit name (`foo.service`), already in apply order,
    /// each with its settings (for instances' drop-ins at lookup).
    pub(super) dropins: HashMap<String, Vec<DropIn>>,
    pub(super) stamps: Vec<(PathBuf, Option<SystemTime>)>,
    pub(super) units_read: usize,
}

impl UnitIndex {
    /// Read every service unit under `dirs` (highest priority first).
    ///
    /// Each unit file is opened relative to its directory and read into
    /// one buffer, parsed in place: a unit that declares no pidfile costs
    /// no allocation.
    pub fn build(dirs: &[PathBuf]) -> (UnitIndex, Vec<UnitError>) {
        let (index, errors, _) = UnitIndex::build_noting(dirs);
        (index, errors)
    }

    /// [`Self::build`], and everything the index was built from as it was
    /// when looked at.
    pub(super) fn build_noting(dirs: &[PathBuf]) -> (UnitIndex, Vec<UnitError>, Noted) {
        let mut index = UnitIndex::default();
        let mut listing = super::search::list(dirs);
        let mut errors = std::mem::take(&mut listing.errors);
        let mut noted = std::mem::take(&mut listing.noted);
        index.stamps = std::mem::take(&mut listing.stamps);
        index.dropins = std::mem::take(&mut listing.dropins);
        let mut buf = Vec::new();
        for unit in &listing.units {
            index.add(&listing, unit, (&mut buf, &mut noted), &mut errors);
        }
        // Every drop-in is read here, once: lookups then never touch the disk.
        for dropin in index.dropins.values_mut().flatten() {
            dropin.read((&mut buf, &mut noted), &mut errors);
        }
        // An instance with its own drop-ins may set a path its template's
        // pattern cannot find: index it by its concrete path.
        let instances: Vec<UnitName> = index
            .dropins
            .keys()
            .filter(|u| u.contains('@'))
            .filter_map(|u| UnitName::parse(u))
            .filter(|n| n.instance.as_deref().is_some_and(|i| !i.is_empty()))
            .collect();
        for name in instances {
            if let Some(declaration) = index.resolve_instance(&name) {
                index.declare(declaration);
            }
        }
        index.sort();
        (index, errors, noted)
    }

    /// Note that `declaration` declares its path.
    pub(super) fn declare(&mut self, declaration: Declaration) {
        let path = declaration.path.to_string_lossy().into_owned();
        self.exact.entry(path).or_default().push(declaration);
    }

    /// Each path's declarations in order, once.
    pub(super) fn sort(&mut self) {
        for declarations in self.exact.values_mut() {
            declarations.sort();
            declarations.dedup();
        }
    }

    /// The units that declare `path`, sorted by name.
    pub fn declaring(&self, path: &Path) -> Vec<Declaration> {
        let Some(text) = path.to_str() else {
            return Vec::new();
        };
        // Most paths a scan meets are already in systemd's form: no copy then.
        let normalized;
        let (path, text) = if is_normal(text) {
            (path, text)
        } else {
            let Some(n) = normalize(text) else {
                return Vec::new();
            };
            normalized = n;
            let Some(text) = normalized.to_str() else {
                return Vec::new();
            };
            (normalized.as_path(), text)
        };
        let mut out = self.exact.get(text).cloned().unwrap_or_default();
        for template in &self.templates {
            if !text.starts_with(&template.prefix) {
                continue;
            }
            for instance in candidate_instances(template, text) {
                let unit = template.name.with_instance(&instance);
                if out.iter().any(|d| d.unit == unit.full) {
                    continue;
                }
                let Some(declaration) = self.resolve_instance(&unit) else {
                    continue;
                };
                if declaration.path == path {
                    out.push(declaration);
                }
            }
        }
        out.sort();
        out.dedup_by(|a, b| a.unit == b.unit);
        out
    }

    /// Whether a directory of the index changed since it was built (an
    /// entry added, removed or renamed): then the index must be rebuilt.
    pub fn is_outdated(&self) -> bool {
        self.stamps
            .iter()
            .any(|(dir, mtime)| super::search::modified(dir) != *mtime)
    }

    /// How many unit files declared a pidfile.
    pub fn len(&self) -> usize {
        self.units_read
    }

    /// Whether no unit declares a pidfile.
    pub fn is_empty(&self) -> bool {
        self.units_read == 0
    }

    /// Index `unit`: the last word of its file and then its drop-ins.
    fn add(
        &mut self,
        listing: &Listing,
        unit: &Unit,
        (buf, noted): (&mut Vec<u8>, &mut Noted),
        errors: &mut Vec<UnitError>,
    ) {
        let name = listing.name(unit);
        let own = match read_settings(
            listing.dir_fd(unit),
            name,
            || listing.path(unit),
            (buf, noted),
        ) {
            // An empty unit file masks the unit: its drop-ins do not count.
            Ok((_, true)) => return,
            Ok((settings, false)) => settings,
            Err(e) => {
                errors.push(e);
                return;
            }
        };
        let dropins = self
            .dropins
            .get_mut(name)
            .map_or(&mut [][..], |d| &mut d[..]);
        for dropin in dropins.iter_mut() {
            dropin.read((buf, noted), errors);
        }
        // The last word, and the drop-in it comes from (`None`: the unit file).
        let mut current: Option<(&str, Option<&Path>)> = None;
        for value in &own {
            current = (!value.is_empty()).then_some((value, None));
        }
        for dropin in dropins.iter() {
            for value in dropin.settings() {
                current = (!value.is_empty()).then_some((value, Some(&dropin.path)));
            }
        }
        let Some((value, source)) = current else {
            return;
        };
        let setting = Setting {
            value: value.to_owned(),
            source: source.map_or_else(|| listing.path(unit), Path::to_path_buf),
        };
        let Some(name) = UnitName::parse(name) else {
            return;
        };
        self.units_read += 1;
        if name.is_template() {
            self.templates.extend(Template::new(name, setting));
            return;
        }
        if let Some(path) = expand(&setting.value, &name) {
            self.declare(Declaration {
                unit: name.full,
                setting: setting.value,
                path,
                source: setting.source,
            });
        }
    }

    /// An instance's setting: its template's unit file, then the template's
    /// and its own drop-ins together in file-name order.
    fn resolve_instance(&self, unit: &UnitName) -> Option<Declaration> {
        let template_name = unit.template()?;
        let template = self.templates.iter().find(|t| t.name.full == template_name);
        let mut current = template.map(|t| (t.setting.value.as_str(), t.setting.source.as_path()));
        let mut dropins: Vec<&DropIn> = [&template_name, &unit.full]
            .into_iter()
            .filter_map(|name| self.dropins.get(name.as_str()))
            .flatten()
            .collect();
        dropins.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        // Read at build; one that could not be used is a build error.
        for dropin in dropins {
            for value in dropin.settings() {
                current = (!value.is_empty()).then_some((value.as_str(), dropin.path.as_path()));
            }
        }
        let (value, source) = current?;
        Some(Declaration {
            unit: unit.full.clone(),
            path: expand(value, unit)?,
            setting: value.to_owned(),
            source: source.to_path_buf(),
        })
    }
}

impl Template {
    /// The template `name` whose instances take `setting`; `None` when
    /// the setting cannot be cut into text and instance specifiers.
    pub(super) fn new(name: UnitName, setting: Setting) -> Option<Template> {
        let pieces = pieces(&setting.value, &name)?;
        Some(Template {
            name,
            setting,
            prefix: literal_prefix(&pieces),
            pieces,
        })
    }
}

impl DropIn {
    /// Read the drop-in's settings, unless they were read already. One
    /// that cannot be used sets nothing, and its error is told once.
    fn read(&mut self, read: (&mut Vec<u8>, &mut Noted), errors: &mut Vec<UnitError>) {
        if self.settings.is_some() {
            return;
        }
        let path = &self.path;
        match read_settings(rustix::fs::CWD, path, || path.clone(), read) {
            Ok((settings, _)) => self.settings = Some(settings),
            Err(e) => {
                self.settings = Some(Vec::new());
                errors.push(e);
            }
        }
    }

    /// Its settings: none unless read and usable.
    fn settings(&self) -> &[String] {
        self.settings.as_deref().unwrap_or_default()
    }
}

/// A unit file's `PIDFile=` settings, and whether it is empty (an empty
/// unit file masks the unit, as a link to `/dev/null` does). The file is
/// `name` in the directory `at`, read into `buf`; `path` names it in an
/// error, and in `noted`, with the file as it was once opened (or, when
/// it could not be read, as `stat` finds it then, and the failure noted
/// unless the file is missing: a link to nothing stays so).
fn read_settings<P: rustix::path::Arg>(
    at: impl AsFd,
    name: P,
    path: impl Fn() -> PathBuf,
    (buf, noted): (&mut Vec<u8>, &mut Noted),
) -> Result<(Vec<String>, bool), UnitError> {
    let read = read_small(at, name, buf);
    let stamp = match &read {
        Ok(stamp) => Some(*stamp),
        Err(e) => {
            noted.failed |= e.kind() != std::io::ErrorKind::NotFound;
            std::fs::metadata(path()).ok().map(|m| Stamp::of(&m))
        }
    };
    noted.see(path(), stamp);
    read.map_err(|e| UnitError {
        path: path(),
        error: format!(
            "cannot read the unit file: {}",
            crate::scan::read::describe(&e)
        ),
    })?;
    let empty = buf.is_empty();
    let text = std::str::from_utf8(buf).map_err(|_| UnitError {
        path: path(),
        error: "the unit file is not UTF-8".into(),
    })?;
    pid_file_settings(text)
        .map(|settings| (settings, empty))
        .map_err(|SyntaxError { line, what }| UnitError {
            path: path(),
            error: format!("line {line}: {what}"),
        })
}

/// Read a whole file into `buf` without first asking its size
/// (`std::fs::read` does): a unit file is small, and an index reads a
/// thousand of them. Gives the file as it was once opened, before it
/// was read. Opened without blocking, and only a regular file is read (a
/// FIFO would block the reader).
fn read_small<P: rustix::path::Arg>(
    at: impl AsFd,
    name: P,
    buf: &mut Vec<u8>,
) -> std::io::Result<Stamp> {
    use rustix::buffer::spare_capacity;
    use rustix::fs::{Mode, OFlags, openat};
    use rustix::io::Errno;
    buf.clear();
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = openat(at, name, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&file)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(std::io::Error::other("not a regular file"));
    }
    let stamp = Stamp::of_stat(&stat);
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match rustix::io::read(&file, spare_capacity(buf)) {
            Ok(0) => return Ok(stamp),
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The text before a template's first instance specifier, normalised as
/// [`expand`] would (a relative value under `/run/`, `/var/run/` as `/run/`).
fn literal_prefix(pieces: &[Piece]) -> String {
    let mut prefix = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => prefix.push_str(t),
            Piece::Instance(_) => break,
        }
    }
    if !prefix.starts_with('/') && !prefix.is_empty() {
        prefix = format!("/run/{prefix}");
    }
    match prefix.strip_prefix("/var/run/") {
        Some(rest) => format!("/run/{rest}"),
        None => prefix,
    }
}

/// Whether `text` is already a path as [`normalize`] makes it.
fn is_normal(text: &str) -> bool {
    text.starts_with('/')
        && !text.starts_with("/var/run/")
        && text != "/var/run"
        && (text.len() == 1 || !text.ends_with('/'))
        && !text.contains("//")
        && !text.contains("/./")
        && !text.contains("/../")
        && !text.ends_with("/.")
        && !text.ends_with("/..")
}

/// Instance names for which `pieces` could spell `path`: the text at the
/// first instance specifier, cut at every place the text after it occurs,
/// turned back into an instance name. Each candidate is then checked by
/// expanding the unit's full setting.
fn candidate_instances(template: &Template, path: &str) -> Vec<String> {
    let mut rest = template.pieces.iter();
    let specifier = loop {
        match rest.next() {
            Some(Piece::Text(_)) => {}
            Some(Piece::Instance(s)) => break *s,
            None => return Vec::new(),
        }
    };
    let Some(tail) = path.strip_prefix(template.prefix.as_str()) else {
        return Vec::new();
    };
    let template = &template.name;
    let next_text = match rest.next() {
        Some(Piece::Text(t)) => t.as_str(),
        _ => "",
    };
    let mut ends: Vec<usize> = if next_text.is_empty() {
        (1..=tail.len())
            .filter(|&i| tail.is_char_boundary(i))
            .collect()
    } else {
        tail.match_indices(next_text).map(|(i, _)| i).collect()
    };
    ends.retain(|&i| i > 0);
    let mut out = Vec::new();
    for end in ends {
        let text = &tail[..end];
        let instance = match specifier {
            'i' => Some(text.to_owned()),
            'I' => Some(escape(text)),
            'n' => text
                .strip_prefix(&format!("{}@", template.prefix))
                .and_then(|t| t.strip_suffix(".service"))
                .map(str::to_owned),
            'N' => text
                .strip_prefix(&format!("{}@", template.prefix))
                .map(str::to_owned),
            _ => None,
        };
        if let Some(instance) = instance.filter(|i| valid_instance(i))
            && !out.contains(&instance)
        {
            out.push(instance);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Unit directories in a temp dir, highest priority first.
    struct Dirs {
        _root: tempfile::TempDir,
        dirs: Vec<PathBuf>,
    }

    impl Dirs {
        fn new(n: usize) -> Dirs {
            let root = tempfile::tempdir().unwrap();
            let dirs = (0..n)
                .map(|i| root.path().join(format!("d{i}")))
                .collect::<Vec<_>>();
            for d in &dirs {
                std::fs::create_dir(d).unwrap();
            }
            Dirs { _root: root, dirs }
        }

        fn write(&self, dir: usize, name: &str, text: &str) -> PathBuf {
            let path = self.dirs[dir].join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn build(&self) -> (UnitIndex, Vec<UnitError>) {
            UnitIndex::build(&self.dirs)
        }
    }

    fn units(index: &UnitIndex, path: &str) -> Vec<String> {
        index
            .declaring(Path::new(path))
            .into_iter()
            .map(|d| d.unit)
            .collect()
    }

    fn service(pid_file: &str) -> String {
        format!("[Unit]\nDescription=x\n\n[Service]\nType=forking\nPIDFile={pid_file}\n")
    }

    #[test]
    fn the_first_file_for_a_name_wins_and_dev_null_masks() {
        let d = Dirs::new(3);
        d.write(0, "a.service", &service("/run/a-etc.pid"));
        d.write(2, "a.service", &service("/run/a-lib.pid"));
        symlink("/dev/null", d.dirs[0].join("b.service")).unwrap();
        d.write(2, "b.service", &service("/run/b.pid"));
        d.write(0, "c.service", "");
        d.write(1, "c.service", &service("/run/c.pid"));
        d.write(2, "d.socket", &service("/run/d.pid"));
        // An empty unit file masks: its drop-ins do not bring it back.
        d.write(0, "e.service", "");
        d.write(0, "e.service.d/pid.conf", "[Service]\nPIDFile=/run/e.pid\n");
        let (index, errors) = d.build();
        assert_eq!(errors, []);
        assert_eq!(units(&index, "/run/a-etc.pid"), ["a.service"]);
        assert_eq!(units(&index, "/run/a-lib.pid"), Vec::<String>::new());
        assert_eq!(units(&index, "/run/b.pid"), Vec::<String>::new());
        assert_eq!(units(&index, "/run/c.pid"), Vec::<String>::new());
        assert_eq!(units(&index, "/run/d.pid"), Vec::<String>::new());
        assert_eq!(units(&index, "/run/e.pid"), Vec::<String>::new());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn dropins_apply_in_file_name_order_and_an_empty_value_resets() {
        let d = Dirs::new(2);
        d.write(1, "a.service", &service("/run/a.pid"));
        d.write(
            1,
            "a.service.d/20-move.conf",
            "[Service]\nPIDFile=/run/a-moved.pid\n",
        );
        // The same drop-in name higher up replaces the lower one.
        d.write(
            0,
            "a.service.d/20-move.conf",
            "[Service]\nPIDFile=/run/a-etc.pid\n",
        );
        d.write(
            1,
            "a.service.d/10-early.conf",
            "[Service]\nPIDFile=/run/a-early.pid\n",
        );
        d.write(0, "b.service", &service("/run/b.pid"));
        d.write(1, "b.service.d/reset.conf", "[Service]\nPIDFile=\n");
        d.write(0, "c.service", "[Service]\nType=simple\n");
        d.write(0, "c.service.d/pid.conf", "[Service]\nPIDFile=c.pid\n");
        let (index, errors) = d.build();
        assert_eq!(errors, []);
        assert_eq!(units(&index, "/run/a-etc.pid"), ["a.service"]);
        for gone in [
            "/run/a.pid",
            "/run/a-moved.pid",
            "/run/a-early.pid",
            "/run/b.pid",
        ] {
            assert_eq!(units(&index, gone), Vec::<String>::new(), "{gone}");
        }
        let declared = index.declaring(Path::new("/run/c.pid"));
        assert_eq!(declared.len(), 1);
        assert_eq!(declared[0].setting, "c.pid");
        assert!(declared[0].source.ends_with("c.service.d/pid.conf"));
    }

    #[test]
    fn only_paths_in_systemds_form_skip_normalising() {
        for normal in ["/", "/run/x.pid", "/run/a.b/c..pid", "/var/running.pid"] {
            assert!(is_normal(normal), "{normal}");
        }
        for other in [
            "run/x.pid",
            "/var/run/x.pid",
            "/var/run",
            "/run/",
            "//run",
            "/run/./x",
            "/run/../x",
            "/run/.",
            "/run/..",
        ] {
            assert!(!is_normal(other), "{other}");
            // Whatever is not in that form is normalised to it.
            assert!(
                normalize(other).is_none_or(|p| is_normal(p.to_str().unwrap())),
                "{other}"
            );
        }
    }

    #[test]
    fn var_run_and_relative_values_read_as_run() {
        let d = Dirs::new(1);
        d.write(0, "old.service", &service("/var/run/old.pid"));
        d.write(0, "rel.service", &service("rel/x.pid"));
        let (index, _) = d.build();
        assert_eq!(units(&index, "/run/old.pid"), ["old.service"]);
        assert_eq!(units(&index, "/var/run/old.pid"), ["old.service"]);
        assert_eq!(units(&index, "/run/rel/x.pid"), ["rel.service"]);
    }

    #[test]
    fn templates_yield_the_instance_from_the_path() {
        let d = Dirs::new(2);
        d.write(1, "postgresql@.service", &service("/run/postgresql/%i.pid"));
        d.write(1, "unesc@.service", &service("/run/unesc/%I/pid"));
        d.write(1, "full@.service", &service("%t/%N.pid"));
        d.write(1, "pinned@.service", &service("/run/pinned/%i.pid"));
        d.write(
            0,
            "pinned@special.service.d/p.conf",
            "[Service]\nPIDFile=/run/special.pid\n",
        );
        d.write(1, "unsupported@.service", &service("/run/%H/%i.pid"));
        let (index, errors) = d.build();
        assert_eq!(errors, []);
        assert_eq!(
            units(&index, "/run/postgresql/15-main.pid"),
            ["postgresql@15-main.service"]
        );
        assert_eq!(
            units(&index, "/run/unesc/15/main/pid"),
            ["unesc@15-main.service"]
        );
        assert_eq!(units(&index, "/run/full@a.b.pid"), ["full@a.b.service"]);
        assert_eq!(
            units(&index, "/run/pinned/special.pid"),
            Vec::<String>::new()
        );
        assert_eq!(
            units(&index, "/run/special.pid"),
            ["pinned@special.service"]
        );
        assert_eq!(
            units(&index, "/run/pinned/other.pid"),
            ["pinned@other.service"]
        );
        assert_eq!(units(&index, "/run/postgresql/.pid"), Vec::<String>::new());
        assert_eq!(
            units(&index, "/run/postgresql/a b.pid"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_malformed_file_is_skipped_with_an_error_naming_it() {
        let d = Dirs::new(1);
        let bad = d.write(
            0,
            "bad.service",
            "[Service]\nPIDFile=/run/bad.pid\nno equals sign\n",
        );
        d.write(0, "good.service", &service("/run/good.pid"));
        std::fs::write(
            d.dirs[0].join("latin1.service"),
            b"[Service]\nPIDFile=/run/caf\xe9.pid\n",
        )
        .unwrap();
        let (index, errors) = d.build();
        assert_eq!(units(&index, "/run/good.pid"), ["good.service"]);
        assert_eq!(units(&index, "/run/bad.pid"), Vec::<String>::new());
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].path, bad);
        assert_eq!(errors[0].error, "line 3: expected Key=Value");
        assert!(errors[1].error.contains("not UTF-8"));
    }

    #[test]
    fn an_alias_is_indexed_under_its_unit_once() {
        let d = Dirs::new(2);
        let real = d.write(1, "real.service", &service("/run/real.pid"));
        symlink(&real, d.dirs[0].join("alias.service")).unwrap();
        let (index, _) = d.build();
        assert_eq!(units(&index, "/run/real.pid"), ["real.service"]);
    }

    #[test]
    fn a_link_to_a_file_elsewhere_is_the_unit_and_a_link_to_anything_else_masks() {
        let d = Dirs::new(3);
        let elsewhere = d.write(2, "kept/own.service", &service("/run/own.pid"));
        symlink(&elsewhere, d.dirs[0].join("own.service")).unwrap();
        // Not a regular file: masked, and the lower directory's is not read.
        symlink("missing", d.dirs[0].join("dangling.service")).unwrap();
        d.write(1, "dangling.service", &service("/run/dangling.pid"));
        symlink(&d.dirs[2], d.dirs[0].join("dir.service")).unwrap();
        d.write(1, "dir.service", &service("/run/dir.pid"));
        // A relative alias is left to its unit, which a lower directory has.
        symlink("target.service", d.dirs[0].join("other.service")).unwrap();
        d.write(1, "other.service", &service("/run/other.pid"));
        // A directory of drop-ins may be a link to one.
        d.write(
            0,
            "own.d/pid.conf",
            "[Service]\nPIDFile=/run/own-dropin.pid\n",
        );
        symlink("own.d", d.dirs[0].join("own.service.d")).unwrap();
        let (index, errors) = d.build();
        assert_eq!(errors, []);
        assert_eq!(units(&index, "/run/own-dropin.pid"), ["own.service"]);
        let declared = index.declaring(Path::new("/run/own-dropin.pid"));
        assert_eq!(declared[0].source, d.dirs[0].join("own.service.d/pid.conf"));
        for gone in ["/run/own.pid", "/run/dangling.pid", "/run/dir.pid"] {
            assert_eq!(units(&index, gone), Vec::<String>::new(), "{gone}");
        }
        assert_eq!(units(&index, "/run/other.pid"), ["other.service"]);
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_changed_directory_outdates_the_index() {
        let d = Dirs::new(1);
        d.write(0, "a.service", &service("/run/a.pid"));
        let (index, _) = d.build();
        assert!(!index.is_outdated());
        // A coarse mtime may not move within the same tick: step it explicitly.
        d.write(0, "b.service", &service("/run/b.pid"));
        let past = std::fs::FileTimes::new()
            .set_modified(SystemTime::now() - std::time::Duration::from_secs(60));
        std::fs::File::open(&d.dirs[0])
            .unwrap()
            .set_times(past)
            .unwrap();
        assert!(index.is_outdated());
    }
}
