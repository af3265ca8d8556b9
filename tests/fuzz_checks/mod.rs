//! The fuzz targets' entry points and invariants, shared by the targets in
//! `fuzz/fuzz_targets/` (built by cargo-fuzz on nightly) and by
//! `tests/fuzz_corpus.rs`, which replays the checked-in corpora on stable. An
//! input that breaks an invariant panics here, under either harness.

#![allow(dead_code)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use pidscope::config::Config;
use pidscope::probe::identity::parse_stat;
use pidscope::probe::locks::{LockTable, parse_lock_line};
use pidscope::scan::parse::{InvalidPid, MAX_READ, parse_pid};
use pidscope::scan::read::{EntryKind, ReadOutcome, read_pidfile};

/// The kernel's default `pid_max` on 64-bit systems.
const DEFAULT_PID_MAX: u32 = 4_194_304;

/// `parse_pid`. The first byte chooses `truncated` (bit 0) and whether the
/// next four bytes are `pid_max` (bit 1, little-endian; else the default).
pub fn parse_pid_check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let truncated = flags & 1 != 0;
    let (pid_max, content) = match rest.split_first_chunk::<4>() {
        Some((max, content)) if flags & 2 != 0 => (u32::from_le_bytes(*max), content),
        _ => (DEFAULT_PID_MAX, rest),
    };
    match parse_pid(content, truncated, pid_max) {
        Ok(pid) => {
            assert!(pid >= 1, "accepted {pid}");
            assert!(pid as u32 <= pid_max, "accepted {pid} above {pid_max}");
        }
        Err(err) => {
            assert_eq!(content.is_empty(), err == InvalidPid::Empty, "{err:?}");
            if err == InvalidPid::LineTooLong {
                assert!(truncated && !content.contains(&b'\n'));
            }
            let reason = err.to_string();
            assert!(!reason.contains('\n'), "reason spans lines: {reason:?}");
            assert!(reason.chars().count() < 480, "reason too long: {reason:?}");
        }
    }
}

/// A file rewritten in place for every input of [`read_pidfile_check`]: kept
/// open for writing, so that an input costs one `pwrite` and one `ftruncate`
/// rather than an `open(O_TRUNC)`, a `write` and a `close`. Best on a tmpfs.
pub struct Scratch {
    path: PathBuf,
    file: File,
}

impl Scratch {
    /// Create (or empty) the file at `path`.
    pub fn create(path: PathBuf) -> Self {
        let file = File::create(&path)
            .unwrap_or_else(|e| panic!("create the scratch file {}: {e}", path.display()));
        Scratch { path, file }
    }

    /// Make the file hold exactly `data`.
    fn write(&self, data: &[u8]) {
        self.file
            .write_all_at(data, 0)
            .expect("write the scratch file");
        self.file
            .set_len(data.len() as u64)
            .expect("truncate the scratch file");
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `read_pidfile` on a regular file, the scratch file rewritten to hold the
/// input. The first byte chooses the entry kind (bits 0-1) and how many times
/// the rest is repeated (1 to 64, bits 2-7), so files larger than
/// [`MAX_READ`] are tried too: returns whether the file was one.
pub fn read_pidfile_check(data: &[u8], scratch: &Scratch) -> bool {
    let Some((&flags, rest)) = data.split_first() else {
        return false;
    };
    let kind = match flags & 3 {
        0 => EntryKind::Regular,
        1 => EntryKind::Symlink,
        _ => EntryKind::Unknown,
    };
    let written = rest.repeat(1 + usize::from(flags >> 2));
    scratch.write(&written);
    match read_pidfile(scratch.path(), kind) {
        ReadOutcome::Read {
            file,
            content,
            truncated,
        } => {
            assert!(content.len() <= MAX_READ, "read {} bytes", content.len());
            assert_eq!(file.size, written.len() as u64);
            // One branch per case, so that coverage tells them apart and the
            // minimised corpus keeps a file past the limit.
            let past_limit = written.len() > MAX_READ;
            if past_limit {
                assert!(truncated, "{} bytes not truncated", written.len());
                assert_eq!(content[..], written[..MAX_READ]);
            } else {
                assert!(!truncated, "{} bytes truncated", written.len());
                assert_eq!(content[..], written[..]);
            }
            past_limit
        }
        other => panic!("a regular file was not read: {other:?}"),
    }
}

/// `parse_lock_line` on every line and `LockTable::parse` on the whole text
/// (lossy UTF-8, as `/proc/locks` is read): every record a line yields is in
/// the table under its file.
pub fn proc_locks_check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let table = LockTable::parse(&text);
    for line in text.lines() {
        if let Some(record) = parse_lock_line(line) {
            assert!(
                table.on(record.key).contains(&record),
                "{record:?} from {line:?} is missing from the table"
            );
        }
    }
}

/// `parse_stat`: the command name is what lies between the first `(` and the last `)`.
pub fn proc_stat_check(data: &[u8]) {
    if let Some(identity) = parse_stat(data) {
        let open = data.iter().position(|&b| b == b'(').expect("has (");
        let close = data.iter().rposition(|&b| b == b')').expect("has )");
        assert_eq!(
            identity.comm,
            String::from_utf8_lossy(&data[open + 1..close])
        );
        assert_eq!((identity.tgid, identity.uid), (None, None));
    }
}

/// `Config::from_toml` on UTF-8 text: an error names a line of the text, a
/// configuration accepted is one that can be used.
pub fn config_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(Path::new("fuzz.toml"), text) {
        Ok(config) => {
            assert!(!config.patterns.is_empty());
            assert!(config.max_depth >= 1);
            assert!(config.refresh_interval.is_none_or(|d| d.as_millis() >= 100));
            config
                .rules()
                .expect("an accepted configuration has valid globs");
        }
        Err(err) => {
            if let Some(line) = err.line {
                assert!(
                    (1..=text.lines().count() + 1).contains(&line),
                    "line {line} of a {}-line text",
                    text.lines().count()
                );
            }
            let _ = err.to_string();
        }
    }
}

/// `unit_file::pid_file_settings` on a unit file's text (lossy UTF-8, as a
/// file that is not UTF-8 is refused before), then `expand` of every
/// setting for a template instance: a setting is one line, an error names a
/// line of the text, and an expanded path is absolute and normalised.
pub fn unit_file_check(data: &[u8]) {
    use pidscope::systemd::name::UnitName;
    use pidscope::systemd::unit_file::{expand, pid_file_settings};
    let text = String::from_utf8_lossy(data);
    match pid_file_settings(&text) {
        Ok(settings) => {
            if !text.contains("PIDFile") {
                assert!(settings.is_empty(), "{settings:?} without the key");
            }
            let unit = UnitName::parse("fuzz@a-b.service").expect("a valid name");
            for setting in settings {
                assert!(!setting.contains('\n'), "{setting:?} spans lines");
                if let Some(path) = expand(&setting, &unit) {
                    let shown = path.to_string_lossy();
                    assert!(shown.starts_with('/'), "{shown} is relative");
                    assert!(!shown.contains("//") && !shown.contains("/./"), "{shown}");
                    assert!(!shown.starts_with("/var/run/"), "{shown}");
                    assert!(
                        path.components()
                            .all(|c| c != std::path::Component::ParentDir),
                        "{shown} climbs"
                    );
                }
            }
        }
        Err(err) => {
            let lines = text.lines().count();
            assert!(
                (1..=lines.max(1)).contains(&err.line),
                "line {} of {lines}",
                err.line
            );
        }
    }
}

/// `parse_proc_cgroup` and `unit_of` on the text of `/proc/PID/cgroup`, and
/// `Hierarchies::from_mountinfo` on the same bytes: a cgroup found is a
/// line's path, and a unit found is one of its components.
pub fn proc_cgroup_check(data: &[u8]) {
    use pidscope::probe::cgroup::{Hierarchies, parse_proc_cgroup, unit_of};
    let text = String::from_utf8_lossy(data);
    if let Some(path) = parse_proc_cgroup(&text) {
        assert!(path.starts_with('/'), "{path:?}");
        assert!(
            text.lines().any(|l| l.ends_with(&format!(":{path}"))),
            "{path:?} is no line's path"
        );
        if let Some(unit) = unit_of(&path) {
            assert!(
                unit.ends_with(".service") || unit.ends_with(".scope"),
                "{unit}"
            );
            assert!(path.split('/').any(|c| c == unit), "{unit} not in {path}");
        }
    }
    let _ = Hierarchies::from_mountinfo(&text);
}
