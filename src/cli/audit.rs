//! `pidscope audit`: one scan, rendered as a table or JSON, with an exit status for monitoring.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use pidscope::config::Config;
use pidscope::inspect::Scanner;
use pidscope::report::{json, table};

use super::{AuditArgs, Format, exit, fail, warn};

pub(super) fn run(config: &Config, args: AuditArgs) -> ExitCode {
    let rules = match config.rules() {
        Ok(rules) => rules,
        Err(err) => return fail(&err),
    };
    let roots = if args.paths.is_empty() {
        config.default_roots()
    } else {
        args.paths
    };
    let report = Scanner::new(roots, rules).scan();

    let format = if args.json {
        Format::Json
    } else {
        args.format.unwrap_or(Format::Table)
    };
    let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = match format {
        Format::Json => json::write(&report, &mut stdout),
        Format::Table => stdout.write_all(table::render(&report, use_color()).as_bytes()),
    };
    if let Err(err) = written.and_then(|()| stdout.flush()) {
        // A closed pipe (`pidscope audit | head`) is the reader's choice, not an error.
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            warn(&format!("cannot write the report: {err}"));
            return ExitCode::from(exit::PROBLEMS);
        }
    }
    if format == Format::Table {
        for error in &report.errors {
            warn(&format!(
                "{}: {}",
                table::display_path(&error.path),
                error.error
            ));
        }
    }
    ExitCode::from(if report.is_healthy() {
        exit::HEALTHY
    } else {
        exit::PROBLEMS
    })
}

fn use_color() -> bool {
    super::color_allowed() && std::io::stdout().is_terminal()
}
