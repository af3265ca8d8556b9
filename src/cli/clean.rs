//! `pidscope clean`: remove stale and reused pidfiles (and, on request, old
//! invalid ones), safely and non-interactively, for cron and configuration management.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use pidscope::act::{Confirmed, Executor};
use pidscope::config::Config;
use pidscope::display::display_path;
use pidscope::policy::delete::{Deletion, Keep, may_delete};
use pidscope::verdict::{Entry, Status, Warnings};
use serde::Serialize;

use super::{executor, exit, fail, warn};

#[derive(Debug, clap::Args)]
pub(super) struct CleanArgs {
    /// Remove nothing; list what would be removed.
    #[arg(long)]
    dry_run: bool,

    /// Remove without asking (required when there is no terminal to ask on).
    #[arg(long, short = 'y')]
    yes: bool,

    /// Also remove invalid pidfiles older than the grace period.
    #[arg(long)]
    include_invalid: bool,

    /// How old an invalid pidfile must be to be removed, e.g. 60s, 10m (default: the config's invalid_grace, 60s).
    #[arg(long, value_name = "DURATION", value_parser = pidscope::config::parse_duration)]
    grace: Option<Duration>,

    /// Write the results as one JSON document.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    namespace: super::NamespaceArgs,

    /// Directories to walk or files to inspect (default: the config's `dirs`, else /run).
    #[arg(value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    paths: Vec<PathBuf>,
}

/// What became of one pidfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Action {
    Removed,
    WouldRemove,
    Kept,
    Refused,
    Failed,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Removed => "removed",
            Action::WouldRemove => "would remove",
            Action::Kept => "kept",
            Action::Refused => "refused",
            Action::Failed => "failed",
        }
    }
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(serialize_with = "pidscope::serial::lossy_path")]
    path: PathBuf,
    status: Status,
    pid: Option<i32>,
    action: Action,
    reason: String,
    warnings: Warnings,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    removed: usize,
    would_remove: usize,
    kept: usize,
    refused: usize,
    failed: usize,
}

#[derive(Serialize)]
struct Document<'a> {
    dry_run: bool,
    results: &'a [Row],
    errors: &'a [pidscope::scan::ScanError],
    summary: Summary,
}

pub(super) fn run(config: &Config, args: CleanArgs) -> ExitCode {
    let (report, same_namespace) =
        match super::scan_once(config, args.paths.clone(), args.namespace) {
            Ok((report, same_namespace, _)) => (report, same_namespace),
            Err(code) => return code,
        };
    let grace = args.grace.unwrap_or(config.invalid_grace);
    let now = SystemTime::now();

    let (targets, mut rows): (Vec<&Entry>, Vec<Row>) =
        plan(&report.entries, args.include_invalid, grace, now);
    if !targets.is_empty() && !args.dry_run && !args.yes {
        match ask(targets.len()) {
            Some(true) => {}
            Some(false) => {
                warn("nothing removed");
                return ExitCode::from(exit::HEALTHY);
            }
            None => {
                return fail(
                    "refusing to remove pidfiles without --yes: no terminal to ask on (use --dry-run to preview)",
                );
            }
        }
    }

    let executor = executor(config, grace).same_namespace(same_namespace);
    let mut log_failed = false;
    for entry in targets {
        let row = if args.dry_run {
            row(entry, Action::WouldRemove, verdict_line(entry))
        } else {
            remove(&executor, entry, &mut log_failed)
        };
        rows.push(row);
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path));

    let mut summary = Summary::default();
    for row in &rows {
        *match row.action {
            Action::Removed => &mut summary.removed,
            Action::WouldRemove => &mut summary.would_remove,
            Action::Kept => &mut summary.kept,
            Action::Refused => &mut summary.refused,
            Action::Failed => &mut summary.failed,
        } += 1;
    }
    let problems = summary.refused + summary.failed > 0 || log_failed;
    let text = if args.json {
        let doc = Document {
            dry_run: args.dry_run,
            results: &rows,
            errors: &report.errors,
            summary,
        };
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    } else {
        render(&rows, &summary)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if !args.json {
        for error in &report.errors {
            warn(&format!("{}: {}", display_path(&error.path), error.error));
        }
    }
    ExitCode::from(if problems {
        exit::PROBLEMS
    } else {
        exit::HEALTHY
    })
}

/// Remove one pidfile through the executor (which re-verifies it first).
fn remove(executor: &Executor, entry: &Entry, log_failed: &mut bool) -> Row {
    let done = executor.execute(&Confirmed::by_clean(entry.clone()));
    if let Some(e) = &done.log_error {
        warn(e);
        *log_failed = true;
    }
    match done.result {
        Ok(_) => row(entry, Action::Removed, verdict_line(entry)),
        Err(e @ pidscope::act::ActionError::Failed { .. }) => {
            row(entry, Action::Failed, e.to_string())
        }
        Err(e) => row(entry, Action::Refused, e.to_string()),
    }
}

fn row(entry: &Entry, action: Action, reason: String) -> Row {
    Row {
        path: entry.path.clone(),
        status: entry.status,
        pid: entry.pid,
        action,
        reason,
        warnings: entry.warnings,
    }
}

/// `stale: No process has PID 431`.
fn verdict_line(entry: &Entry) -> String {
    format!("{}: {}", entry.status, entry.reason)
}

/// Split the scan into what to remove and what to keep (with why): the
/// rules' decision ([`may_delete`]), except that clean never gives a second
/// confirmation, and removes invalid pidfiles only with `--include-invalid`.
fn plan(
    entries: &[Entry],
    include_invalid: bool,
    grace: Duration,
    now: SystemTime,
) -> (Vec<&Entry>, Vec<Row>) {
    let mut targets = Vec::new();
    let mut kept = Vec::new();
    for entry in entries {
        let why = match may_delete(entry, grace, now) {
            Deletion::Refused(keep @ (Keep::Locked { .. } | Keep::Unverifiable)) => {
                Some(format!("{}: {keep}", entry.status))
            }
            _ if entry.status == Status::Invalid && !include_invalid => Some(format!(
                "invalid: {} (--include-invalid removes it)",
                entry.reason
            )),
            Deletion::Refused(keep) => Some(format!("{}: {}; {keep}", entry.status, entry.reason)),
            Deletion::NeedsSecondConfirmation => Some(verdict_line(entry)),
            Deletion::Allowed => None,
        };
        match why {
            None => targets.push(entry),
            Some(why) => kept.push(row(entry, Action::Kept, why)),
        }
    }
    (targets, kept)
}

/// Ask on the terminal; `None` when there is none.
fn ask(count: usize) -> Option<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "Remove {count} pidfile{}? [y/N] ",
        if count == 1 { "" } else { "s" }
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    Some(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn render(rows: &[Row], summary: &Summary) -> String {
    let width = rows
        .iter()
        .map(|r| r.action.word().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        let codes: Vec<&str> = row.warnings.iter().map(|w| w.as_str()).collect();
        let codes = if codes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", codes.join(", "))
        };
        out.push_str(&format!(
            "{:<width$}  {}  {}{codes}\n",
            row.action.word(),
            display_path(&row.path),
            row.reason
        ));
    }
    let mut parts = Vec::new();
    for (n, word) in [
        (summary.removed, "removed"),
        (summary.would_remove, "would be removed"),
        (summary.refused, "refused"),
        (summary.failed, "failed"),
        (summary.kept, "kept"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        parts.push("no pidfiles found".into());
    }
    out.push_str(&parts.join(", "));
    out.push('\n');
    out
}
