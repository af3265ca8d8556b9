//! Command-line interface: the argument grammar, exit statuses, and dispatch.

mod audit;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pidscope::config::Config;

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
#[derive(Debug, Parser)]
#[command(name = "pidscope", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: $XDG_CONFIG_HOME/pidscope/config.toml, then /etc/pidscope/config.toml).
    #[arg(long, global = true, value_name = "FILE", env = "PIDSCOPE_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan for pidfiles and report a verdict on each (exit 0 when all are alive, 1 otherwise, 2 on usage errors).
    Audit(AuditArgs),
}

/// Output formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An aligned table for people.
    Table,
    /// One JSON document for programs.
    Json,
}

#[derive(Debug, clap::Args, Default)]
struct AuditArgs {
    /// Write JSON (same as --format json).
    #[arg(long, conflicts_with = "format")]
    json: bool,

    /// Output format.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// Directories to walk or files to inspect (default: the config's `dirs`, else /run).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Run the parsed command line and return the process's exit status.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    match cli.command {
        Some(Command::Audit(args)) => audit::run(&config, args),
        None => audit::run(&config, AuditArgs::default()),
    }
}

/// Print a one-line error and return the usage/configuration status.
fn fail(message: &str) -> ExitCode {
    eprintln!("pidscope: {message}");
    ExitCode::from(exit::USAGE)
}
