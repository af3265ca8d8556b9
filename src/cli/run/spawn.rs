//! Starting COMMAND as a real holder of the pidfile's lock, and telling the
//! user, with the shells' statuses, why it could not be started.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use pidscope::lock::PidFileGuard;

use super::status;
use crate::cli::warn;

/// Start COMMAND with an empty signal mask and the lock's descriptor inherited.
pub(super) fn spawn(argv: &[OsString], guard: &PidFileGuard) -> io::Result<Child> {
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

/// Say why COMMAND (`program`) could not be started and return the
/// wrapper's status for it: not found, cannot execute, or failed.
pub(super) fn report_failure(program: &OsStr, e: &io::Error) -> u8 {
    let name = program.to_string_lossy();
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
    if code == status::NOT_FOUND && exists_as_command(program) {
        // The file is there: exec missed what it needs to start it.
        warn(&format!(
            "cannot run {name}: required file not found (its #! interpreter or its loader is missing)"
        ));
    } else if code == status::NOT_FOUND {
        warn(&format!("{name}: command not found"));
    } else {
        warn(&format!("cannot run {name}: {e}"));
    }
    code
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
