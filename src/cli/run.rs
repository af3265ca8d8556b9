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

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use pidscope::lock::{LockError, PidFile, PidFileGuard, Unlocked};
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

/// The signals passed on to COMMAND: the ones that ask a job to stop, reload
/// or report (TERM, INT, HUP, QUIT, USR1, USR2). Not STOP or KILL, which
/// cannot be caught, nor CONT, which the wrapper sends itself after a stop.
/// Kept here, apart from the inspector's signal menu, so that reordering the
/// menu never changes what `run` forwards.
const FORWARDED: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pidfile: locked while COMMAND runs, naming COMMAND's PID, removed afterwards.
    #[arg(long, value_name = "FILE")]
    pidfile: PathBuf,

    /// If another instance holds FILE, wait up to DURATION (e.g. 30s, 5m) for it instead of exiting 75 at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    wait: Option<Duration>,

    /// The command to run and its arguments (after `--`).
    #[arg(
        value_name = "COMMAND",
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
                .map(|d| format!(" after waiting {}", humantime::format_duration(d)))
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
    ExitCode::from(supervise(guard, &args.command))
}

/// Start COMMAND under the lock, forward signals until it exits, release;
/// return the wrapper's exit status.
fn supervise(mut guard: PidFileGuard, argv: &[OsString]) -> u8 {
    let signals = match catch_signals() {
        Ok(signals) => signals,
        Err(e) => {
            warn(&format!("cannot catch signals: {e}"));
            release(guard);
            return status::FAILED;
        }
    };
    let mut child = match spawn(argv, &guard) {
        Ok(child) => child,
        Err(e) => {
            let name = argv[0].to_string_lossy();
            let code = match e.raw_os_error() {
                Some(libc::ENOENT) => status::NOT_FOUND,
                Some(
                    libc::EACCES
                    | libc::ENOEXEC
                    | libc::EPERM
                    | libc::EISDIR
                    | libc::ETXTBSY
                    | libc::ENOTDIR
                    | libc::ELOOP
                    | libc::ENAMETOOLONG,
                ) => status::CANNOT_EXECUTE,
                _ => status::FAILED,
            };
            if code == status::NOT_FOUND && exists_as_command(&argv[0]) {
                // The file is there: exec missed what it needs to start it.
                warn(&format!(
                    "cannot run {name}: required file not found (its #! interpreter or its loader is missing)"
                ));
            } else if code == status::NOT_FOUND {
                warn(&format!("{name}: command not found"));
            } else {
                warn(&format!("cannot run {name}: {e}"));
            }
            release(guard);
            return code;
        }
    };
    let pid = child.id() as i32;
    if let Err(e) = guard.write_pid(pid) {
        // The file still names the wrapper, which lives as long as COMMAND.
        warn(&format!("{e} (it names pidscope's PID instead)"));
    }
    let result = wait_forwarding(&mut child, &signals);
    release(guard);
    match result {
        Ok(exit) => {
            if exit.signal() == Some(libc::SIGINT) {
                die_of_sigint();
            }
            exit_code(exit)
        }
        Err(e) => {
            warn(&format!("cannot wait for PID {pid}: {e}"));
            status::FAILED
        }
    }
}

/// Does `command` name an existing file, as exec would look it up (a path
/// when it has a slash, else through `$PATH`)?
fn exists_as_command(command: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new(command);
    if command.as_bytes().contains(&b'/') {
        return path.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|dirs| std::env::split_paths(&dirs).any(|dir| dir.join(path).is_file()))
}

/// Block the forwarded signals and SIGCHLD in this (only) thread and open a
/// signalfd that reads them. Blocked, they can never kill the wrapper.
fn catch_signals() -> nix::Result<SignalFd> {
    // Children ignored by a parent's SIG_IGN would be reaped by the kernel:
    // their status would be lost, so take SIGCHLD's default back.
    // SAFETY: SIG_DFL installs no handler; the CLI has no other thread yet.
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
    let mut mask: SigSet = FORWARDED.iter().copied().collect();
    mask.add(Signal::SIGCHLD);
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
}

/// Start COMMAND with an empty signal mask and the lock's descriptor inherited.
fn spawn(argv: &[OsString], guard: &PidFileGuard) -> io::Result<Child> {
    let lock_fd = guard.as_fd().as_raw_fd();
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (sigemptyset, sigprocmask, fcntl), on the child's own copies.
    unsafe {
        command.pre_exec(move || {
            let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(none.as_mut_ptr());
            if libc::sigprocmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let flags = libc::fcntl(lock_fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(lock_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Forward signals to `child` until it exits; return its status.
fn wait_forwarding(child: &mut Child, signals: &SignalFd) -> io::Result<ExitStatus> {
    let pid = Pid::from_raw(child.id() as i32);
    let session_leader = nix::unistd::getsid(None).ok() == Some(nix::unistd::getpid());
    loop {
        // SIGCHLD is blocked, so an exit after this check stays pending for the read below.
        if let Some(exit) = child.try_wait()? {
            return Ok(exit);
        }
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => {
                // No way to hear signals any more: just wait.
                warn(&format!(
                    "cannot read signals, no longer forwarding them: {e}"
                ));
                return child.wait();
            }
        };
        let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        if signal == Signal::SIGCHLD {
            continue;
        }
        // Not reaped yet (only this thread reaps), so the PID is still COMMAND's.
        let in_our_group = nix::unistd::getpgid(Some(pid)).ok() == Some(nix::unistd::getpgrp());
        let from_kernel = info.ssi_code == libc::SI_KERNEL;
        if should_forward(signal, from_kernel, session_leader, in_our_group) {
            match kill(pid, signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => warn(&format!("cannot forward {signal} to PID {pid}: {e}")),
            }
        }
        // A stopped COMMAND would keep a signal meant to end it pending for
        // ever, and the wrapper with it: wake it, as timeout(1) does.
        if ENDING.contains(&signal) && is_stopped(pid) {
            let _ = kill(pid, Signal::SIGCONT);
        }
    }
}

/// Whether a signal the wrapper received should be passed to COMMAND.
/// `from_kernel`: the kernel generated it (`SI_KERNEL`), not `kill(2)`.
/// `in_our_group`: COMMAND is still in the wrapper's process group (it did
/// not move to its own, as `timeout` and `setsid` do).
fn should_forward(
    signal: Signal,
    from_kernel: bool,
    session_leader: bool,
    in_our_group: bool,
) -> bool {
    if !from_kernel || !in_our_group {
        return true;
    }
    match signal {
        // A terminal's ^C / ^\ went to the whole foreground process group, COMMAND included.
        Signal::SIGINT | Signal::SIGQUIT => false,
        // A hangup goes to the session leader alone; other kernel SIGHUPs go to the group.
        Signal::SIGHUP => session_leader,
        _ => true,
    }
}

/// The forwarded signals whose default action ends a process.
const ENDING: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Is `pid` stopped (by SIGSTOP, SIGTSTP...; not traced)?
fn is_stopped(pid: Pid) -> bool {
    pidscope::probe::identity::read_identity(pid.as_raw())
        .is_ok_and(|id| id.state == pidscope::probe::identity::ProcessState::Stopped)
}

/// COMMAND died of SIGINT: die of it too, after cleaning up, so that a shell
/// script that ran the wrapper stops as it would on ^C (bash only does when
/// its child died of SIGINT). Shells still report 130. Returns if it cannot.
fn die_of_sigint() {
    // Started with SIGINT ignored (a background job of a shell): ^C was not
    // meant for us, so there is no interrupt to pass on.
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `current`.
    let read = unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: zero-initialised, and filled in by sigaction on success.
    if read != 0 || unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN {
        return;
    }
    // SAFETY: SIG_DFL installs no handler; this thread is the only one.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGINT, SigHandler::SigDfl) };
    let _ = nix::sys::signal::raise(Signal::SIGINT);
    let mut int = SigSet::empty();
    int.add(Signal::SIGINT);
    let _ = int.thread_unblock();
}

/// The wrapper's status for COMMAND's: its exit code, or 128+N for signal N.
fn exit_code(exit: ExitStatus) -> u8 {
    match (exit.code(), exit.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => status::FAILED,
    }
}

/// Remove the pidfile if it is still ours; say so when it is not.
fn release(guard: PidFileGuard) {
    let path = guard.path().to_owned();
    match guard.unlock_shared() {
        Ok(Unlocked::Removed) => {}
        Ok(other) => warn(&format!("{}: {other}", path.display())),
        Err(e @ LockError::Io { .. }) => warn(&format!(
            "{e} (the lock is released; the next run recovers the file)"
        )),
        Err(e) => warn(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_signals_are_always_forwarded() {
        for &signal in FORWARDED {
            for (leader, in_group) in [(false, false), (false, true), (true, false), (true, true)] {
                assert!(should_forward(signal, false, leader, in_group), "{signal}");
            }
        }
    }

    #[test]
    fn terminal_signals_to_the_group_are_not_forwarded_twice() {
        assert!(!should_forward(Signal::SIGINT, true, false, true));
        assert!(!should_forward(Signal::SIGQUIT, true, true, true));
        assert!(!should_forward(Signal::SIGHUP, true, false, true));
        assert!(should_forward(Signal::SIGHUP, true, true, true));
        assert!(should_forward(Signal::SIGTERM, true, false, true));
    }

    #[test]
    fn terminal_signals_reach_a_command_that_left_our_group() {
        // `timeout` and `setsid` move to their own group: ^C reaches only the wrapper.
        for signal in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGHUP] {
            assert!(should_forward(signal, true, false, false), "{signal}");
        }
    }

    #[test]
    fn signal_deaths_map_to_128_plus_n() {
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGTERM)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }
}
