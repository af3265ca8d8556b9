//! What each status and warning means, and what to do about a warning, in
//! one sentence each: the text the man page's STATUSES AND WARNINGS section
//! shows, and that README.md's tables must repeat word for word
//! (`tests/cli_docs.rs` compares them). Backticks mark a literal word, as in
//! Markdown; each renderer makes of them what it can.

use crate::verdict::{Status, Warning};

/// What a status means, as the README's status table says it.
pub fn status_meaning(status: Status) -> &'static str {
    match status {
        Status::Alive => "a process with that PID exists and nothing shows it is a different one",
        Status::Stale => "no process has that PID: an orphaned pidfile",
        Status::Reused => {
            "a process has the PID but cannot be the writer (a kernel thread, a thread of \
             another process, or started > 2 s after the file was written with nothing \
             showing it owns the file)"
        }
        Status::Zombie => "the process has exited and its parent has not reaped it",
        Status::Invalid => {
            "the content is not a PID (empty, blank, `abc`, `0`, `-5`, `0x1f`, `12 34`, \
             above `pid_max`)"
        }
        Status::Unreadable => {
            "the file cannot be read (permissions, a FIFO, a socket, a symlink to a device)"
        }
    }
}

/// What a warning says about a pidfile.
pub fn warning_meaning(warning: Warning) -> &'static str {
    match warning {
        Warning::NotSignalable => "the owner is alive, but this user may not signal it (EPERM)",
        Warning::NameMismatch => {
            "neither the file's name nor its directory relates to the process's name \
             (`nginx.pid` naming a `sleep`)"
        }
        Warning::LockHolderMismatch => "the file is locked by someone other than the PID it names",
        Warning::UntrustedFile => {
            "the file is writable by a non-root user other than the process's owner, or by \
             everyone: its PID could point root at any process"
        }
        Warning::ClockSkew => {
            "the process started after the file was written, but owns it (a lock, an open \
             descriptor or its name): the clock was stepped since"
        }
        Warning::Unverifiable => {
            "a stale or reused verdict seen from inside a container's PID namespace, where \
             the PID may belong to a process outside it"
        }
        Warning::OutsideUnit => "a unit declares the file, but its process runs outside that unit",
        Warning::SystemdRefuses => {
            "systemd would refuse the PID as the unit's main process, and says only \
             \"Refusing.\"; the reason names the rule"
        }
        Warning::DaemonElsewhere => "the file is dead, but its daemon runs under another PID",
    }
}

/// What to do about a warning.
pub fn warning_advice(warning: Warning) -> &'static str {
    match warning {
        Warning::NotSignalable => {
            "nothing is wrong with the file; run as the process's user or as root to signal it"
        }
        Warning::NameMismatch => {
            "check the process before acting: the daemon may name its file after something \
             else, or the PID may belong to an unrelated program"
        }
        Warning::LockHolderMismatch => {
            "the lock holder is the file's real user: look at it (`audit --json` lists the \
             holders) before acting on the named PID"
        }
        Warning::UntrustedFile => {
            "make root or the daemon's user own the file, writable by no one else; signalling \
             its PID takes a second confirmation meanwhile"
        }
        Warning::ClockSkew => {
            "the file is alive and is never cleaned; check the clock's synchronisation (NTP, \
             chrony, fake-hwclock) if the step surprises you"
        }
        Warning::Unverifiable => {
            "run pidscope in the host's PID namespace (`hostPID: true`, `--pid=host`), or pass \
             `--same-namespace` if the pidfiles belong to this one; until then it is never deleted"
        }
        Warning::OutsideUnit => {
            "start the daemon through its unit (`systemctl start UNIT`), not by hand"
        }
        Warning::SystemdRefuses => {
            "do what the reason says: have root own the file and the directories above it, or \
             run the daemon in its unit"
        }
        Warning::DaemonElsewhere => {
            "do not start the service again, which would start a second instance: stop the \
             stray daemon or adopt it; `clean` still removes the file"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_its_sentences() {
        for status in Status::ALL {
            assert!(!status_meaning(status).is_empty(), "{status}");
        }
        for warning in Warning::ALL {
            assert!(!warning_meaning(warning).is_empty(), "{warning}");
            assert!(!warning_advice(warning).is_empty(), "{warning}");
        }
    }
}
