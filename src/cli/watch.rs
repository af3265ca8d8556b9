//! `pidscope watch`: one line per verdict change, as the kernel reports it
//! (see `pidscope::live`), until SIGTERM or SIGINT.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pidscope::config::Config;
use pidscope::inspect::Scanner;
use pidscope::live::changes::{self, Change};
use pidscope::live::{Live, LiveStatus, Step};

use super::{NamespaceArgs, exit, fail, parse_interval, warn, warn_partial_view};

/// Arguments of `pidscope watch`.
#[derive(Debug, clap::Args, Default)]
pub(super) struct WatchArgs {
    /// One JSON object per line: time, path, pid, from, to, reason, warnings
    /// (`from` is null for a new pidfile, `to` for a removed one).
    #[arg(long)]
    json: bool,

    /// First print every pidfile's current state, as new (`from` null).
    #[arg(long)]
    initial: bool,

    /// Time between full rescans, the safety net for what no event reports, e.g. 60s
    /// (default: the config's refresh_interval, else 30s while the kernel reports
    /// changes as they happen, 2s when it cannot).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    interval: Option<Duration>,

    /// Watch for no kernel events (for file systems that report none, such as NFS): rescan
    /// every --interval, 2s by default.
    #[arg(long)]
    poll: bool,

    #[command(flatten)]
    namespace: NamespaceArgs,

    /// Directories to walk or files to inspect (default: the config's `dirs`, else /run).
    #[arg(value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    paths: Vec<PathBuf>,
}

/// Watch until SIGTERM or SIGINT (exit 0, output flushed).
pub(super) fn run(config: &Config, args: WatchArgs) -> ExitCode {
    let rules = match config.rules() {
        Ok(rules) => rules,
        Err(err) => return fail(&err),
    };
    let same_namespace = args.namespace.same(config);
    let scanner = Scanner::new(config.roots_for(args.paths), rules)
        .same_namespace(same_namespace)
        .systemd(config.unit_dirs())
        .remembering();
    let mut live = match Live::new(
        scanner,
        args.interval.or(config.refresh_interval),
        !args.poll,
    ) {
        Ok(live) => live,
        Err(err) => {
            warn(&format!("cannot watch: {err}"));
            return ExitCode::from(exit::PROBLEMS);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(err) = stop_on_signals(&live, &stop) {
        warn(&format!("cannot watch: {err}"));
        return ExitCode::from(exit::PROBLEMS);
    }
    let mut out = Lines {
        json: args.json,
        utc_offset: pidscope::display::local_utc_offset(),
    };
    let mut first = true;
    let mut status: Option<LiveStatus> = None;
    let mut errors = HashSet::new();
    while !stop.load(Ordering::SeqCst) {
        let refreshed = match live.wait() {
            Ok(Step::Updated(refreshed)) => refreshed,
            Ok(Step::Woken) => continue,
            Err(err) => {
                warn(&format!("cannot watch: {err}"));
                return ExitCode::from(exit::PROBLEMS);
            }
        };
        let report = live.report();
        let changes = match (first, args.initial) {
            (true, true) => changes::initial(report),
            (true, false) => Vec::new(),
            (false, _) => changes::between(&refreshed, report),
        };
        if first {
            warn_partial_view(report.pid_namespace, same_namespace);
            first = false;
        }
        warn_new_errors(&mut errors, report);
        let now = live.status();
        if status.as_ref() != Some(&now) {
            warn(&live.describe());
            status = Some(now);
        }
        if !out.write(&changes, report.started_at) {
            // Standard output is closed (a pipe's reader left): nothing more to say.
            return ExitCode::from(exit::HEALTHY);
        }
    }
    ExitCode::from(exit::HEALTHY)
}

/// Say each scan error on stderr once while it lasts; one that clears and
/// comes back is said again.
fn warn_new_errors(said: &mut HashSet<(PathBuf, String)>, report: &pidscope::report::Report) {
    said.retain(|(path, error): &(PathBuf, String)| {
        report
            .errors
            .iter()
            .any(|e| &e.path == path && &e.error == error)
    });
    for e in &report.errors {
        if said.insert((e.path.clone(), e.error.clone())) {
            warn(&format!(
                "{}: {}",
                pidscope::display::display_path(&e.path),
                e.error
            ));
        }
    }
}

/// SIGTERM and SIGINT set `stop` and wake the loop.
fn stop_on_signals(live: &Live, stop: &Arc<AtomicBool>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(stop))?;
        signal_hook::low_level::pipe::register(signal, live.waker().try_clone_fd()?)?;
    }
    Ok(())
}

/// Where change lines go: standard output, flushed after every line.
struct Lines {
    json: bool,
    utc_offset: i32,
}

impl Lines {
    /// Write the lines; false when standard output is gone.
    fn write(&mut self, changes: &[Change<'_>], at: std::time::SystemTime) -> bool {
        let mut stdout = std::io::stdout().lock();
        for change in changes {
            let line = if self.json {
                change.json(at)
            } else {
                change.human(at, self.utc_offset)
            };
            if writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return false;
            }
        }
        true
    }
}
