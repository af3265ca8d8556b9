//! Passing signals on to COMMAND: they are blocked in the wrapper and read
//! from a signalfd, so none of them can kill it, and each is sent on to
//! COMMAND unless the kernel already delivered it to COMMAND's process group.

use std::io;
use std::process::{Child, ExitStatus};

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::cli::warn;

/// The signals passed on to COMMAND: TERM, INT, HUP, QUIT, USR1, USR2.
///
/// These are the ones that ask a process to end (TERM, INT, HUP, QUIT) or
/// to do something (USR1, USR2, by convention reload or report): what
/// someone signalling the wrapper means for the job it runs. SIGKILL and
/// SIGSTOP cannot be caught, so they are never forwarded; any other signal
/// keeps its default action on the wrapper.
///
/// The list belongs to `run` alone, and is not derived from the inspector's
/// signal menu: rearranging that menu must not change what is forwarded.
const FORWARDED: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Block the forwarded signals and SIGCHLD in this (only) thread and open a
/// signalfd that reads them. Blocked, they can never kill the wrapper.
pub(super) fn catch_signals() -> nix::Result<SignalFd> {
    // Children ignored by a parent's SIG_IGN would be reaped by the kernel:
    // their status would be lost, so take SIGCHLD's default back.
    // SAFETY: SIG_DFL installs no handler; the CLI has no other thread yet.
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
    let mut mask: SigSet = FORWARDED.iter().copied().collect();
    mask.add(Signal::SIGCHLD);
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
}

/// Forward signals to `child` until it exits; return its status.
pub(super) fn wait_forwarding(child: &mut Child, signals: &SignalFd) -> io::Result<ExitStatus> {
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
    fn forwards_exactly_the_six_signals_that_ask() {
        assert_eq!(
            FORWARDED,
            &[
                Signal::SIGTERM,
                Signal::SIGINT,
                Signal::SIGHUP,
                Signal::SIGQUIT,
                Signal::SIGUSR1,
                Signal::SIGUSR2,
            ]
        );
        assert!(
            ENDING.iter().all(|s| FORWARDED.contains(s)),
            "an ending signal that is not caught would never be followed by SIGCONT"
        );
    }
}
