//! The JSON document of `pidscope audit --json`, and serde helpers for
//! non-UTF-8 paths (written lossily) and times (epoch seconds).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use super::{Report, Summary};
use crate::scan::ScanError;
use crate::verdict::Entry;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(serialize_with = "lossy_root_paths")]
    roots: &'a [PathBuf],
    #[serde(serialize_with = "epoch_seconds")]
    scanned_at: SystemTime,
    duration_seconds: f64,
    entries: &'a [Entry],
    errors: &'a [ScanError],
    summary: Summary,
}

/// Render the report as one pretty-printed JSON document.
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    // Writing plain data into memory cannot fail.
    let _ = write(report, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Stream the report as one pretty-printed JSON document (and a newline) to
/// `out`, without building the whole text in memory first.
pub fn write(report: &Report, mut out: impl std::io::Write) -> std::io::Result<()> {
    let doc = Document {
        roots: &report.roots,
        scanned_at: report.started_at,
        duration_seconds: report.duration.as_secs_f64(),
        entries: &report.entries,
        errors: &report.errors,
        summary: report.summary(),
    };
    serde_json::to_writer_pretty(&mut out, &doc)?;
    out.write_all(b"\n")
}

/// A time as fractional seconds since the Unix epoch.
pub fn epoch_seconds<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    s.serialize_f64(secs)
}

/// Permission bits as a four-digit octal string, as `stat -c %04a` prints them.
pub fn octal_mode<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

/// An optional time as epoch seconds or null.
pub fn epoch_seconds_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => epoch_seconds(t, s),
        None => s.serialize_none(),
    }
}

/// A path as a string; bytes that are not UTF-8 become U+FFFD.
pub fn lossy_path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// An optional path, lossily.
pub fn lossy_path_opt<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => lossy_path(p, s),
        None => s.serialize_none(),
    }
}

/// A list of paths, lossily.
pub fn lossy_paths<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

fn lossy_root_paths<S: Serializer>(paths: &&[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    lossy_paths(paths, s)
}
