//! The JSON document of `pidscope audit --json`.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::{Report, Summary};
use crate::probe::namespace::PidNamespace;
use crate::scan::ScanError;
use crate::verdict::Entry;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(serialize_with = "lossy_root_paths")]
    roots: &'a [PathBuf],
    #[serde(serialize_with = "crate::serial::epoch_seconds")]
    scanned_at: SystemTime,
    duration_seconds: f64,
    pid_namespace: PidNamespace,
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
///
/// The serialiser writes in many small pieces (a key, a colon, an indent):
/// a buffer of its own, of a type known here, makes each a copy in memory
/// instead of a call through `out` (often a `&mut dyn Write`).
pub fn write(report: &Report, out: impl std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let doc = Document {
        roots: &report.roots,
        scanned_at: report.started_at,
        duration_seconds: report.duration.as_secs_f64(),
        pid_namespace: report.pid_namespace,
        entries: &report.entries,
        errors: &report.errors,
        summary: report.summary(),
    };
    serde_json::to_writer_pretty(&mut out, &doc)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn lossy_root_paths<S: Serializer>(paths: &&[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    crate::serial::lossy_paths(paths, s)
}
