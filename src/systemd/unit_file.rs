//! One unit file's `PIDFile=` settings, and what a setting expands to.
//!
//! The syntax is systemd.syntax(7)'s, kept to what `PIDFile=` needs: `[Section]`
//! headers, `Key=Value` lines, `#` and `;` comments, and a trailing `\` that
//! joins a line to the next (comment lines inside a continuation are skipped).

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use super::name::{UnitName, unescape};

/// A line of a unit file that is neither blank, a comment, a section header
/// nor an assignment inside a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub what: &'static str,
}

/// The `PIDFile=` assignments of the `[Service]` section, in file order (an
/// empty string is a reset). A file that never names `PIDFile` is not parsed
/// further: no key can hide from that test, since a continuation joins lines
/// with a space.
pub fn pid_file_settings(text: &str) -> Result<Vec<String>, SyntaxError> {
    if !text.contains("PIDFile") {
        return Ok(Vec::new());
    }
    let mut settings = Vec::new();
    let mut section: Option<&str> = None;
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let name = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .filter(|n| !n.is_empty() && !n.contains(['[', ']']))
                .ok_or(SyntaxError {
                    line: number,
                    what: "a section header must be [Name]",
                })?;
            section = Some(name);
            continue;
        }
        // Only a line continued on the next is copied.
        let joined = if line.ends_with('\\') {
            Cow::Owned(join_continued(line, &mut lines))
        } else {
            Cow::Borrowed(line)
        };
        let Some((key, value)) = joined.split_once('=') else {
            return Err(SyntaxError {
                line: number,
                what: "expected Key=Value",
            });
        };
        let Some(section) = section else {
            return Err(SyntaxError {
                line: number,
                what: "an assignment before any [Section]",
            });
        };
        if section == "Service" && key.trim() == "PIDFile" {
            settings.push(value.trim().to_owned());
        }
    }
    Ok(settings)
}

/// `line`, which ends in `\`, joined to the lines it continues on.
fn join_continued<'a>(line: &str, lines: &mut impl Iterator<Item = (usize, &'a str)>) -> String {
    let mut joined = line.to_owned();
    while let Some(cut) = joined.strip_suffix('\\') {
        joined.truncate(cut.len());
        match lines.next() {
            Some((_, next)) if matches!(next.trim_start().chars().next(), Some('#' | ';')) => {
                joined.push('\\');
            }
            Some((_, next)) => {
                joined.push(' ');
                joined.push_str(next.trim());
            }
            None => break,
        }
    }
    joined
}

/// One piece of a `PIDFile=` value: text, or a specifier that depends on
/// the instance name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text, with the instance-free specifiers already expanded.
    Text(String),
    /// `%i`, `%I`, `%n` or `%N`.
    Instance(char),
}

/// Split `value` into pieces for `unit`, expanding `%p %P %t %%` at once.
/// `None` when it uses any other specifier (systemd's other specifiers name
/// the host or the user, which a pidfile path should not depend on), or
/// ends in a lone `%`.
pub fn pieces(value: &str, unit: &UnitName) -> Option<Vec<Piece>> {
    let mut out: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        match chars.next()? {
            '%' => text.push('%'),
            't' => text.push_str("/run"),
            'p' => text.push_str(&unit.prefix),
            'P' => text.push_str(&unescape(&unit.prefix)?),
            s @ ('i' | 'I' | 'n' | 'N') => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Instance(s));
            }
            _ => return None,
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Some(out)
}

/// What an instance specifier expands to for `unit`.
pub fn instance_text(specifier: char, unit: &UnitName) -> Option<String> {
    let instance = unit.instance.clone().unwrap_or_default();
    Some(match specifier {
        'i' => instance,
        'I' => unescape(&instance)?,
        'n' => unit.full.clone(),
        'N' => unit.full.strip_suffix(".service")?.to_owned(),
        _ => return None,
    })
}

/// The path a `PIDFile=` value names for `unit`: specifiers expanded, a
/// relative path put under `/run/`, `/var/run/` read as `/run/`, and
/// repeated or trailing slashes and `.` dropped. `None` when the value uses
/// an unsupported specifier or holds a `..`, as systemd then ignores it.
pub fn expand(value: &str, unit: &UnitName) -> Option<PathBuf> {
    let mut text = String::new();
    for piece in pieces(value, unit)? {
        match piece {
            Piece::Text(t) => text.push_str(&t),
            Piece::Instance(s) => text.push_str(&instance_text(s, unit)?),
        }
    }
    normalize(&text)
}

/// A pidfile path as systemd reads it: see [`expand`].
pub fn normalize(text: &str) -> Option<PathBuf> {
    if text.is_empty() {
        return None;
    }
    let absolute = if text.starts_with('/') {
        PathBuf::from(text)
    } else {
        Path::new("/run").join(text)
    };
    let mut out = PathBuf::from("/");
    for component in absolute.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    match out.strip_prefix("/var/run") {
        Ok(rest) if rest.as_os_str().is_empty() => Some(PathBuf::from("/run")),
        Ok(rest) => Some(Path::new("/run").join(rest)),
        Err(_) => Some(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str) -> UnitName {
        UnitName::parse(name).unwrap()
    }

    #[test]
    fn settings_come_from_the_service_section_in_order() {
        let text = "\
# PIDFile=/run/commented.pid
[Unit]
Description=PIDFile=/run/unit-section.pid

[Service]
Type=forking
PIDFile=/run/first.pid
  PIDFile = /run/second.pid
PIDFile=
ExecStart=/usr/bin/x \\
  --pidfile=/run/x.pid
; PIDFile=/run/semicolon.pid
[Install]
PIDFile=/run/install.pid
";
        assert_eq!(
            pid_file_settings(text).unwrap(),
            ["/run/first.pid", "/run/second.pid", ""]
        );
    }

    #[test]
    fn a_continuation_joins_lines_and_skips_comments_inside_it() {
        let text = "[Service]\nPIDFile=/run/a\\\n# a comment\nb.pid\n";
        assert_eq!(pid_file_settings(text).unwrap(), ["/run/a b.pid"]);
        let text = "[Service]\nPIDFile=/run/x\\\n.pid\n";
        assert_eq!(pid_file_settings(text).unwrap(), ["/run/x .pid"]);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        for (text, line) in [
            ("[Service]\nPIDFile=/run/a.pid\nnonsense\n", 3),
            ("PIDFile=/run/a.pid\n[Service]\n", 1),
            ("[Service\nPIDFile=/run/a.pid\n", 1),
            ("[]\nPIDFile=/run/a.pid\n", 1),
        ] {
            assert_eq!(pid_file_settings(text).unwrap_err().line, line, "{text:?}");
        }
        // A file that never mentions the key is not parsed at all.
        assert_eq!(
            pid_file_settings("garbage\n[[[").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn specifiers_expand_as_systemd_does() {
        let pg = unit("postgresql@15-main.service");
        let cases = [
            (
                "/run/postgresql/%i.pid",
                Some("/run/postgresql/15-main.pid"),
            ),
            (
                "/run/postgresql/%I.pid",
                Some("/run/postgresql/15/main.pid"),
            ),
            (
                "%t/%p/%n",
                Some("/run/postgresql/postgresql@15-main.service"),
            ),
            ("/run/%N.pid", Some("/run/postgresql@15-main.pid")),
            ("/run/100%%.pid", Some("/run/100%.pid")),
            ("relative/%P.pid", Some("/run/relative/postgresql.pid")),
            ("/var/run/x.pid", Some("/run/x.pid")),
            ("/var/run", Some("/run")),
            ("//run//./x.pid/", Some("/run/x.pid")),
            ("/var/running.pid", Some("/var/running.pid")),
            ("/run/%H.pid", None),
            ("/run/x%", None),
            ("/run/../etc/x.pid", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(expand(value, &pg), want.map(PathBuf::from), "{value}");
        }
    }

    #[test]
    fn pieces_keep_instance_specifiers_apart() {
        let t = unit("foo@.service");
        assert_eq!(
            pieces("%t/%p/%i-%I.pid", &t).unwrap(),
            [
                Piece::Text("/run/foo/".into()),
                Piece::Instance('i'),
                Piece::Text("-".into()),
                Piece::Instance('I'),
                Piece::Text(".pid".into()),
            ]
        );
    }
}
