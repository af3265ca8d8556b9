//! Command-line interface: the argument grammar, exit statuses, and dispatch.

mod audit;
mod clean;
mod docs;
mod run;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum, ValueHint};
use pidscope::config::Config;
use pidscope::inspect::Phases;
use pidscope::probe::namespace::PidNamespace;

/// Exit statuses monitoring can rely on.
pub mod exit {
    /// Every pidfile is alive and the scan met no error.
    pub const HEALTHY: u8 = 0;
    /// Some pidfile is not alive, or the scan recorded an error.
    pub const PROBLEMS: u8 = 1;
    /// Usage or configuration error (clap also exits with 2 for bad arguments).
    pub const USAGE: u8 = 2;
}

/// Find pidfiles, tell live owners from stale, reused, zombie and invalid pidfiles.
///
/// With no command, opens the interactive inspector on PATHs (default: the
/// configured directories, else /run).
#[derive(Debug, Parser)]
#[command(name = "pidscope", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: $XDG_CONFIG_HOME/pidscope/config.toml, then /etc/pidscope/config.toml; `run` reads none).
    #[arg(long, global = true, value_name = "FILE", env = "PIDSCOPE_CONFIG", value_hint = ValueHint::FilePath)]
    config: Option<PathBuf>,

    #[command(flatten)]
    tui: TuiArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the interactive inspector (the default): see every pidfile, delete stale ones, signal live owners.
    Tui(TuiArgs),
    /// Scan for pidfiles and report a verdict on each (exit 0 when all are alive, 1 otherwise, 2 on usage errors).
    Audit(AuditArgs),
    /// Remove stale and reused pidfiles, each re-verified right before removal
    /// (exit 0 when all meant to go were removed, 1 when some were refused or failed, 2 on usage errors).
    Clean(clean::CleanArgs),
    /// Run COMMAND as a single instance: lock FILE, write COMMAND's PID in it, forward signals, remove it afterwards
    /// (exit: COMMAND's status, 128+N if it died of signal N, 75 if another instance runs,
    /// 125 if the pidfile cannot be taken, 126/127 if COMMAND cannot be run/found).
    Run(run::RunArgs),
    /// Print one line per verdict change as it happens (a process exits, a pidfile appears,
    /// changes or goes), until SIGTERM or SIGINT (exit 0; 1 if it cannot watch, 2 on usage errors).
    ///
    /// A line reads `03:12:07  /run/nginx.pid  alive → stale  No process has PID 812`, with the
    /// warnings in brackets; `new` and `gone` stand for a pidfile that appeared or went. Each
    /// line is flushed at once. inotify reports changed directories (new subdirectories
    /// included) and a pidfd each live PID's exit and each zombie's reaping; only the entries
    /// an event touches are inspected again. A full rescan every --interval is the safety
    /// net. What cannot be watched (past fs.inotify.max_user_watches, past the pidfd cap, no
    /// pidfd support) is polled, and stderr says `polling:` and why.
    #[command(long_about)]
    Watch(watch::WatchArgs),
    /// Print a man page (roff), generated from this command-line definition: pidscope(1) or a command's.
    Man(docs::ManArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Output formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An aligned table for people.
    Table,
    /// One JSON document for programs.
    Json,
    /// The Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
}

#[derive(Debug, clap::Args, Default)]
struct AuditArgs {
    /// Write JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    json: bool,

    /// Output format.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// Write the report to FILE instead of stdout, atomically (a temporary file renamed over it),
    /// as node_exporter's textfile collector requires.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    output: Option<PathBuf>,

    #[command(flatten)]
    namespace: NamespaceArgs,

    /// Directories to walk or files to inspect (default: the config's `dirs`, else /run).
    #[arg(value_name = "PATH", value_hint = ValueHint::AnyPath)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args, Default)]
struct TuiArgs {
    /// Inspect only: deleting and signalling are disabled.
    #[arg(long)]
    read_only: bool,

    /// Time between full rescans, e.g. 500ms, 2s (default: the config's refresh_interval, else
    /// 30s while the kernel reports changes as they happen, 2s when it cannot).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    interval: Option<std::time::Duration>,

    /// Watch for no kernel events (for file systems that report none, such as NFS): rescan
    /// every --interval, 2s by default.
    #[arg(long)]
    poll: bool,

    /// Leave the mouse to the terminal (no wheel scrolling or click selection).
    #[arg(long)]
    no_mouse: bool,

    #[command(flatten)]
    namespace: NamespaceArgs,

    /// Directories to walk or files to inspect (default: the config's `dirs`, else /run).
    #[arg(value_name = "PATH", value_hint = ValueHint::AnyPath)]
    paths: Vec<PathBuf>,
}

/// Whether the pidfiles' PIDs belong to pidscope's own PID namespace.
#[derive(Debug, clap::Args, Default, Clone, Copy)]
pub(crate) struct NamespaceArgs {
    /// The pidfiles' PIDs belong to the PID namespace pidscope runs in, even a nested one
    /// (a sidecar sharing its pod's namespace): stale verdicts may then be acted on there.
    #[arg(long)]
    same_namespace: bool,
}

impl NamespaceArgs {
    /// The operator's statement, from this flag or the config's `same_namespace`.
    pub(crate) fn same(self, config: &Config) -> bool {
        self.same_namespace || config.same_namespace
    }
}

/// One scan of `paths` (else the config's roots) as `audit` and `clean` make
/// it: the config's rules and systemd view, the operator's statement about
/// the PID namespace, and the note on stderr when the view is partial.
/// Returns the report, that statement and how long each phase took; `Err`
/// is the exit status of a configuration whose globs do not compile.
pub(crate) fn scan_once(
    config: &Config,
    paths: Vec<PathBuf>,
    namespace: NamespaceArgs,
) -> Result<(pidscope::report::Report, bool, Phases), ExitCode> {
    let rules = config.rules().map_err(|err| fail(&err))?;
    let same_namespace = namespace.same(config);
    let mut scanner = pidscope::inspect::Scanner::new(config.roots_for(paths), rules)
        .same_namespace(same_namespace)
        .systemd(config.unit_dirs());
    let report = scanner.scan();
    warn_partial_view(report.pid_namespace, same_namespace);
    Ok((report, same_namespace, scanner.phases()))
}

/// Whether `PIDSCOPE_TIMINGS=1` asks for each phase's time on stderr.
pub(crate) fn timings_wanted() -> bool {
    std::env::var_os("PIDSCOPE_TIMINGS").is_some_and(|v| v == "1")
}

/// Say once on stderr when the scan saw processes from a nested PID namespace
/// and nothing stated that the pidfiles belong to it.
pub(crate) fn warn_partial_view(namespace: PidNamespace, same_namespace: bool) {
    if namespace == PidNamespace::Nested && !same_namespace {
        warn(PARTIAL_VIEW);
    }
}

/// What a nested PID namespace means for the verdicts, in one line.
pub(crate) const PARTIAL_VIEW: &str = "running in a nested PID namespace: processes outside it are invisible, so stale and reused verdicts are unverifiable and never deleted (run with the host's PID namespace, or --same-namespace if the pidfiles belong to this one)";

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let d = pidscope::config::parse_duration(text)?;
    if d < std::time::Duration::from_millis(100) {
        return Err("must be at least 100ms".into());
    }
    Ok(d)
}

/// Run the parsed command line and return the process's exit status.
pub fn run(cli: Cli) -> ExitCode {
    // `run` needs no inspector configuration: a broken one must not stop cron jobs.
    let command = match cli.command {
        Some(Command::Run(args)) => return run::run(args),
        other => other,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    match command {
        Some(Command::Audit(args)) => audit::run(&config, args),
        Some(Command::Clean(args)) => clean::run(&config, args),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Watch(args)) => watch::run(&config, args),
        Some(Command::Man(args)) => docs::man(args),
        Some(Command::Completions { shell }) => docs::completions(shell),
        Some(Command::Tui(args)) => tui(&config, args),
        None => tui(&config, cli.tui),
    }
}

fn tui(config: &Config, args: TuiArgs) -> ExitCode {
    let rules = match config.rules() {
        Ok(rules) => rules,
        Err(err) => return fail(&err),
    };
    let read_only = args.read_only || config.read_only;
    let same_namespace = args.namespace.same(config);
    let options = pidscope::tui::Options {
        roots: config.roots_for(args.paths),
        rules,
        patterns: config.patterns.clone(),
        interval: args.interval.or(config.refresh_interval),
        poll: args.poll,
        read_only,
        mouse: config.mouse && !args.no_mouse,
        color: color_allowed(),
        executor: (!read_only)
            .then(|| executor(config, config.invalid_grace).same_namespace(same_namespace)),
        same_namespace,
        unit_dirs: config.unit_dirs(),
    };
    match pidscope::tui::run(options) {
        Ok(()) => ExitCode::from(exit::HEALTHY),
        Err(err) => fail(&err.to_string()),
    }
}

/// The executor of confirmed actions, recording them in the configured
/// audit trail; `grace` protects young invalid pidfiles.
fn executor(config: &Config, grace: std::time::Duration) -> pidscope::act::Executor {
    let log = config
        .action_log
        .clone()
        .unwrap_or_else(pidscope::act::log::ActionLog::default_path);
    pidscope::act::Executor::new(pidscope::act::log::ActionLog::new(log), grace)
}

/// Print a one-line error and return the usage/configuration status.
fn fail(message: &str) -> ExitCode {
    warn(message);
    ExitCode::from(exit::USAGE)
}

/// Print `pidscope: MESSAGE` on stderr; a closed or full stderr is not worth a panic.
pub(crate) fn warn(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "pidscope: {message}");
}

/// Colour only on a terminal, and never when NO_COLOR is set (even to an empty value).
pub(crate) fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}
