//! Is a PID alive, and what is it? `kill(pid, 0)` for existence, the precise
//! identity and the operator-facing details from `/proc` (see
//! [`super::details`]), read by the thread that read the pidfile naming the
//! PID, and, for a view that probes again and again, the CPU use over the
//! interval from sysinfo, which refreshes only the PIDs that pidfiles name
//! (never the whole process table).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{Pid, Uid, User};
use serde::Serialize;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use super::details::{Details, read_details};
use super::identity::{Clock, Identity, ProcessState, read_identity};

/// What `kill(pid, 0)` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// A process (or thread, or zombie) has the PID and this user may signal it.
    Exists,
    /// A process has the PID but this user may not signal it (EPERM): it is alive.
    NotSignalable,
    /// No process has the PID (ESRCH).
    Gone,
}

/// Ask the kernel whether `pid` exists. Never called with `pid <= 0`, which
/// would address a process group or every process.
pub fn probe_liveness(pid: i32) -> Liveness {
    if pid <= 0 {
        return Liveness::Gone;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => Liveness::Exists,
        Err(Errno::EPERM) => Liveness::NotSignalable,
        // ESRCH, or anything unexpected: there is no process we could act on.
        Err(_) => Liveness::Gone,
    }
}

/// What the kernel and `/proc` say about one PID right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// What `kill(pid, 0)` said (asked again when `/proc/PID` vanished in between).
    pub liveness: Liveness,
    /// Who the PID is, when it exists and `/proc/PID` could be read.
    pub identity: Option<Identity>,
}

/// Look at one PID: `kill(pid, 0)`, then `/proc/PID`. A `/proc` entry that is
/// missing although `kill` found the PID means it exited in between, or that
/// `/proc` hides it (`hidepid=invisible`): only a second `kill` can tell. Any
/// other error reading it (`hidepid=noaccess`) leaves a live PID without details.
/// The scanner and the pidfile lock both look through this one function.
pub fn sight(pid: i32) -> Sighting {
    let liveness = probe_liveness(pid);
    if liveness == Liveness::Gone {
        return Sighting {
            liveness,
            identity: None,
        };
    }
    identify(pid, liveness)
}

/// The second half of [`sight`]: `/proc/PID` of a PID `kill` found.
fn identify(pid: i32, liveness: Liveness) -> Sighting {
    match read_identity(pid) {
        Ok(identity) => Sighting {
            liveness,
            identity: Some(identity),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Sighting {
            liveness: probe_liveness(pid),
            identity: None,
        },
        Err(_) => Sighting {
            liveness,
            identity: None,
        },
    }
}

/// One PID as a scan sighted it: what `kill(pid, 0)` said and, for a
/// process `/proc` shows, who it is and its details. 16 bytes, as most PIDs
/// a scan names have no process and so nothing more to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighted {
    /// What `kill(pid, 0)` said.
    pub liveness: Liveness,
    /// Its identity and details, when `/proc/PID` could be read.
    pub found: Option<Box<(Identity, Details)>>,
}

/// [`sight`] `pid` and, when it has a process, read its [`Details`]: what a
/// scan does for each PID a pidfile names, on the thread that read the
/// pidfile, as soon as it has read it.
pub fn sight_in_full(pid: i32) -> Sighted {
    in_full(pid, sight(pid))
}

/// `sighting` of `pid` with the details of its process, when it has one.
fn in_full(pid: i32, sighting: Sighting) -> Sighted {
    let Sighting { liveness, identity } = sighting;
    Sighted {
        liveness,
        found: identity.map(|id| Box::new((id, read_details(pid)))),
    }
}

/// The PIDs a scan has sighted so far, each once.
#[derive(Debug, Default)]
pub struct Sightings {
    /// The PIDs that have a process.
    found: HashMap<i32, Sighted>,
    /// The PIDs no process has (most of those a large scan names): kept
    /// apart in four bytes each, to know they need no second look.
    gone: Vec<i32>,
}

/// The live PIDs some thread of a scan has claimed to look at in full, so
/// that each is looked at once however many slices name it.
pub type Claimed = Mutex<HashSet<i32>>;

impl Sightings {
    /// [`sight_in_full`] each of `pids` (a slice of one scan's): a PID no
    /// process has is noted as gone, and a live one is looked at in full
    /// unless another slice's thread has `claimed` it (that one's sightings
    /// then hold it).
    pub fn sight(pids: &mut Vec<i32>, claimed: &Claimed) -> Sightings {
        pids.retain(|&p| p > 0);
        pids.sort_unstable();
        pids.dedup();
        let mut sightings = Sightings::default();
        for &pid in pids.iter() {
            let liveness = probe_liveness(pid);
            if liveness == Liveness::Gone {
                sightings.gone.push(pid);
                continue;
            }
            // A poisoned lock only means another thread panicked: the scan
            // ends with that panic, and looking twice is harmless meanwhile.
            let mine = claimed.lock().map_or(true, |mut c| c.insert(pid));
            if mine {
                sightings.add(pid, in_full(pid, identify(pid, liveness)));
            }
        }
        sightings
    }

    /// Take in what another slice sighted.
    pub fn merge(&mut self, other: Sightings) {
        self.gone.extend(other.gone);
        self.found.extend(other.found);
    }

    fn add(&mut self, pid: i32, sighted: Sighted) {
        if sighted.liveness == Liveness::Gone {
            self.gone.push(pid);
        } else {
            self.found.insert(pid, sighted);
        }
    }
}

/// [`sight_in_full`] each of `pids`, in order, on this thread: what a scan
/// did not sight as it read (nothing, as every pidfile's PID is sighted by
/// the thread that read it).
fn sight_all(pids: &[i32]) -> Vec<(i32, Sighted)> {
    pids.iter().map(|&pid| (pid, sight_in_full(pid))).collect()
}

/// The details of a process shown to the operator and written by `audit --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessInfo {
    /// Short name (the kernel's `comm`).
    pub name: String,
    /// Real uid, when known.
    pub uid: Option<u32>,
    /// User name for `uid`, when it has one.
    pub user: Option<String>,
    /// Start time, to the clock tick.
    #[serde(serialize_with = "crate::serial::epoch_seconds_opt")]
    pub start_time: Option<SystemTime>,
    /// Command line, one element per argument.
    pub cmdline: Vec<String>,
    /// Path of the executable, when readable.
    #[serde(serialize_with = "crate::serial::lossy_path_opt")]
    pub exe: Option<PathBuf>,
    /// State: running, sleeping, disk-sleep, zombie, stopped, idle...
    pub state: ProcessState,
    /// Parent PID.
    pub parent_pid: Option<i32>,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// CPU use in percent of one core: over the last refresh interval when the
    /// process was seen by the previous scan, else the average since it started.
    pub cpu_percent: f32,
    /// A kernel thread.
    pub kernel_thread: bool,
    /// Start time in clock ticks after boot (with the PID, the process's identity).
    #[serde(skip)]
    pub start_ticks: u64,
    /// The process the PID belongs to when the PID is a thread of another one.
    #[serde(skip)]
    pub thread_of: Option<i32>,
    /// Its cgroup, from `/proc/PID/cgroup` (see [`super::cgroup::parse_proc_cgroup`]).
    #[serde(skip)]
    pub cgroup: Option<String>,
}

/// Everything learned about one PID in one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessProbe {
    /// What `kill(pid, 0)` said.
    pub liveness: Liveness,
    /// Details, when the process exists and `/proc/PID` could be read.
    pub info: Option<std::sync::Arc<ProcessInfo>>,
}

impl ProcessProbe {
    /// What a PID no process has probes as.
    pub const GONE: ProcessProbe = ProcessProbe {
        liveness: Liveness::Gone,
        info: None,
    };
}

/// Probes PIDs; caches uid -> user name lookups and, for a view that
/// probes again and again, keeps sysinfo's state between probes so CPU use
/// can be measured over the refresh interval.
pub struct Prober {
    /// sysinfo's view of the probed processes, for their CPU use over an
    /// interval; `None` until a probe of a prober that tracks CPU needs it.
    system: Option<System>,
    /// Whether CPU use is measured over the interval between probes.
    track_cpu: bool,
    users: HashMap<u32, Option<std::sync::Arc<str>>>,
    /// When each PID was last refreshed, to know whether sysinfo's CPU figure covers an interval.
    seen: HashMap<i32, Instant>,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    /// A prober with nothing loaded, for one probe: the CPU use it gives is
    /// each process's average since it started.
    pub fn new() -> Self {
        Prober {
            system: None,
            track_cpu: false,
            users: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Measure each process's CPU use over the interval since the previous
    /// probe that saw it (for views that probe again and again).
    pub fn tracking_cpu(mut self) -> Self {
        self.track_cpu = true;
        self
    }

    /// Probe each distinct PID of `pids` once, however many pidfiles name
    /// it, taking what `sighted` already saw (a scan sights each PID as it
    /// reads the pidfile) and sighting the others now. A positive PID no
    /// process has is left out of the map: it stands for
    /// [`ProcessProbe::GONE`] (most PIDs a large scan names are stale).
    pub fn probe(&mut self, pids: &[i32], sighted: Sightings) -> HashMap<i32, ProcessProbe> {
        let clock = Clock::now();
        let now = Instant::now();
        let Sightings {
            mut found,
            mut gone,
        } = sighted;
        gone.sort_unstable();
        let mut unseen: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|&p| p > 0 && !found.contains_key(&p) && gone.binary_search(&p).is_err())
            .collect();
        drop(gone);
        unseen.sort_unstable();
        unseen.dedup();
        for (pid, sighted) in sight_all(&unseen) {
            if sighted.liveness != Liveness::Gone {
                found.insert(pid, sighted);
            }
        }
        self.refresh_cpu(&found);
        let mut probes = HashMap::with_capacity(found.len());
        for (pid, Sighted { liveness, found }) in found {
            let info = found.map(|found| {
                let (identity, details) = *found;
                // sysinfo's CPU figure covers the time since this PID's previous refresh.
                let interval_cpu = self.seen.get(&pid).is_some_and(|t| {
                    now.duration_since(*t) >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL
                });
                std::sync::Arc::new(self.describe(pid, identity, details, &clock, interval_cpu))
            });
            probes.insert(pid, ProcessProbe { liveness, info });
        }
        self.seen
            .retain(|pid, _| probes.get(pid).is_some_and(|p| p.info.is_some()));
        for (&pid, probe) in &probes {
            if probe.info.is_some() {
                self.seen.entry(pid).or_insert(now);
            }
        }
        probes
    }

    /// Refresh sysinfo's CPU figures of the processes in `found`, when this
    /// prober tracks CPU use.
    fn refresh_cpu(&mut self, found: &HashMap<i32, Sighted>) {
        if !self.track_cpu {
            return;
        }
        let live: Vec<sysinfo::Pid> = found
            .iter()
            .filter(|(_, s)| s.found.is_some())
            .map(|(&p, _)| sysinfo::Pid::from_u32(p as u32))
            .collect();
        if live.is_empty() {
            return;
        }
        if self.system.is_none() {
            self.system = System::new().ok();
        }
        if let Some(system) = self.system.as_mut() {
            let kind = ProcessRefreshKind::nothing().without_tasks().with_cpu();
            system.refresh_processes_specifics(ProcessesToUpdate::Some(&live), true, kind);
        }
    }

    fn describe(
        &mut self,
        pid: i32,
        id: Identity,
        details: Details,
        clock: &Clock,
        interval_cpu: bool,
    ) -> ProcessInfo {
        // The uid comes from /proc/PID/status, read for the thread group id.
        let uid = id.uid;
        let user = uid.and_then(|u| self.user_name(u)).map(|u| u.to_string());
        let start_time = clock.wall_time(id.start_ticks);
        let cpu_percent = match self.process(pid) {
            Some(p) if interval_cpu => p.cpu_usage(),
            _ => lifetime_cpu_percent(&id, clock, start_time),
        };
        ProcessInfo {
            name: id.comm,
            uid,
            user,
            start_time: Some(start_time),
            cmdline: details.cmdline,
            exe: details.exe,
            state: id.state,
            parent_pid: (id.ppid > 0).then_some(id.ppid),
            memory_bytes: details.memory_bytes,
            cpu_percent,
            kernel_thread: id.kernel_thread,
            start_ticks: id.start_ticks,
            thread_of: id.tgid.filter(|&t| t != pid),
            cgroup: details.cgroup,
        }
    }

    fn process(&self, pid: i32) -> Option<&sysinfo::Process> {
        self.system
            .as_ref()?
            .process(sysinfo::Pid::from_u32(pid as u32))
    }

    /// The user name of `uid`, looked up once per uid.
    pub fn user_name(&mut self, uid: u32) -> Option<std::sync::Arc<str>> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name.into())
            })
            .clone()
    }
}

/// CPU use averaged over the process's life, as `ps` shows it: the figure a
/// one-shot audit can give without waiting for a second sample.
fn lifetime_cpu_percent(id: &Identity, clock: &Clock, start: SystemTime) -> f32 {
    let alive = SystemTime::now()
        .duration_since(start)
        .unwrap_or_default()
        .as_secs_f64();
    if alive <= 0.0 {
        return 0.0;
    }
    (clock.duration(id.cpu_ticks).as_secs_f64() / alive * 100.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_signals_process_groups_or_everyone() {
        assert_eq!(probe_liveness(0), Liveness::Gone);
        assert_eq!(probe_liveness(-1), Liveness::Gone);
    }

    #[test]
    fn finds_itself_with_details() {
        let me = std::process::id() as i32;
        let mut prober = Prober::new();
        let probes = prober.probe(&[me, me], Sightings::default());
        assert_eq!(probes.len(), 1, "each PID is probed once");
        let probe = &probes[&me];
        assert_eq!(probe.liveness, Liveness::Exists);
        let info = probe.info.as_ref().expect("details");
        assert!(!info.cmdline.is_empty());
        assert!(info.memory_bytes > 0);
        assert_eq!(info.uid, Some(nix::unistd::getuid().as_raw()));
        assert_eq!(info.thread_of, None);
    }
}
