//! Configuration: a TOML file plus command-line overrides, validated once.
//!
//! Looked up in order: `--config FILE` (or `$PIDSCOPE_CONFIG`), then
//! `$XDG_CONFIG_HOME/pidscope/config.toml` (`~/.config/...` when unset), then
//! `/etc/pidscope/config.toml`, then built-in defaults. Unknown keys and wrong
//! types are errors naming the file, the line and the key.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::scan::discover::Rules;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Directories to scan when no PATH is given. Empty means the defaults (`/run`, `/var/run`).
    pub dirs: Vec<PathBuf>,
    /// File-name globs of pidfiles.
    pub patterns: Vec<String>,
    /// Globs of names or paths to skip.
    pub exclude: Vec<String>,
    /// How deep below each root to look.
    pub max_depth: usize,
    /// How often the inspector and `watch` scan everything again. `None`:
    /// 30 s while the kernel reports changes (the safety net), 2 s when it
    /// cannot (see `live`).
    pub refresh_interval: Option<Duration>,
    /// Start the TUI read-only: no action can be started.
    pub read_only: bool,
    /// Capture the mouse in the TUI (wheel and click).
    pub mouse: bool,
    /// Where every delete and signal is recorded (default: `/var/log/pidscope/actions.log` for
    /// root, `$XDG_STATE_HOME/pidscope/actions.log` for others).
    pub action_log: Option<PathBuf>,
    /// Invalid pidfiles younger than this are never deleted.
    pub invalid_grace: Duration,
    /// The pidfiles' PIDs belong to the PID namespace pidscope runs in, even a
    /// nested one (a sidecar sharing its pod's namespace): stale verdicts may
    /// then be acted on there.
    pub same_namespace: bool,
    /// Read systemd's unit files and cgroups to tell which unit declares each
    /// pidfile and whether systemd would accept it.
    pub systemd: bool,
    /// Where to read unit files from, highest priority first. Empty means
    /// systemd's system search path.
    pub unit_dirs: Vec<PathBuf>,
    /// The file the configuration came from, if any.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dirs: Vec::new(),
            patterns: vec!["*.pid".into()],
            exclude: Vec::new(),
            max_depth: 4,
            refresh_interval: None,
            read_only: false,
            mouse: true,
            action_log: None,
            invalid_grace: crate::policy::delete::DEFAULT_GRACE,
            same_namespace: false,
            systemd: true,
            unit_dirs: Vec::new(),
            source: None,
        }
    }
}

/// A configuration that cannot be used; always names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub path: PathBuf,
    /// The 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// The key concerned, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    dirs: Option<Vec<PathBuf>>,
    patterns: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    max_depth: Option<usize>,
    refresh_interval: Option<DurationValue>,
    read_only: Option<bool>,
    mouse: Option<bool>,
    action_log: Option<PathBuf>,
    invalid_grace: Option<DurationValue>,
    same_namespace: Option<bool>,
    systemd: Option<bool>,
    unit_dirs: Option<Vec<PathBuf>>,
}

/// A duration written as seconds (`2`, `0.5`) or with a unit (`"500ms"`, `"2s"`, `"1m"`).
struct DurationValue(Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: seconds as a number, or a string like \"500ms\" or \"2s\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                u64::try_from(v)
                    .map(|s| DurationValue(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationValue, E> {
                Duration::try_from_secs_f64(v)
                    .map(DurationValue)
                    .map_err(|_| E::custom("a duration must be a non-negative number of seconds"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                parse_duration(v).map(DurationValue).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse `"500ms"`, `"2s"`, `"1m30s"`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{text:?} is not a valid duration"));
    }
    humantime::parse_duration(text).map_err(|e| format!("{text:?} is not a valid duration ({e})"))
}

impl Config {
    /// Load the configuration: `explicit` if given (it must exist), else the first
    /// of the user's and the system's files that exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = explicit {
            return Self::from_file(path);
        }
        for path in default_locations() {
            if path.exists() {
                return Self::from_file(&path);
            }
        }
        Ok(Config::default())
    }

    /// Load and validate one file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = read_config_text(path).map_err(|message| ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message,
        })?;
        Self::from_toml(path, &text)
    }

    /// Parse and validate TOML text; `path` is only used in error messages.
    pub fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let start = e.span().map(|s| s.start);
            ConfigError {
                path: path.to_path_buf(),
                line: start.map(|s| text[..s.min(text.len())].matches('\n').count() + 1),
                key: unknown_field(e.message()).or_else(|| start.and_then(|s| key_at(text, s))),
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        let invalid = |key: &str, message: String| ConfigError {
            path: path.to_path_buf(),
            line: line_of_key(text, key),
            key: Some(key.to_string()),
            message,
        };
        let defaults = Config::default();
        let config = Config {
            dirs: raw.dirs.unwrap_or_default(),
            patterns: raw.patterns.unwrap_or(defaults.patterns),
            exclude: raw.exclude.unwrap_or_default(),
            max_depth: raw.max_depth.unwrap_or(defaults.max_depth),
            refresh_interval: raw.refresh_interval.map(|d| d.0),
            read_only: raw.read_only.unwrap_or(defaults.read_only),
            mouse: raw.mouse.unwrap_or(defaults.mouse),
            action_log: raw.action_log,
            invalid_grace: raw.invalid_grace.map_or(defaults.invalid_grace, |d| d.0),
            same_namespace: raw.same_namespace.unwrap_or(defaults.same_namespace),
            systemd: raw.systemd.unwrap_or(defaults.systemd),
            unit_dirs: raw.unit_dirs.unwrap_or_default(),
            source: Some(path.to_path_buf()),
        };
        if config.patterns.is_empty() {
            return Err(invalid("patterns", "must name at least one pattern".into()));
        }
        if config.max_depth == 0 {
            return Err(invalid("max_depth", "must be at least 1".into()));
        }
        if config
            .refresh_interval
            .is_some_and(|d| d < Duration::from_millis(100))
        {
            return Err(invalid("refresh_interval", "must be at least 100ms".into()));
        }
        build_globs(&config.patterns).map_err(|m| invalid("patterns", m))?;
        build_globs(&config.exclude).map_err(|m| invalid("exclude", m))?;
        Ok(config)
    }

    /// The roots to scan: the PATHs given on the command line, else [`Config::default_roots`].
    pub fn roots_for(&self, paths: Vec<PathBuf>) -> Vec<PathBuf> {
        if paths.is_empty() {
            self.default_roots()
        } else {
            paths
        }
    }

    /// The roots to scan when no PATH is given: the configured `dirs`, else
    /// `/run`, plus `/var/run` only when it is not the same directory.
    /// Where the scanner reads systemd units from: `unit_dirs`, else
    /// systemd's system search path; `None` when `systemd = false`.
    pub fn unit_dirs(&self) -> Option<Vec<PathBuf>> {
        if !self.systemd {
            return None;
        }
        if self.unit_dirs.is_empty() {
            return Some(crate::systemd::index::system_unit_dirs());
        }
        Some(self.unit_dirs.clone())
    }

    /// The roots scanned when no PATH is given.
    pub fn default_roots(&self) -> Vec<PathBuf> {
        if !self.dirs.is_empty() {
            return self.dirs.clone();
        }
        let mut roots = vec![PathBuf::from("/run")];
        if !same_directory(Path::new("/run"), Path::new("/var/run"))
            && Path::new("/var/run").is_dir()
        {
            roots.push(PathBuf::from("/var/run"));
        }
        roots
    }

    /// The walk rules (compiled globs and depth).
    pub fn rules(&self) -> Result<Rules, String> {
        Ok(Rules {
            patterns: build_globs(&self.patterns)?,
            exclude: build_globs(&self.exclude)?,
            max_depth: self.max_depth,
        })
    }
}

/// The largest configuration file read; anything bigger is a mistake (or `/dev/zero`).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Read a configuration file without blocking on a FIFO or reading a device forever.
fn read_config_text(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // `--config /dev/null`: the usual way to say "no configuration, only defaults".
    if path == Path::new("/dev/null") {
        return Ok(String::new());
    }
    let describe = crate::scan::read::describe;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot read: {}", describe(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read: {}", describe(&e)))?;
    if !meta.is_file() {
        return Err(format!(
            "not a regular file: {}",
            crate::scan::read::file_type_name(&meta)
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!("larger than {} bytes", MAX_CONFIG_BYTES));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {}", describe(&e)))?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

fn same_directory(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p).map_err(|e| format!("bad glob {p:?}: {}", e.kind()))?);
    }
    set.build().map_err(|e| e.to_string())
}

/// The system's configuration file, read when the user has none.
pub const SYSTEM_CONFIG: &str = "/etc/pidscope/config.toml";

/// The user's configuration file, below `$XDG_CONFIG_HOME` (else `~/.config`).
pub const USER_CONFIG: &str = "pidscope/config.toml";

/// The user's and the system's configuration files, in lookup order.
pub fn default_locations() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config"));
    if let Some(base) = xdg.or(home) {
        paths.push(base.join(USER_CONFIG));
    }
    paths.push(PathBuf::from(SYSTEM_CONFIG));
    paths
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The key whose value holds byte offset `at`: the nearest `key =` or `[key]`
/// line at or before it (values such as arrays may span several lines).
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[..end].lines().rev().find_map(|line| {
        let line = line.trim();
        if let Some(table) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            return Some(table.trim().to_string());
        }
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"');
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        bare.then(|| key.to_string())
    })
}

fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("/etc/pidscope/config.toml"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = load("").expect("valid");
        assert_eq!(c.patterns, vec!["*.pid"]);
        assert_eq!(c.max_depth, 4);
        assert_eq!(c.refresh_interval, None);
    }

    #[test]
    fn every_key_is_read() {
        let c = load("dirs = [\"/srv/run\"]\npatterns = [\"*.pid\", \"pid\"]\nexclude = [\"*.lock\"]\nmax_depth = 2\nrefresh_interval = \"500ms\"\nread_only = true\nmouse = false\n").expect("valid");
        assert!(c.read_only && !c.mouse);
        assert_eq!(c.dirs, vec![PathBuf::from("/srv/run")]);
        assert_eq!(c.patterns.len(), 2);
        assert_eq!(c.max_depth, 2);
        assert_eq!(c.refresh_interval, Some(Duration::from_millis(500)));
        assert_eq!(
            load("refresh_interval = 3")
                .expect("valid")
                .refresh_interval,
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            load("refresh_interval = 0.5")
                .expect("valid")
                .refresh_interval,
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = load("max_depth = 3\ndirz = [\"/run\"]\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("dirz"));
        let shown = e.to_string();
        assert!(
            shown.starts_with("config /etc/pidscope/config.toml line 2, key `dirz`: unknown field"),
            "{shown}"
        );
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = load("dirs = [\"/run\"]\nmax_depth = \"four\"\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("max_depth"));
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn errors_inside_multi_line_values_name_the_key() {
        let e = load("max_depth = 2\ndirs = [\n  \"/run\",\n  3,\n]\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("dirs"), Some(4)), "{e}");
        let e = load("[dirs]\nx = 1\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("dirs"), "{e}");
    }

    #[test]
    fn special_files_are_not_read_as_config() {
        let e = Config::from_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a regular file: character device"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            load("max_depth = 0").unwrap_err().key.as_deref(),
            Some("max_depth")
        );
        assert_eq!(
            load("patterns = []").unwrap_err().key.as_deref(),
            Some("patterns")
        );
        let e = load("\nexclude = [\"[a-\"]").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("exclude"), Some(2)));
        assert!(load("refresh_interval = \"soon\"").is_err());
        assert!(load("refresh_interval = -1").is_err());
        assert!(load("not toml at all [").is_err());
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/pidscope.toml"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/pidscope.toml"));
        assert!(e.to_string().contains("no such file"), "{e}");
    }
}
