//! Pidfiles whose names are not UTF-8 (`caf\xe9.pid`, Latin-1 bytes as old
//! tools write them) are found, judged, deleted and reported like any other:
//! `clean` (dry run and real) and the inspector delete the very file by its
//! bytes, two names that differ only in such a byte are two files, and every
//! output stays valid: JSON, the Prometheus text format (parsed here line by
//! line, escapes included) and the action log show the name with U+FFFD for
//! the bytes that are not UTF-8.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::inspector::{Inspector, table_row};
use common::*;
use serde_json::Value;

/// `caf\xe9.pid`: "café" in Latin-1.
const LATIN1: &[u8] = b"caf\xe9.pid";
/// `caf\xe8.pid`: a second name that reads the same once made UTF-8 lossily.
const LATIN1_TWIN: &[u8] = b"caf\xe8.pid";
/// How both names read once made UTF-8: U+FFFD for the stray byte.
const LOSSY: &str = "caf\u{FFFD}.pid";

/// Writes `content` to the file named by the raw bytes `name` in `dir`.
fn write_raw(dir: &Path, name: &[u8], content: &str) -> PathBuf {
    let path = dir.join(OsStr::from_bytes(name));
    fs::write(&path, content).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    path
}

/// `path` as pidscope writes it in text outputs: lossy UTF-8.
fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A dir with the two stale Latin-1 pidfiles and a live UTF-8 one.
fn stale_twins() -> (tempfile::TempDir, [PathBuf; 2], Proc) {
    let dir = tempdir();
    let sleeper = spawn_sleep();
    let twins = [
        write_raw(dir.path(), LATIN1, &format!("{}\n", dead_pid())),
        write_raw(dir.path(), LATIN1_TWIN, &format!("{}\n", dead_pid())),
    ];
    write_pidfile(dir.path(), "sleep.pid", &format!("{}\n", sleeper.pid()));
    (dir, twins, sleeper)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The `action` of each `results` entry of `clean --json` whose path is `path`.
fn actions_for(doc: &Value, path: &str) -> Vec<String> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["path"] == path)
        .map(|r| r["action"].as_str().expect("action").to_string())
        .collect()
}

#[test]
fn clean_dry_run_lists_them_and_keeps_them() {
    let (dir, twins, _sleeper) = stale_twins();
    let shown = lossy(&twins[0]);
    assert_eq!(shown, lossy(&twins[1]), "the twins read the same");

    let out = run(bin().args(["clean", "--dry-run", "--json"]).arg(dir.path()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(
        actions_for(&doc, &shown),
        ["would-remove", "would-remove"],
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["would_remove"], 2, "{doc:#}");

    let out = run(bin().args(["clean", "--dry-run"]).arg(dir.path()));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("the table is UTF-8");
    let lines = text
        .lines()
        .filter(|l| l.starts_with("would remove") && l.contains(&shown))
        .count();
    assert_eq!(lines, 2, "{text}");
    assert!(twins.iter().all(|p| p.exists()), "a dry run removed a file");
}

#[test]
fn clean_removes_each_by_its_own_name() {
    let (dir, twins, _sleeper) = stale_twins();
    let out = run(bin().args(["clean", "--yes", "--json"]).arg(dir.path()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(
        actions_for(&doc, &lossy(&twins[0])),
        ["removed", "removed"],
        "{doc:#}"
    );
    for twin in &twins {
        assert!(!twin.exists(), "{twin:?} survived");
    }
    assert!(
        dir.path().join("sleep.pid").exists(),
        "the live pidfile went too"
    );
    // Only the live pidfile is left: nothing was renamed aside and forgotten.
    let left: Vec<_> = fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, [OsStr::new("sleep.pid")], "{left:?}");
}

#[test]
fn the_inspector_deletes_one_and_logs_it() {
    let dir = tempdir();
    let stale = write_raw(dir.path(), LATIN1, &format!("{}\n", dead_pid()));
    let tui = Inspector::start(
        "latin1",
        &[
            OsStr::new("--interval"),
            OsStr::new("500ms"),
            dir.path().as_os_str(),
        ],
        &[],
    );
    // tmux draws U+FFFD as itself in a UTF-8 locale, as `_` otherwise.
    let row = |s: &str| table_row(s, LOSSY).or_else(|| table_row(s, "caf_.pid"));
    let screen = tui.wait_for("the Latin-1 row", |s| row(s).is_some());
    assert_eq!(
        row(&screen).map(|r| r.1).as_deref(),
        Some("stale"),
        "{screen}"
    );

    tui.key("d");
    tui.wait_text("Delete 1 pidfile?");
    tui.key("y");
    tui.wait_for("the deletion's message", |s| {
        common::inspector::footer(s).is_some_and(|f| f.starts_with("deleted "))
    });
    assert!(!stale.exists(), "{stale:?} is still there");
    let log = tui.action_log();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["action"], "delete");
    assert_eq!(log[0]["result"], "ok");
    assert_eq!(log[0]["path"], lossy(&stale));
    tui.wait_for("the row to go", |s| row(s).is_none());
}

#[test]
fn audit_json_shows_them_lossily() {
    let dir = tempdir();
    let stale = write_raw(dir.path(), LATIN1, &format!("{}\n", dead_pid()));
    let invalid = write_raw(dir.path(), b"na\xefve\".pid", "garbage\n");
    let out = run(bin().args(["audit", "--json"]).arg(dir.path()));
    let doc = json(&out);
    let entries = doc["entries"].as_array().expect("entries");
    for (path, status) in [(&stale, "stale"), (&invalid, "invalid")] {
        let entry = entries
            .iter()
            .find(|e| e["path"] == lossy(path))
            .unwrap_or_else(|| panic!("no entry for {path:?}: {doc:#}"));
        assert_eq!(entry["status"], status, "{entry:#}");
    }
}

#[test]
fn audit_prometheus_label_values_stay_valid() {
    let dir = tempdir();
    let stale = write_raw(dir.path(), LATIN1, &format!("{}\n", dead_pid()));
    // Its twin reads the same once made UTF-8 lossily: still its own series.
    let twin = write_raw(dir.path(), LATIN1_TWIN, "garbage\n");
    // A quote and a backslash too, which the format makes escapes of.
    let odd = write_raw(dir.path(), b"na\xefve\"\\.pid", "garbage\n");
    let out = run(bin()
        .args(["audit", "--format", "prometheus"])
        .arg(dir.path()));
    let text = String::from_utf8(out.stdout).expect("the exposition format is UTF-8");
    let mut paths = Vec::new();
    let mut series = std::collections::HashSet::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let sample = parse_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}\n{text}"));
        // The format wants one line per metric name and label set.
        assert!(
            series.insert((sample.name.clone(), sample.labels.clone())),
            "a second line for the same series: {line:?}\n{text}"
        );
        if sample.name == "pidscope_pidfile_info" {
            paths.extend(
                sample
                    .labels
                    .into_iter()
                    .filter(|(k, _)| k == "path")
                    .map(|(_, v)| v),
            );
        }
    }
    paths.sort();
    // Bytes that are not UTF-8 are written `\xNN`, and a real backslash doubled.
    let label = |p: &Path| {
        let name = p.file_name().expect("a name").as_bytes();
        let mut text = format!("{}/", p.parent().expect("a dir").display());
        for chunk in name.utf8_chunks() {
            text.push_str(&chunk.valid().replace('\\', "\\\\"));
            for b in chunk.invalid() {
                text.push_str(&format!("\\x{b:02x}"));
            }
        }
        text
    };
    let mut expected = vec![label(&stale), label(&twin), label(&odd)];
    expected.sort();
    assert_eq!(paths, expected, "{text}");
}

/// One sample line of the text exposition format.
struct Sample {
    name: String,
    /// Label names and their unescaped values.
    labels: Vec<(String, String)>,
}

/// Parses `name{label="value",...} number [timestamp]` strictly: names of
/// the allowed characters, values quoted with only `\\`, `\"` and `\n`
/// escapes, a number after one space.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let is_name = |s: &str, colon: bool| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let label = &rest[..eq];
            if !is_name(label, false) {
                return Err(format!("bad label name {label:?}"));
            }
            let mut chars = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("unquoted value")?
                .char_indices();
            let mut value = String::new();
            let end = loop {
                match chars.next().ok_or("unterminated value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("dangling \\")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    (_, '\n') => return Err("raw newline in a value".into()),
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_string(), value));
            rest = &rest[eq + 1 + 1 + end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = fields.next().ok_or("no value")?;
    if value.parse::<f64>().is_err() && !["+Inf", "-Inf", "NaN"].contains(&value) {
        return Err(format!("bad value {value:?}"));
    }
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("bad timestamp {ts:?}"));
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
    })
}

#[test]
fn the_sample_parser_rejects_what_the_format_forbids() {
    // The checks above are only as good as this parser.
    for good in [
        "m 1",
        "m{a=\"x\"} 1.5",
        "m{a=\"q\\\"b\\\\n\\n\",b=\"\"} 0 123",
        "m{a=\"\u{FFFD}\",} +Inf",
    ] {
        assert!(
            parse_sample(good).is_ok(),
            "{good}: {:?}",
            parse_sample(good).err()
        );
    }
    for bad in [
        "m{a=\"x\"\"} 1",
        "m{a=\"x\\q\"} 1",
        "m{a=\"x} 1",
        "m{a=x} 1",
        "m{1a=\"x\"} 1",
        "m 1 2 3",
        "m{a=\"x\"}  1",
        "m{a=\"x\"} one",
    ] {
        assert!(parse_sample(bad).is_err(), "accepted {bad:?}");
    }
}
