//! Who a PID is right now, from `/proc/PID/stat` and `/proc/PID/status`:
//! the precise start time, the state, the parent, and whether it is a kernel
//! thread or a thread of another process (neither ever writes a pidfile).

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::time::{ClockId, clock_gettime};
use serde::Serialize;

/// `PF_KTHREAD` in the `flags` field of `/proc/PID/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `/proc/PID/stat` and `/proc/PID/status` that decide a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The kernel's short name (`comm`, at most 15 bytes).
    pub comm: String,
    /// The state (the one letter of `/proc/PID/stat`: R, S, D, Z, T...).
    pub state: ProcessState,
    /// Parent PID.
    pub ppid: i32,
    /// True for kernel threads.
    pub kernel_thread: bool,
    /// Start time in clock ticks after boot: with the PID, a process's unique identity.
    pub start_ticks: u64,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// The thread group (process) the PID belongs to; differs from the PID for a thread.
    pub tgid: Option<i32>,
    /// Real uid, from `status`.
    pub uid: Option<u32>,
}

/// Read the identity of `pid`. `NotFound` means the process is gone.
pub fn read_identity(pid: i32) -> io::Result<Identity> {
    let stat = std::fs::read(format!("/proc/{pid}/stat"))?;
    let mut identity = parse_stat(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot parse /proc/{pid}/stat"),
        )
    })?;
    // Tgid is only in `status`; a missing status (process exited) leaves it unknown.
    if let Ok(status) = std::fs::read(format!("/proc/{pid}/status")) {
        identity.tgid = status_field(&status, b"Tgid:").and_then(|v| v.parse().ok());
        identity.uid = status_field(&status, b"Uid:")
            .and_then(|v| v.split_ascii_whitespace().next())
            .and_then(|v| v.parse().ok());
    }
    Ok(identity)
}

/// The executable's path and `argv[0]` of `pid`, when `/proc` lets us read them.
pub fn read_exe_and_arg0(pid: i32) -> (Option<std::path::PathBuf>, Option<String>) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let arg0 = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|cmdline| {
            let first = cmdline.split(|&b| b == 0).next()?;
            (!first.is_empty()).then(|| String::from_utf8_lossy(first).into_owned())
        });
    (exe, arg0)
}

/// Parse `/proc/PID/stat`. The command name may hold spaces and parentheses,
/// so fields are counted after the LAST `)`.
pub fn parse_stat(stat: &[u8]) -> Option<Identity> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // rest starts at field 3 (state); field N is at index N - 3.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    let num = |n: usize| field(n).and_then(|f| f.parse::<u64>().ok());
    Some(Identity {
        comm,
        state: ProcessState::from_letter(field(3)?.chars().next()?),
        ppid: field(4)?.parse().ok()?,
        kernel_thread: num(9)? & PF_KTHREAD != 0,
        start_ticks: num(22)?,
        // Saturating: a corrupt or hostile stat must not overflow (found by fuzzing).
        cpu_ticks: num(14)?.saturating_add(num(15)?),
        tgid: None,
        uid: None,
    })
}

/// A process's state, from the one letter of `/proc/PID/stat`: the one
/// encoding every rule and every output uses (written as its word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessState {
    /// R.
    Running,
    /// S.
    Sleeping,
    /// D: uninterruptible sleep.
    DiskSleep,
    /// Z: exited, not yet reaped by its parent.
    Zombie,
    /// T: stopped by a signal.
    Stopped,
    /// t: stopped by a debugger.
    TracingStop,
    /// X or x: being torn down.
    Dead,
    /// I: an idle kernel thread.
    Idle,
    /// P.
    Parked,
    /// W.
    Waking,
    /// K.
    Wakekill,
    /// A letter this version does not know.
    Unknown,
}

impl ProcessState {
    /// The state a `/proc/PID/stat` letter stands for.
    pub fn from_letter(letter: char) -> Self {
        match letter {
            'R' => ProcessState::Running,
            'S' => ProcessState::Sleeping,
            'D' => ProcessState::DiskSleep,
            'Z' => ProcessState::Zombie,
            'T' => ProcessState::Stopped,
            't' => ProcessState::TracingStop,
            'X' | 'x' => ProcessState::Dead,
            'I' => ProcessState::Idle,
            'P' => ProcessState::Parked,
            'W' => ProcessState::Waking,
            'K' => ProcessState::Wakekill,
            _ => ProcessState::Unknown,
        }
    }

    /// The word every output uses: `running`, `sleeping`, `disk-sleep`, `zombie`...
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Running => "running",
            ProcessState::Sleeping => "sleeping",
            ProcessState::DiskSleep => "disk-sleep",
            ProcessState::Zombie => "zombie",
            ProcessState::Stopped => "stopped",
            ProcessState::TracingStop => "tracing-stop",
            ProcessState::Dead => "dead",
            ProcessState::Idle => "idle",
            ProcessState::Parked => "parked",
            ProcessState::Waking => "waking",
            ProcessState::Wakekill => "wakekill",
            ProcessState::Unknown => "unknown",
        }
    }

    /// Has the process exited (a zombie, or being torn down)?
    pub fn has_exited(self) -> bool {
        matches!(self, ProcessState::Zombie | ProcessState::Dead)
    }
}

impl std::fmt::Display for ProcessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn status_field<'a>(status: &'a [u8], key: &[u8]) -> Option<&'a str> {
    status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// Converts kernel clock ticks after boot into wall-clock time, to the tick
/// (10 ms) rather than to the whole second `btime` would give.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `CLOCK_REALTIME - CLOCK_BOOTTIME`: the wall-clock time of boot.
    boot: Duration,
    ticks_per_second: u64,
}

impl Clock {
    /// Measure the boot time now (once per scan: it only drifts with clock adjustments).
    pub fn now() -> Self {
        let real = clock_gettime(ClockId::CLOCK_REALTIME)
            .map(Duration::from)
            .unwrap_or_default();
        let boot = clock_gettime(ClockId::CLOCK_BOOTTIME)
            .map(Duration::from)
            .unwrap_or_default();
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|&t| t > 0)
            .map_or(100, |t| t as u64);
        Clock {
            boot: real.saturating_sub(boot),
            ticks_per_second: ticks,
        }
    }

    /// The wall-clock time `ticks` clock ticks after boot.
    pub fn wall_time(&self, ticks: u64) -> SystemTime {
        UNIX_EPOCH + self.boot + self.duration(ticks)
    }

    /// `ticks` clock ticks as a duration.
    pub fn duration(&self, ticks: u64) -> Duration {
        let whole = ticks / self.ticks_per_second;
        let frac = ticks % self.ticks_per_second;
        Duration::from_secs(whole)
            + Duration::from_nanos(frac * 1_000_000_000 / self.ticks_per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_comm_with_spaces_and_parentheses() {
        let line = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 123456 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let id = parse_stat(line).expect("parses");
        assert_eq!(id.comm, "my (odd) name");
        assert_eq!(id.state, ProcessState::Sleeping);
        assert_eq!(id.ppid, 1);
        assert_eq!(id.start_ticks, 123456);
        assert_eq!(id.cpu_ticks, 10);
        assert!(!id.kernel_thread);
    }

    #[test]
    fn states_are_written_as_the_words_of_every_output() {
        for (letter, word) in [
            ('R', "running"),
            ('S', "sleeping"),
            ('D', "disk-sleep"),
            ('Z', "zombie"),
            ('T', "stopped"),
            ('t', "tracing-stop"),
            ('X', "dead"),
            ('x', "dead"),
            ('I', "idle"),
            ('P', "parked"),
            ('W', "waking"),
            ('K', "wakekill"),
            ('?', "unknown"),
        ] {
            let state = ProcessState::from_letter(letter);
            assert_eq!(state.as_str(), word, "{letter}");
            assert_eq!(serde_json::to_value(state).unwrap(), word, "{letter}");
        }
        assert!(ProcessState::from_letter('Z').has_exited());
        assert!(ProcessState::from_letter('x').has_exited());
        assert!(!ProcessState::from_letter('T').has_exited());
    }

    #[test]
    fn recognises_kernel_threads_by_pf_kthread() {
        let line = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0";
        assert!(parse_stat(line).expect("parses").kernel_thread);
    }

    #[test]
    fn rejects_truncated_stat() {
        assert_eq!(parse_stat(b"12 (x) S 1"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn own_identity_is_readable_and_starts_before_now() {
        let me = read_identity(std::process::id() as i32).expect("own /proc entry");
        assert_eq!(me.tgid, Some(std::process::id() as i32));
        assert_eq!(me.uid, Some(nix::unistd::getuid().as_raw()));
        let started = Clock::now().wall_time(me.start_ticks);
        assert!(started <= SystemTime::now());
        assert!(
            SystemTime::now().duration_since(started).expect("past") < Duration::from_secs(3600)
        );
    }
}
