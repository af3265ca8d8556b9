//! `pidscope run --pidfile FILE [--wait DURATION] -- COMMAND [ARGS...]`: a
//! single-instance wrapper for cron jobs and scripts.
//!
//! 1. Lock FILE with [`pidscope::lock::PidFile`] (at once, or polling for up
//!    to `--wait`); busy means exit [`status::BUSY`], naming the running PID.
//! 2. Block the forwarded signals and SIGCHLD and read them from a signalfd,
//!    so none of them can kill the wrapper, then start COMMAND with the signal
//!    mask cleared and the locked descriptor inherited (`FD_CLOEXEC` cleared
//!    in the child only): COMMAND is a real `flock` holder, and keeps the lock
//!    if the wrapper is SIGKILLed, so no second instance starts while it runs.
//! 3. Write COMMAND's PID into FILE, then loop: forward SIGTERM, SIGINT,
//!    SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to COMMAND, until SIGCHLD says it
//!    has exited. Everything runs on one thread, and the child is only
//!    signalled before it is reaped, so its PID cannot have been reused.
//! 4. Remove FILE (only if it is still ours, and only once no other process
//!    holds its lock: background processes COMMAND left behind inherited the
//!    descriptor, and while they run the file stays) and exit with COMMAND's
//!    status, or 128+N when it died of signal N. When that signal is SIGINT,
//!    the wrapper dies of it too, so a calling shell script stops as on ^C.
//!
//! Signals the kernel generated for the whole process group (a terminal's ^C
//! and ^\, or SIGHUP to the group) already reached COMMAND when it shares the
//! wrapper's group: they are not forwarded then, so COMMAND gets them once.
//! A COMMAND that moved to its own group (`setsid`, `timeout`) gets them
//! forwarded. A terminal hangup reaches only the session leader: when the
//! wrapper is one, that SIGHUP is forwarded. A signal sent from user space to
//! the whole group (`kill -- -PGID`) reaches COMMAND directly and through the
//! wrapper: signal the wrapper's PID instead. A stopped COMMAND is sent
//! SIGCONT after TERM, INT, HUP or QUIT, which would otherwise stay pending.
//!
//! The parts: [`spawn`] starts COMMAND holding the lock, [`forward`] passes
//! signals on until it exits, [`exit`] releases the pidfile and turns
//! COMMAND's end into the wrapper's status. This file holds the arguments,
//! the wrapper's own exit statuses and the sequence that ties the parts together.

mod exit;
mod forward;
mod spawn;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pidscope::lock::{LockError, PidFile, PidFileGuard};
use pidscope::probe::namespace::PidNamespace;
use pidscope::probe::process::{Liveness, probe_liveness};

use super::warn;

/// Exit statuses of `pidscope run` besides COMMAND's own (which passes
/// through, with 128+N when COMMAND died of signal N).
pub mod status {
    /// Another live instance holds the pidfile (EX_TEMPFAIL of sysexits.h:
    /// try again later), also when `--wait` ran out.
    pub const BUSY: u8 = 75;
    /// pidscope itself failed: the pidfile could not be created, locked or
    /// written, or holds something that is not a PID, or the command could
    /// not be started for a reason other than the two below (as `env`, `nice`
    /// and `timeout` use 125).
    pub const FAILED: u8 = 125;
    /// COMMAND was found but could not be executed (as in shells).
    pub const CANNOT_EXECUTE: u8 = 126;
    /// COMMAND was not found (as in shells).
    pub const NOT_FOUND: u8 = 127;
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pidfile: locked while COMMAND runs, naming COMMAND's PID, removed afterwards.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pidfile: PathBuf,

    /// If another instance holds FILE, wait up to DURATION (e.g. 30s, 5m) for it instead of exiting 75 at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    wait: Option<Duration>,

    /// The command to run and its arguments (after `--`).
    #[arg(
        value_name = "COMMAND",
        value_hint = clap::ValueHint::CommandWithArguments,
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    pidscope::config::parse_duration(text)
}

/// Run `pidscope run` and return the wrapper's exit status.
pub fn run(args: RunArgs) -> ExitCode {
    let pidfile = PidFile::new(&args.pidfile);
    let locked = match args.wait {
        Some(timeout) => pidfile.lock_timeout(timeout),
        None => pidfile.try_lock(),
    };
    let guard = match locked {
        Ok(guard) => guard,
        Err(err) if err.is_busy() => {
            let waited = args
                .wait
                .map(|d| format!(" after waiting {}", pidscope::display::human_duration(d)))
                .unwrap_or_default();
            // A lock held while the file names a finished job: processes it left behind.
            let leftovers = match err {
                LockError::Busy {
                    owner: Some(pid),
                    locked: true,
                    ..
                } if probe_liveness(pid) == Liveness::Gone => {
                    format!(" (PID {pid} has exited; processes it started still hold the lock)")
                }
                _ => String::new(),
            };
            warn(&format!(
                "{err}{leftovers}: another instance is running; not starting{waited}"
            ));
            return ExitCode::from(status::BUSY);
        }
        Err(err) => {
            warn(&err.to_string());
            return ExitCode::from(status::FAILED);
        }
    };
    if let Some(old) = guard.recovered()
        && PidNamespace::current() == PidNamespace::Nested
    {
        warn(&format!(
            "{}: took it over from PID {old}, judged not its owner from inside a nested PID namespace, where processes outside the namespace are invisible to the check",
            args.pidfile.display()
        ));
    }
    ExitCode::from(supervise(guard, &args.command))
}

/// Start COMMAND under the lock, forward signals until it exits, release;
/// return the wrapper's exit status.
fn supervise(mut guard: PidFileGuard, argv: &[OsString]) -> u8 {
    let signals = match forward::catch_signals() {
        Ok(signals) => signals,
        Err(e) => {
            warn(&format!("cannot catch signals: {e}"));
            exit::release(guard);
            return status::FAILED;
        }
    };
    let mut child = match spawn::spawn(argv, &guard) {
        Ok(child) => child,
        Err(e) => {
            let code = spawn::report_failure(&argv[0], &e);
            exit::release(guard);
            return code;
        }
    };
    let pid = child.id() as i32;
    if let Err(e) = guard.write_pid(pid) {
        // The file still names the wrapper, which lives as long as COMMAND.
        warn(&format!("{e} (it names pidscope's PID instead)"));
    }
    let result = forward::wait_forwarding(&mut child, &signals);
    exit::release(guard);
    match result {
        Ok(exit) => {
            if exit.signal() == Some(libc::SIGINT) {
                exit::die_of_sigint();
            }
            exit::exit_code(exit)
        }
        Err(e) => {
            warn(&format!("cannot wait for PID {pid}: {e}"));
            status::FAILED
        }
    }
}
