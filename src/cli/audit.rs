//! `pidscope audit`: one scan, rendered as a table, JSON or Prometheus metrics,
//! with an exit status for monitoring.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use pidscope::config::Config;
use pidscope::report::{json, prometheus, table};

use super::{AuditArgs, Format, exit, warn};

pub(super) fn run(config: &Config, args: AuditArgs) -> ExitCode {
    let (report, phases) = match super::scan_once(config, args.paths, args.namespace) {
        Ok((report, _, phases)) => (report, phases),
        Err(code) => return code,
    };
    let render_from = std::time::Instant::now();

    let format = if args.json {
        Format::Json
    } else {
        args.format.unwrap_or(Format::Table)
    };
    let color = args.output.is_none() && use_color();
    let render = |out: &mut dyn Write| match format {
        Format::Json => json::write(&report, out),
        Format::Table => table::write(&report, color, out),
        Format::Prometheus => out.write_all(prometheus::render(&report).as_bytes()),
    };
    if let Some(path) = &args.output {
        if let Err(err) = write_atomically(path, render) {
            warn(&format!(
                "{}: cannot write the report: {err}",
                path.display()
            ));
            return ExitCode::from(exit::PROBLEMS);
        }
    } else {
        let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        if let Err(err) = render(&mut stdout).and_then(|()| stdout.flush()) {
            // A closed pipe (`pidscope audit | head`) is the reader's choice, not an error.
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                warn(&format!("cannot write the report: {err}"));
                return ExitCode::from(exit::PROBLEMS);
            }
        }
    }
    if super::timings_wanted() {
        warn(&phases.line(render_from.elapsed()));
    }
    if format == Format::Table {
        for error in &report.errors {
            warn(&format!(
                "{}: {}",
                pidscope::display::display_path(&error.path),
                error.error
            ));
        }
    }
    let code = ExitCode::from(if report.is_healthy() {
        exit::HEALTHY
    } else {
        exit::PROBLEMS
    });
    // The process ends here: the system takes the report's memory back at
    // once, where freeing its entries one by one took 0.1 ms in a thousand.
    std::mem::forget(report);
    code
}

/// Write through a temporary file in the same directory, fsync it, and rename
/// it over `path`: a reader (node_exporter) sees the old file or the new one,
/// never half of one.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        render(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn use_color() -> bool {
    super::color_allowed() && std::io::stdout().is_terminal()
}
