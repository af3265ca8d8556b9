//! The verdict rules: what a pidfile's content, its file, the process it
//! names and the locks on it add up to ([`classify`]). Pure functions of the
//! [`Evidence`], so every rule is tested without touching the system.

use std::path::PathBuf;
use std::time::SystemTime;

use super::names::{ProcessNames, names_relate};
use super::owner::{LockSign, Owner, ProcessFacts, Signs, judge};
use crate::display::{human_duration, lock_kind_name, pid_list};
use crate::probe::process::{Liveness, ProcessInfo};
use crate::scan::read::FileInfo;
use crate::verdict::{Content, Evidence, Status, Verdict, Warning};

/// Why a stale or reused verdict proves nothing from a nested PID namespace.
const UNVERIFIABLE: &str = "; unverifiable: pidscope runs in a nested PID namespace, where the PID may belong to a live process outside it";

/// Decide the verdict on one pidfile.
pub fn classify(ev: &Evidence<'_>) -> Verdict {
    let mut warnings = Vec::new();
    let (status, mut reason) = match ev.content {
        Content::Unreadable(why) => (Status::Unreadable, format!("Cannot read the file: {why}")),
        Content::Invalid(why) => (Status::Invalid, capitalise(&why.to_string())),
        Content::Pid(pid) => classify_pid(*pid, ev, &mut warnings),
    };
    if let Some(lock) = ev.lock {
        let named = ev.content.pid();
        if !lock.holders.is_empty() && named.is_none_or(|p| !lock.holders.contains(&p)) {
            if named.is_some() {
                warnings.push(Warning::LockHolderMismatch);
            }
            reason.push_str(&format!(
                "; locked ({}) by {}",
                lock_kind_name(lock.kind),
                pid_list(&lock.holders)
            ));
        }
    }
    let systemd = ev.systemd.and_then(|facts| {
        let cgroup = ev
            .probe
            .and_then(|p| p.info.as_deref())
            .and_then(|info| info.cgroup.as_deref());
        super::systemd::judge(
            status,
            ev.content.pid(),
            cgroup,
            facts,
            &mut warnings,
            &mut reason,
        )
    });
    if ev.partial_pid_view && matches!(status, Status::Stale | Status::Reused) {
        warnings.push(Warning::Unverifiable);
        reason.push_str(UNVERIFIABLE);
    }
    warnings.sort_unstable();
    warnings.dedup();
    Verdict {
        status,
        reason,
        warnings,
        systemd,
    }
}

fn classify_pid(pid: i32, ev: &Evidence<'_>, warnings: &mut Vec<Warning>) -> (Status, String) {
    let liveness = ev.probe.map_or(Liveness::Gone, |p| p.liveness);
    let info = ev.probe.and_then(|p| p.info.as_deref());
    let owner = judge(
        liveness,
        info.map(ProcessFacts::of_info).as_ref(),
        ev.file.map(|f| f.mtime),
        || signs(pid, ev, info),
    );
    if owner != Owner::Gone && liveness == Liveness::NotSignalable {
        warnings.push(Warning::NotSignalable);
    }
    let (info, owner) = match (info, owner) {
        (_, Owner::Gone) => return (Status::Stale, format!("No process has PID {pid}")),
        (Some(info), owner) => (info, owner),
        (None, _) => {
            return (
                Status::Alive,
                format!("PID {pid} exists (its /proc entry is not readable)"),
            );
        }
    };
    let name = &info.name;
    match owner {
        Owner::ThreadOf(tgid) => (
            Status::Reused,
            format!("PID {pid} is now a thread of process {tgid} ({name}), not a process"),
        ),
        Owner::KernelThread => (
            Status::Reused,
            format!(
                "PID {pid} is now the kernel thread [{name}]; kernel threads never write pidfiles"
            ),
        ),
        Owner::StartedAfter(later) => (
            Status::Reused,
            format!(
                "PID {pid} is now {name}, which started {} after the file was last written",
                human_duration(later)
            ),
        ),
        Owner::ClockStepped(later, sign) => {
            owned_file_warnings(ev, info, warnings);
            warnings.push(Warning::ClockSkew);
            (
                Status::Alive,
                format!(
                    "PID {pid} is {name}, started {} after the file was last written, but {}: the clock was probably stepped since",
                    human_duration(later),
                    sign.phrase()
                ),
            )
        }
        Owner::Exited | Owner::Live | Owner::Unidentified | Owner::Gone => {
            owned_file_warnings(ev, info, warnings);
            if owner == Owner::Exited {
                let parent = info
                    .parent_pid
                    .map_or_else(String::new, |p| format!(" by its parent {p}"));
                return (
                    Status::Zombie,
                    format!("PID {pid} ({name}) has exited but is not reaped{parent}"),
                );
            }
            let since = info
                .start_time
                .and_then(|s| SystemTime::now().duration_since(s).ok())
                .map_or_else(String::new, |d| {
                    format!(", running for {}", human_duration(d))
                });
            (Status::Alive, format!("PID {pid} is {name}{since}"))
        }
    }
}

/// What shows the process `pid` owns the file whatever the clocks say: its
/// lock, an open descriptor, its name (see [`super::owner::Signs`]).
fn signs(pid: i32, ev: &Evidence<'_>, info: Option<&ProcessInfo>) -> Signs {
    let holders = ev.lock.map_or(&[][..], |l| &l.holders[..]);
    Signs::gather(
        LockSign::of(holders, pid),
        || info.is_some_and(|info| any_path_relates(ev, info)),
        || ev.open_check.is_some_and(|check| (check.0)()),
    )
}

/// Does the file's name, or any other name of it, relate to the process's?
fn any_path_relates(ev: &Evidence<'_>, info: &ProcessInfo) -> bool {
    std::iter::once(ev.path)
        .chain(ev.aliases.iter().map(PathBuf::as_path))
        .any(|p| names_relate(p, &ProcessNames::of_info(info)))
}

/// The warnings about a file whose process may be its writer: who else can
/// write it, and whether its name relates to the process at all.
fn owned_file_warnings(ev: &Evidence<'_>, info: &ProcessInfo, warnings: &mut Vec<Warning>) {
    if let Some(file) = ev.file
        && writable_by_others(file, info.uid)
    {
        warnings.push(Warning::UntrustedFile);
    }
    if !any_path_relates(ev, info) {
        warnings.push(Warning::NameMismatch);
    }
}

/// Can a non-root user other than `owner` (the process's uid) write the file?
/// World-writable, group-writable by a non-root group, or owned by another
/// non-root user, whatever its owner's write bit says: the owner of a file
/// may `chmod` it at any time.
pub fn writable_by_others(file: &FileInfo, owner: Option<u32>) -> bool {
    file.mode & 0o002 != 0
        || (file.mode & 0o020 != 0 && file.gid != 0)
        || (file.uid != 0 && Some(file.uid) != owner)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::probe::locks::{LockInfo, LockKind};
    use crate::probe::process::ProcessProbe;
    use crate::scan::parse::InvalidPid;
    use crate::verdict::OpenCheck;
    use std::time::Duration;

    fn file(mtime: SystemTime) -> FileInfo {
        fixture::file().mtime(mtime).build()
    }

    fn process(name: &str, start: SystemTime) -> ProcessInfo {
        fixture::process(name).started(start).build()
    }

    fn probe(liveness: Liveness, info: Option<ProcessInfo>) -> ProcessProbe {
        fixture::probe(liveness, info)
    }

    struct Case {
        path: PathBuf,
        content: Content,
        file: Option<FileInfo>,
        probe: Option<ProcessProbe>,
        lock: Option<LockInfo>,
        /// What the open-descriptor check answers.
        open: bool,
        partial: bool,
    }

    impl Case {
        /// The probed process's details, to change for one case.
        fn info_mut(&mut self) -> &mut ProcessInfo {
            let info = self.probe.as_mut().unwrap().info.as_mut().unwrap();
            std::sync::Arc::make_mut(info)
        }

        fn new(path: &str, pid: i32) -> Self {
            let now = SystemTime::now();
            Case {
                path: path.into(),
                content: Content::Pid(pid),
                file: Some(file(now)),
                probe: Some(probe(
                    Liveness::Exists,
                    Some(process("nginx", now - Duration::from_secs(1))),
                )),
                lock: None,
                open: false,
                partial: false,
            }
        }
        fn verdict(&self) -> Verdict {
            let open = || self.open;
            classify(&Evidence {
                path: &self.path,
                aliases: &[],
                content: &self.content,
                file: self.file.as_ref(),
                probe: self.probe.as_ref(),
                lock: self.lock.as_ref(),
                open_check: Some(OpenCheck(&open)),
                partial_pid_view: self.partial,
                systemd: None,
            })
        }
    }

    #[test]
    fn a_running_writer_is_alive() {
        let v = Case::new("/run/nginx.pid", 10).verdict();
        assert_eq!(v.status, Status::Alive);
        assert!(v.warnings.is_empty(), "{v:?}");
        assert!(v.reason.starts_with("PID 10 is nginx"), "{}", v.reason);
    }

    #[test]
    fn eperm_is_alive_never_dead() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.probe.as_mut().unwrap().liveness = Liveness::NotSignalable;
        let v = case.verdict();
        assert_eq!(v.status, Status::Alive);
        assert_eq!(v.warnings, vec![Warning::NotSignalable]);
        case.probe.as_mut().unwrap().info = None;
        let v = case.verdict();
        assert_eq!(v.status, Status::Alive);
        assert_eq!(v.warnings, vec![Warning::NotSignalable]);
    }

    #[test]
    fn no_process_is_stale() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.probe = Some(probe(Liveness::Gone, None));
        assert_eq!(case.verdict().status, Status::Stale);
        assert_eq!(case.verdict().reason, "No process has PID 10");
    }

    #[test]
    fn a_process_started_after_the_write_is_reused() {
        // An unrelated name, no lock, the file not open: only time speaks.
        let mut case = Case::new("/run/other.pid", 10);
        let written = SystemTime::now() - Duration::from_secs(3600);
        case.file = Some(file(written));
        let v = case.verdict();
        assert_eq!(v.status, Status::Reused, "{v:?}");
        assert!(v.reason.contains("started 59m"), "{}", v.reason);
        // Within the tolerance it is still the writer.
        case.file = Some(file(SystemTime::now() - Duration::from_millis(2500)));
        assert_eq!(case.verdict().status, Status::Alive);
    }

    #[test]
    fn a_stepped_clock_never_makes_an_owner_reused() {
        let fifteen_hours_ago = SystemTime::now() - Duration::from_secs(15 * 3600);
        // By name: nginx.pid names nginx.
        let mut by_name = Case::new("/run/nginx.pid", 10);
        by_name.file = Some(file(fifteen_hours_ago));
        // By lock: an unrelated name, but nginx holds the file's lock.
        let mut by_lock = Case::new("/run/other.pid", 10);
        by_lock.file = Some(file(fifteen_hours_ago));
        by_lock.lock = Some(LockInfo {
            holder_pid: Some(10),
            kind: LockKind::Flock,
            holders: vec![10],
        });
        // By an open descriptor.
        let mut by_open = Case::new("/run/other.pid", 10);
        by_open.file = Some(file(fifteen_hours_ago));
        by_open.open = true;
        for (case, sign) in [
            (by_name, "its name matches the file's"),
            (by_lock, "holds its lock"),
            (by_open, "has it open"),
        ] {
            let v = case.verdict();
            assert_eq!(v.status, Status::Alive, "{v:?}");
            assert!(v.warnings.contains(&Warning::ClockSkew), "{v:?}");
            assert!(
                v.reason.starts_with(
                    "PID 10 is nginx, started 14h59m after the file was last written, but "
                ) && v.reason.contains(sign)
                    && v.reason.contains("the clock was probably stepped since"),
                "{}",
                v.reason
            );
        }
        // A lock held only by others is hard evidence: reused, whatever the name says.
        let mut others = Case::new("/run/nginx.pid", 10);
        others.file = Some(file(fifteen_hours_ago));
        others.lock = Some(LockInfo {
            holder_pid: Some(11),
            kind: LockKind::Flock,
            holders: vec![11],
        });
        assert_eq!(others.verdict().status, Status::Reused);
    }

    #[test]
    fn from_a_nested_namespace_stale_and_reused_are_unverifiable() {
        let mut stale = Case::new("/run/nginx.pid", 10);
        stale.probe = Some(probe(Liveness::Gone, None));
        stale.partial = true;
        let v = stale.verdict();
        assert_eq!(v.status, Status::Stale);
        assert_eq!(v.warnings, vec![Warning::Unverifiable]);
        assert!(
            v.reason
                .starts_with("No process has PID 10; unverifiable: ")
                && v.reason.contains("nested PID namespace"),
            "{}",
            v.reason
        );
        let mut reused = Case::new("/run/other.pid", 10);
        reused.file = Some(file(SystemTime::now() - Duration::from_secs(3600)));
        reused.partial = true;
        let v = reused.verdict();
        assert_eq!(v.status, Status::Reused);
        assert!(v.warnings.contains(&Warning::Unverifiable), "{v:?}");
        // Alive needs no such warning: a process that is seen exists.
        let mut alive = Case::new("/run/nginx.pid", 10);
        alive.partial = true;
        assert!(alive.verdict().warnings.is_empty());
    }

    #[test]
    fn kernel_threads_and_foreign_threads_are_reused() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.info_mut().kernel_thread = true;
        assert_eq!(case.verdict().status, Status::Reused);
        let mut case = Case::new("/run/nginx.pid", 11);
        case.info_mut().thread_of = Some(10);
        let v = case.verdict();
        assert_eq!(v.status, Status::Reused);
        assert!(v.reason.contains("thread of process 10"), "{}", v.reason);
    }

    #[test]
    fn an_unreaped_process_is_a_zombie() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.info_mut().state = crate::probe::identity::ProcessState::Zombie;
        let v = case.verdict();
        assert_eq!(v.status, Status::Zombie);
        assert!(
            v.reason.contains("not reaped by its parent 1"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn invalid_and_unreadable_content() {
        let mut case = Case::new("/run/x.pid", 1);
        case.content = Content::Invalid(InvalidPid::Empty);
        assert_eq!(case.verdict().status, Status::Invalid);
        assert_eq!(case.verdict().reason, "The file is empty");
        case.content = Content::Unreadable("permission denied".into());
        assert_eq!(case.verdict().status, Status::Unreadable);
        assert_eq!(
            case.verdict().reason,
            "Cannot read the file: permission denied"
        );
    }

    #[test]
    fn name_mismatch_warns_only_when_nothing_relates() {
        let mut case = Case::new("/run/nginx.pid", 10);
        let start = SystemTime::now() - Duration::from_secs(1);
        case.probe = Some(probe(Liveness::Exists, Some(process("sleep", start))));
        assert_eq!(case.verdict().warnings, vec![Warning::NameMismatch]);
        case.path = "/run/sleep.pid".into();
        assert!(case.verdict().warnings.is_empty());
        case.path = "/run/sleep/main.pid".into();
        assert!(case.verdict().warnings.is_empty(), "directory name relates");
    }

    #[test]
    fn files_writable_by_others_are_untrusted() {
        let mut case = Case::new("/run/nginx.pid", 10);
        assert!(case.verdict().warnings.is_empty());
        case.file.as_mut().unwrap().mode = 0o666;
        assert_eq!(case.verdict().warnings, vec![Warning::UntrustedFile]);
        case.file.as_mut().unwrap().mode = 0o664;
        case.file.as_mut().unwrap().gid = 100;
        assert_eq!(case.verdict().warnings, vec![Warning::UntrustedFile]);
        case.file.as_mut().unwrap().mode = 0o644;
        case.file.as_mut().unwrap().uid = 1000;
        assert_eq!(
            case.verdict().warnings,
            vec![Warning::UntrustedFile],
            "owned by another user"
        );
        case.info_mut().uid = Some(1000);
        assert!(
            case.verdict().warnings.is_empty(),
            "owned by the process's own user"
        );
    }

    #[test]
    fn who_else_can_write_a_file() {
        let file = |uid, gid, mode| fixture::file().uid(uid).gid(gid).mode(mode).build();
        let root = Some(0);
        for (uid, gid, mode, owner, others) in [
            (0, 0, 0o644, root, false),
            (0, 0, 0o664, root, false),
            (0, 0, 0o646, root, true),
            (0, 0, 0o602, root, true),
            (0, 100, 0o664, root, true),
            (0, 100, 0o644, root, false),
            (0, 100, 0o604, root, false),
            (1000, 0, 0o644, root, true),
            // Its owner may chmod it at any time: a read-only file is no safer.
            (1000, 0, 0o444, root, true),
            (1000, 0, 0o444, None, true),
            (1000, 0, 0o644, Some(1000), false),
            (1000, 1000, 0o664, Some(1000), true),
            (0, 0, 0o600, None, false),
        ] {
            assert_eq!(
                writable_by_others(&file(uid, gid, mode), owner),
                others,
                "uid {uid} gid {gid} mode {mode:o} process uid {owner:?}"
            );
        }
    }

    #[test]
    fn lock_held_by_someone_else_warns() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.lock = Some(LockInfo {
            holder_pid: Some(20),
            kind: LockKind::Flock,
            holders: vec![20],
        });
        let v = case.verdict();
        assert_eq!(v.status, Status::Alive);
        assert_eq!(v.warnings, vec![Warning::LockHolderMismatch]);
        assert!(
            v.reason.ends_with("; locked (flock) by PID 20"),
            "{}",
            v.reason
        );
        case.lock = Some(LockInfo {
            holder_pid: Some(10),
            kind: LockKind::Posix,
            holders: vec![10],
        });
        assert!(case.verdict().warnings.is_empty());
    }

    #[test]
    fn a_dead_pid_locked_by_a_child_says_so() {
        let mut case = Case::new("/run/nginx.pid", 10);
        case.probe = Some(probe(Liveness::Gone, None));
        case.lock = Some(LockInfo {
            holder_pid: Some(11),
            kind: LockKind::Flock,
            holders: vec![11, 12],
        });
        let v = case.verdict();
        assert_eq!(v.status, Status::Stale);
        assert_eq!(v.warnings, vec![Warning::LockHolderMismatch]);
        assert!(v.reason.contains("PIDs 11, 12"), "{}", v.reason);
    }
}
