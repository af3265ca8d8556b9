//! The Prometheus text exposition format of a report, for node_exporter's
//! textfile collector: counts per status, one series per problem pidfile,
//! and the scan's own health.

use std::fmt::Write;
use std::time::UNIX_EPOCH;

use super::Report;
use crate::probe::namespace::PidNamespace;
use crate::verdict::{Status, entry_unit};

/// Render the report in the Prometheus text format (version 0.0.4).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let summary = report.summary();
    metric(&mut out, "pidscope_pidfiles", "Pidfiles found, by status.");
    for status in Status::ALL {
        let _ = writeln!(
            out,
            "pidscope_pidfiles{{status=\"{status}\"}} {}",
            summary.count(status)
        );
    }
    metric(
        &mut out,
        "pidscope_pidfile_info",
        "One series per pidfile that is not alive (value 1).",
    );
    for entry in report.entries.iter().filter(|e| e.status != Status::Alive) {
        let _ = writeln!(
            out,
            "pidscope_pidfile_info{{path=\"{}\",status=\"{}\",pid=\"{}\",unit=\"{}\"}} 1",
            escape(&path_label(&entry.path)),
            entry.status,
            entry.pid.map_or_else(String::new, |p| p.to_string()),
            escape(entry_unit(entry).unwrap_or_default())
        );
    }
    metric(
        &mut out,
        "pidscope_scan_errors",
        "Errors met during the scan (unreadable directories, missing roots).",
    );
    let _ = writeln!(out, "pidscope_scan_errors {}", report.errors.len());
    metric(
        &mut out,
        "pidscope_pid_namespace_nested",
        "1 when the scan saw processes from a nested PID namespace: stale and reused verdicts are then unverifiable.",
    );
    let _ = writeln!(
        out,
        "pidscope_pid_namespace_nested {}",
        u8::from(report.pid_namespace == PidNamespace::Nested)
    );
    metric(
        &mut out,
        "pidscope_scan_duration_seconds",
        "How long the scan took.",
    );
    let _ = writeln!(
        out,
        "pidscope_scan_duration_seconds {}",
        report.duration.as_secs_f64()
    );
    metric(
        &mut out,
        "pidscope_last_scan_timestamp_seconds",
        "When the scan started, in seconds since the epoch.",
    );
    let started = report
        .started_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "pidscope_last_scan_timestamp_seconds {}",
        started.as_secs_f64()
    );
    out
}

fn metric(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// Escape a label value: backslash, double quote and newline.
/// A path as a label value that keeps every name distinct: a byte that is
/// not UTF-8 is written `\xNN` (and a backslash doubled, so a name holding a
/// real `\x` stays apart). A lossy conversion would give two files whose
/// names differ in such a byte one series, which the format forbids.
fn path_label(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_distinct_as_labels() {
        use std::os::unix::ffi::OsStrExt;
        let path = |b: &[u8]| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b));
        assert_eq!(path_label(&path(b"/run/caf\xe9.pid")), "/run/caf\\xe9.pid");
        assert_eq!(
            path_label(&path(b"/run/caf\\xe9.pid")),
            "/run/caf\\\\xe9.pid"
        );
        assert_ne!(
            path_label(&path(b"/run/caf\xe9.pid")),
            path_label(&path(b"/run/caf\xe8.pid"))
        );
        assert_eq!(
            path_label(&path("/run/caf\u{e9}.pid".as_bytes())),
            "/run/caf\u{e9}.pid"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
