//! The systemd rules: would systemd accept the PID a unit's pidfile names
//! (as `service_load_pid_file` decides), does the process run in the unit,
//! and is the daemon of a dead pidfile running under another PID.
//! Every sentence these rules add to a verdict is written here.

use crate::display::pid_list;
use crate::systemd::chase::Chase;
use crate::systemd::index::Declaration;
use crate::verdict::{Namesake, Status, SystemdFacts, SystemdInfo, Warning};

/// Why systemd accepts a main PID from a pidfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// The process runs in the unit's cgroup.
    InCgroup,
    /// It runs elsewhere, but root owns the file, so systemd trusts it.
    RootOwnedFile,
}

/// Why systemd refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// PID 1 is the manager itself.
    Manager,
    /// The process runs outside the unit and the path to the file has an
    /// unsafe transition (see [`crate::systemd::chase`]).
    UnsafeChain(crate::systemd::chase::UnsafeStep),
    /// The process runs outside the unit and a non-root user owns the file.
    NotRootOwned(u32),
}

/// systemd's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It takes the PID as the unit's main process.
    Accepts(Acceptance),
    /// It refuses, and the unit fails to start or reload.
    Refuses(Refusal),
}

/// Whether a process in `cgroup` runs in `unit`: its cgroup path ends in
/// `/UNIT` or has `/UNIT/` in it.
pub fn in_unit(cgroup: &str, unit: &str) -> bool {
    cgroup
        .strip_suffix(unit)
        .is_some_and(|head| head.ends_with('/'))
        || cgroup.contains(&format!("/{unit}/"))
}

/// systemd's rule for the live PID `pid` that unit `unit`'s pidfile names,
/// the process running in `cgroup`. `None` when the answer hangs on the
/// path and it could not be chased.
pub fn answer(pid: i32, cgroup: Option<&str>, unit: &str, chase: Option<&Chase>) -> Option<Answer> {
    if pid == 1 {
        return Some(Answer::Refuses(Refusal::Manager));
    }
    if cgroup.is_some_and(|c| in_unit(c, unit)) {
        return Some(Answer::Accepts(Acceptance::InCgroup));
    }
    let chase = chase?;
    Some(match (&chase.unsafe_step, chase.owner) {
        (Some(step), _) => Answer::Refuses(Refusal::UnsafeChain(step.clone())),
        (None, 0) => Answer::Accepts(Acceptance::RootOwnedFile),
        (None, uid) => Answer::Refuses(Refusal::NotRootOwned(uid)),
    })
}

impl Answer {
    /// The answer in plain words, with systemd's own message for a refusal
    /// and what to do about it.
    pub fn explain(&self, pid: i32, unit: &str) -> String {
        match self {
            Answer::Accepts(Acceptance::InCgroup) => {
                format!("systemd accepts PID {pid}: it runs in {unit}")
            }
            Answer::Accepts(Acceptance::RootOwnedFile) => format!(
                "systemd accepts PID {pid}: it runs outside {unit}, but root owns the file"
            ),
            Answer::Refuses(Refusal::Manager) => "systemd refuses it (\"New main PID 1 is the manager, refusing.\"): PID 1 is the service manager; the daemon must write its own PID".to_owned(),
            Answer::Refuses(Refusal::UnsafeChain(step)) => format!(
                "systemd refuses it (\"Refusing to accept PID outside of service control group, acquired through unsafe symlink chain\"): PID {pid} runs outside {unit}, and the path steps from {} (owned by uid {}) to {} (owned by uid {}); make root own {}, or point {unit}'s PIDFile= at a root-owned directory",
                step.from.display(),
                step.from_uid,
                step.to.display(),
                step.to_uid,
                step.from.display(),
            ),
            Answer::Refuses(Refusal::NotRootOwned(uid)) => format!(
                "systemd refuses it (\"New main PID {pid} does not belong to service, and PID file is not owned by root. Refusing.\"): PID {pid} runs outside {unit} and uid {uid} owns the file; run the daemon in {unit}, or have root write the file"
            ),
        }
    }

    /// Whether systemd takes the PID.
    pub fn accepts(&self) -> bool {
        matches!(self, Answer::Accepts(_))
    }
}

/// The daemon of a dead pidfile, seen running under other PIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elsewhere {
    /// The declaring unit's cgroup has these live processes: certain.
    InUnit(String, Vec<i32>),
    /// No unit declares the file, but processes whose executable is named
    /// like the file run with no parent of that name: possible.
    Namesakes(String, Vec<i32>),
}

impl Elsewhere {
    fn explain(&self) -> String {
        match self {
            Elsewhere::InUnit(unit, pids) => format!(
                "{unit} is running as {}: starting it again would start a second instance",
                pid_list(pids)
            ),
            Elsewhere::Namesakes(name, pids) => format!(
                "{name} may be running as {}: starting it again would start a second instance",
                pid_list(pids)
            ),
        }
    }
}

/// Which of `namesakes` (live processes whose executable is named like the
/// file) may be the daemon: not the PID the file names, and not a child of
/// a process of the same name (a worker of the real one).
pub fn daemon_candidates(named: Option<i32>, namesakes: &[Namesake]) -> Vec<i32> {
    let mut pids: Vec<i32> = namesakes
        .iter()
        .filter(|n| Some(n.pid) != named && !n.parent_same_name)
        .map(|n| n.pid)
        .collect();
    pids.sort_unstable();
    pids
}

/// The systemd part of a verdict: the facts for every output, the
/// warnings, and the words added to the reason.
pub fn judge(
    status: Status,
    pid: Option<i32>,
    process_cgroup: Option<&str>,
    facts: &SystemdFacts<'_>,
    warnings: &mut Vec<Warning>,
    reason: &mut String,
) -> Option<SystemdInfo> {
    let process_unit = process_cgroup
        .and_then(crate::probe::cgroup::unit_of)
        .map(str::to_owned);
    let first: Option<&Declaration> = facts.declarations.first();
    let live = matches!(status, Status::Alive | Status::Reused) && process_cgroup.is_some();
    let mut info = SystemdInfo {
        declared_by: facts.declarations.iter().map(|d| d.unit.clone()).collect(),
        process_unit,
        unit_pids: facts.unit_pids.to_vec(),
        systemd_accepts: None,
        declarations: facts.declarations.to_vec(),
        answer: None,
    };
    if let Some(d) = first {
        reason.push_str(&format!("; declared by {} (PIDFile={})", d.unit, d.setting));
    }
    if let (Some(d), Some(pid), true) = (first, pid, live) {
        if !process_cgroup.is_some_and(|c| in_unit(c, &d.unit)) {
            warnings.push(Warning::OutsideUnit);
            let place = info.process_unit.as_deref().unwrap_or("no unit");
            reason.push_str(&format!("; PID {pid} runs outside {} (in {place})", d.unit));
        }
        if let Some(answer) = answer(pid, process_cgroup, &d.unit, facts.chase) {
            info.systemd_accepts = Some(answer.accepts());
            let words = answer.explain(pid, &d.unit);
            if !answer.accepts() {
                warnings.push(Warning::SystemdRefuses);
                reason.push_str(&format!("; {words}"));
            }
            info.answer = Some(words);
        }
    }
    if matches!(status, Status::Stale | Status::Reused | Status::Zombie) {
        let elsewhere = match first {
            Some(d) => {
                let others: Vec<i32> = facts
                    .unit_pids
                    .iter()
                    .copied()
                    .filter(|&p| Some(p) != pid)
                    .collect();
                (!others.is_empty()).then(|| Elsewhere::InUnit(d.unit.clone(), others))
            }
            None => facts.namesakes.and_then(|look| {
                let (name, namesakes) = (look.0)();
                let pids = daemon_candidates(pid, &namesakes);
                (!pids.is_empty()).then_some(Elsewhere::Namesakes(name, pids))
            }),
        };
        if let Some(elsewhere) = elsewhere {
            warnings.push(Warning::DaemonElsewhere);
            reason.push_str(&format!("; {}", elsewhere.explain()));
        }
    }
    let nothing = info.declared_by.is_empty() && info.process_unit.is_none();
    (!nothing).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systemd::chase::UnsafeStep;
    use crate::verdict::SystemdFacts;
    use std::path::PathBuf;

    fn chase(owner: u32, unsafe_step: Option<UnsafeStep>) -> Chase {
        Chase { unsafe_step, owner }
    }

    fn step() -> UnsafeStep {
        UnsafeStep {
            from: PathBuf::from("/run/app"),
            from_uid: 1000,
            to: PathBuf::from("/run/app/app.pid"),
            to_uid: 0,
        }
    }

    #[test]
    fn membership_is_the_unit_as_a_whole_component() {
        for (cgroup, unit, inside) in [
            ("/system.slice/nginx.service", "nginx.service", true),
            ("/system.slice/nginx.service/worker", "nginx.service", true),
            ("/system.slice/my-nginx.service", "nginx.service", false),
            ("/system.slice/nginx.service.d", "nginx.service", false),
            ("/", "nginx.service", false),
            ("nginx.service", "nginx.service", false),
        ] {
            assert_eq!(in_unit(cgroup, unit), inside, "{cgroup} {unit}");
        }
    }

    #[test]
    fn systemds_acceptance_rule_in_its_order() {
        let unit = "app.service";
        let inside = Some("/system.slice/app.service");
        let outside = Some("/user.slice/session-1.scope");
        let cases = [
            // PID 1 is refused even from inside, even with a root-owned file.
            (
                1,
                inside,
                Some(chase(0, None)),
                Some(Answer::Refuses(Refusal::Manager)),
            ),
            // In the cgroup: accepted whatever the path and owner.
            (
                50,
                inside,
                Some(chase(1000, Some(step()))),
                Some(Answer::Accepts(Acceptance::InCgroup)),
            ),
            (
                50,
                inside,
                None,
                Some(Answer::Accepts(Acceptance::InCgroup)),
            ),
            // Outside: an unsafe chain first, then the owner.
            (
                50,
                outside,
                Some(chase(0, Some(step()))),
                Some(Answer::Refuses(Refusal::UnsafeChain(step()))),
            ),
            (
                50,
                outside,
                Some(chase(1000, None)),
                Some(Answer::Refuses(Refusal::NotRootOwned(1000))),
            ),
            (
                50,
                outside,
                Some(chase(0, None)),
                Some(Answer::Accepts(Acceptance::RootOwnedFile)),
            ),
            (
                50,
                None,
                Some(chase(0, None)),
                Some(Answer::Accepts(Acceptance::RootOwnedFile)),
            ),
            // Outside and the path could not be chased: no answer.
            (50, outside, None, None),
        ];
        for (pid, cgroup, chase, want) in cases {
            assert_eq!(
                answer(pid, cgroup, unit, chase.as_ref()),
                want,
                "{pid} {cgroup:?} {chase:?}"
            );
        }
    }

    #[test]
    fn refusals_quote_systemd_and_say_what_to_do() {
        let unit = "app.service";
        let text = Answer::Refuses(Refusal::NotRootOwned(1000)).explain(50, unit);
        assert!(text.contains("New main PID 50 does not belong to service, and PID file is not owned by root. Refusing."));
        assert!(text.contains("have root write the file"));
        let text = Answer::Refuses(Refusal::UnsafeChain(step())).explain(50, unit);
        assert!(text.contains("acquired through unsafe symlink chain"));
        assert!(text.contains("make root own /run/app"));
        let text = Answer::Refuses(Refusal::Manager).explain(1, unit);
        assert!(text.contains("is the manager"));
    }

    /// One case of [`judge`]: the verdict so far, the facts, and what it adds.
    struct Judged {
        info: Option<SystemdInfo>,
        warnings: Vec<Warning>,
        reason: String,
    }

    fn judged(
        status: Status,
        cgroup: Option<&str>,
        declared: &[&str],
        unit_pids: &[i32],
        chase: Option<Chase>,
        namesakes: &[Namesake],
    ) -> Judged {
        let declarations: Vec<Declaration> = declared
            .iter()
            .map(|u| Declaration {
                unit: u.to_string(),
                setting: "/run/app.pid".into(),
                path: PathBuf::from("/run/app.pid"),
                source: PathBuf::from(format!("/etc/systemd/system/{u}")),
            })
            .collect();
        let look = || ("app".to_string(), namesakes.to_vec());
        let facts = SystemdFacts {
            declarations: &declarations,
            unit_pids,
            chase: chase.as_ref(),
            namesakes: Some(crate::verdict::NamesakeLook(&look)),
        };
        let mut warnings = Vec::new();
        let mut reason = String::from("R");
        let info = judge(status, Some(50), cgroup, &facts, &mut warnings, &mut reason);
        Judged {
            info,
            warnings,
            reason,
        }
    }

    #[test]
    fn judge_adds_the_systemd_facts_warnings_and_words() {
        use Status::*;
        use Warning::*;
        let unit = Some("/system.slice/app.service");
        let session = Some("/user.slice/session-1.scope");
        let root = Some(chase(0, None));
        let declared = "; declared by app.service (PIDFile=/run/app.pid)";
        // (status, cgroup, declared, unit pids, chase, namesakes) ->
        // (accepts, warnings, reason after "R", process unit)
        type Case<'a> = (
            Status,
            Option<&'a str>,
            &'a [&'a str],
            &'a [i32],
            Option<Chase>,
            &'a [Namesake],
            Option<bool>,
            &'a [Warning],
            String,
        );
        let cases: Vec<Case> = vec![
            (
                Alive,
                unit,
                &["app.service"],
                &[50],
                root.clone(),
                &[],
                Some(true),
                &[],
                declared.to_string(),
            ),
            (
                Alive,
                session,
                &["app.service"],
                &[],
                root.clone(),
                &[],
                Some(true),
                &[OutsideUnit],
                format!("{declared}; PID 50 runs outside app.service (in session-1.scope)"),
            ),
            (
                Alive,
                Some("/"),
                &["app.service"],
                &[],
                Some(chase(7, None)),
                &[],
                Some(false),
                &[OutsideUnit, SystemdRefuses],
                format!(
                    "{declared}; PID 50 runs outside app.service (in no unit); {}",
                    Answer::Refuses(Refusal::NotRootOwned(7)).explain(50, "app.service")
                ),
            ),
            // Outside, and the path could not be walked: no answer.
            (
                Reused,
                session,
                &["app.service"],
                &[],
                None,
                &[],
                None,
                &[OutsideUnit],
                format!("{declared}; PID 50 runs outside app.service (in session-1.scope)"),
            ),
            // No process to ask about: nothing about acceptance.
            (
                Stale,
                None,
                &["app.service"],
                &[],
                None,
                &[],
                None,
                &[],
                declared.to_string(),
            ),
            (
                Stale,
                None,
                &["app.service"],
                &[50, 61],
                None,
                &[],
                None,
                &[DaemonElsewhere],
                format!(
                    "{declared}; app.service is running as PID 61: starting it again would start a second instance"
                ),
            ),
            (
                Zombie,
                unit,
                &["app.service"],
                &[50, 61],
                root.clone(),
                &[],
                None,
                &[DaemonElsewhere],
                format!(
                    "{declared}; app.service is running as PID 61: starting it again would start a second instance"
                ),
            ),
            // Alive is never "elsewhere", whatever the unit runs.
            (
                Alive,
                unit,
                &["app.service"],
                &[50, 61],
                root.clone(),
                &[],
                Some(true),
                &[],
                declared.to_string(),
            ),
            // Undeclared: namesakes may be the daemon; workers are not.
            (
                Stale,
                None,
                &[],
                &[],
                None,
                &[
                    Namesake {
                        pid: 70,
                        parent_same_name: false,
                    },
                    Namesake {
                        pid: 71,
                        parent_same_name: true,
                    },
                ],
                None,
                &[DaemonElsewhere],
                "; app may be running as PID 70: starting it again would start a second instance"
                    .to_string(),
            ),
            (
                Stale,
                None,
                &[],
                &[],
                None,
                &[Namesake {
                    pid: 71,
                    parent_same_name: true,
                }],
                None,
                &[],
                String::new(),
            ),
            (
                Alive,
                None,
                &[],
                &[],
                None,
                &[Namesake {
                    pid: 70,
                    parent_same_name: false,
                }],
                None,
                &[],
                String::new(),
            ),
        ];
        for (i, (status, cgroup, declared, pids, chase, namesakes, accepts, warnings, reason)) in
            cases.into_iter().enumerate()
        {
            let got = judged(status, cgroup, declared, pids, chase, namesakes);
            assert_eq!(got.warnings, warnings, "case {i}");
            assert_eq!(got.reason, format!("R{reason}"), "case {i}");
            match got.info {
                Some(info) => {
                    assert_eq!(info.systemd_accepts, accepts, "case {i}");
                    assert_eq!(info.unit_pids, pids, "case {i}");
                    assert_eq!(
                        info.declared_by,
                        declared.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
                        "case {i}"
                    );
                    assert_eq!(
                        info.process_unit.as_deref(),
                        cgroup.and_then(crate::probe::cgroup::unit_of),
                        "case {i}"
                    );
                    assert_eq!(info.answer.is_some(), accepts.is_some(), "case {i}");
                }
                None => {
                    assert!(
                        declared.is_empty()
                            && cgroup.and_then(crate::probe::cgroup::unit_of).is_none(),
                        "case {i}"
                    );
                    assert_eq!(accepts, None, "case {i}");
                }
            }
        }
        // A unit the process runs in, with no declaration: the object, no answer.
        let got = judged(Alive, unit, &[], &[], None, &[]);
        let info = got.info.expect("the process runs in a unit");
        assert_eq!(info.process_unit.as_deref(), Some("app.service"));
        assert_eq!((info.systemd_accepts, got.warnings.len()), (None, 0));
    }

    #[test]
    fn workers_of_a_namesake_and_the_named_pid_are_not_candidates() {
        let namesakes = [
            Namesake {
                pid: 30,
                parent_same_name: false,
            },
            Namesake {
                pid: 31,
                parent_same_name: true,
            },
            Namesake {
                pid: 10,
                parent_same_name: false,
            },
            Namesake {
                pid: 20,
                parent_same_name: false,
            },
        ];
        assert_eq!(daemon_candidates(Some(20), &namesakes), [10, 30]);
        assert_eq!(daemon_candidates(None, &[]), Vec::<i32>::new());
    }
}
