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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::name::{UnitName, escape, valid_instance};
use super::unit_file::{Piece, SyntaxError, expand, normalize, pid_file_settings, pieces};

pub use super::search::{SYSTEM_UNIT_PATH, UnitError, system_unit_dirs};

/// A unit that declares a pidfile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Clone)]
struct Setting {
    value: String,
    source: PathBuf,
}

/// A template with the `PIDFile=` its instances inherit, for matching.
#[derive(Debug, Clone)]
struct Template {
    name: UnitName,
    setting: Setting,
    pieces: Vec<Piece>,
    /// The text before the first instance specifier, normalised as
    /// [`expand`] would: a path must start with it to be an instance's.
    prefix: String,
}

/// The index of declared pidfiles, built once per scan.
#[derive(Debug, Default)]
pub struct UnitIndex {
    exact: HashMap<PathBuf, Vec<Declaration>>,
    templates: Vec<Template>,
    /// Parsed settings by file, for instances' drop-ins at lookup.
    settings: HashMap<PathBuf, Vec<String>>,
    /// Unit files that are empty: their units are masked.
    masked: HashSet<PathBuf>,
    /// Drop-in files by unit name (`foo.service`), already in apply order.
    dropins: HashMap<String, Vec<PathBuf>>,
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
    units_read: usize,
}

impl UnitIndex {
    /// Read every service unit under `dirs` (highest priority first).
    pub fn build(dirs: &[PathBuf]) -> (UnitIndex, Vec<UnitError>) {
        let mut index = UnitIndex::default();
        let mut errors = Vec::new();
        let listing = super::search::list(dirs);
        index.stamps = listing.stamps;
        index.dropins = listing.dropins;
        errors.extend(listing.errors);
        let units = listing.units;
        for found in units.into_values().flatten() {
            index.add(&found, &mut errors);
        }
        // Every drop-in is read here, once: lookups then never touch the disk.
        let all_dropins: Vec<PathBuf> = index.dropins.values().flatten().cloned().collect();
        for dropin in all_dropins {
            index.settings_of(&dropin, &mut errors);
        }
        // An instance with its own drop-ins may set a path its template's
        // pattern cannot find: index it by its concrete path.
        let instances: Vec<String> = index
            .dropins
            .keys()
            .filter(|u| UnitName::parse(u).is_some_and(|n| n.template().is_some()))
            .cloned()
            .collect();
        for unit in instances {
            let name = UnitName::parse(&unit).expect("filtered above");
            if let Some(declaration) = index.resolve_instance(&name) {
                let path = declaration.path.clone();
                index.exact.entry(path).or_default().push(declaration);
            }
        }
        for declarations in index.exact.values_mut() {
            declarations.sort();
            declarations.dedup();
        }
        (index, errors)
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
        let mut out = self.exact.get(path).cloned().unwrap_or_default();
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

    fn add(&mut self, found: &super::search::Found, errors: &mut Vec<UnitError>) {
        let own = match self.settings_of(&found.file, errors) {
            Some(_) if self.masked.contains(&found.file) => return,
            Some(s) => s,
            None => return,
        };
        let mut chain = vec![(found.file.clone(), own)];
        for dropin in self
            .dropins
            .get(&found.name.full)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(s) = self.settings_of(&dropin, errors) {
                chain.push((dropin, s));
            }
        }
        let Some(setting) = last_word(&chain) else {
            return;
        };
        self.units_read += 1;
        if found.name.is_template() {
            if let Some(pieces) = pieces(&setting.value, &found.name) {
                self.templates.push(Template {
                    name: found.name.clone(),
                    setting,
                    prefix: literal_prefix(&pieces),
                    pieces,
                });
            }
            return;
        }
        if let Some(path) = expand(&setting.value, &found.name) {
            self.exact
                .entry(path.clone())
                .or_default()
                .push(Declaration {
                    unit: found.name.full.clone(),
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
        let base = template.map(|t| t.setting.clone());
        let mut dropins: Vec<PathBuf> = Vec::new();
        for name in [&template_name, &unit.full] {
            dropins.extend(self.dropins.get(name.as_str()).cloned().unwrap_or_default());
        }
        dropins.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut current = base;
        for dropin in dropins {
            // Read at build; one that could not be used is a build error.
            let Some(settings) = self.settings.get(&dropin).cloned() else {
                continue;
            };
            for value in settings {
                current = (!value.is_empty()).then(|| Setting {
                    value,
                    source: dropin.clone(),
                });
            }
        }
        let setting = current?;
        Some(Declaration {
            unit: unit.full.clone(),
            path: expand(&setting.value, unit)?,
            setting: setting.value,
            source: setting.source,
        })
    }

    fn settings_of(&mut self, file: &Path, errors: &mut Vec<UnitError>) -> Option<Vec<String>> {
        if let Some(s) = self.settings.get(file) {
            return Some(s.clone());
        }
        match read_settings(file) {
            Ok((s, empty)) => {
                if empty {
                    self.masked.insert(file.to_path_buf());
                }
                self.settings.insert(file.to_path_buf(), s.clone());
                Some(s)
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    }
}

/// The setting left after applying every file of `chain` in order.
fn last_word(chain: &[(PathBuf, Vec<String>)]) -> Option<Setting> {
    let mut current = None;
    for (file, settings) in chain {
        for value in settings {
            current = (!value.is_empty()).then(|| Setting {
                value: value.clone(),
                source: file.clone(),
            });
        }
    }
    current
}

/// A unit file's `PIDFile=` settings, and whether it is empty (an empty
/// unit file masks the unit, as a link to `/dev/null` does).
fn read_settings(file: &Path) -> Result<(Vec<String>, bool), UnitError> {
    let bytes = read_small(file).map_err(|e| UnitError {
        path: file.to_path_buf(),
        error: format!(
            "cannot read the unit file: {}",
            crate::scan::read::describe(&e)
        ),
    })?;
    let empty = bytes.is_empty();
    let text = String::from_utf8(bytes).map_err(|_| UnitError {
        path: file.to_path_buf(),
        error: "the unit file is not UTF-8".into(),
    })?;
    pid_file_settings(&text)
        .map(|settings| (settings, empty))
        .map_err(|SyntaxError { line, what }| UnitError {
            path: file.to_path_buf(),
            error: format!("line {line}: {what}"),
        })
}

/// Read a whole file without first asking its size (`std::fs::read` does):
/// a unit file is small, and an index reads a thousand of them.
fn read_small(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(file)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
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
