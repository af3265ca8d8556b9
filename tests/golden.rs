//! Golden outputs: the JSON, Prometheus and table renderings of one report,
//! every verdict reason `classify` can write, and `pidscope clean --dry-run`
//! on a real directory, pinned byte for byte in `tests/snapshots/golden__*.snap`.
//!
//! A change to any of these texts is a change to what scripts, dashboards and
//! operators read: it must show up here as a snapshot diff, on purpose.
//!
//! Two things keep the snapshots stable:
//!
//! - insta trims trailing whitespace and turns CRLF into LF before comparing,
//!   so every rendering is pinned with an `<END>` marker right after its last
//!   byte ([`pinned`]): a lost or added final newline fails the test too;
//! - the table's AGE column and the "running for" of a reason read the clock,
//!   so those fixtures are built relative to now, with durations half an hour
//!   (or more) away from the next change of the printed text. Renderings that
//!   print absolute epoch seconds (JSON, Prometheus) use a fixed instant.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use pidscope::fixture::{self, EntryBuilder, FileBuilder, ProcessBuilder};
use pidscope::policy::classify;
use pidscope::probe::locks::{LockInfo, LockKind};
use pidscope::probe::process::Liveness;
use pidscope::report::{Report, json, prometheus, table};
use pidscope::scan::ScanError;
use pidscope::scan::parse::InvalidPid;
use pidscope::systemd::chase::{Chase, UnsafeStep};
use pidscope::systemd::index::Declaration;
use pidscope::verdict::{
    Content, Evidence, Namesake, NamesakeLook, OpenCheck, Status, SystemdFacts, Warning,
};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The instant the JSON and Prometheus fixtures are taken at (with a fraction,
/// so the printing of fractional epoch seconds is pinned too).
fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_795_671_805, 250_000_000)
}

/// `days` days, `hours` hours, 30 minutes and 30 seconds before `now`. As an
/// age it prints as `{days}d{hours}h` for half an hour either way, or (with no
/// days) as `{hours}h30m` for half a minute either way. `hours` must not be 0
/// when `days` is: ages under an hour print their seconds.
fn ago(now: SystemTime, days: u64, hours: u64) -> SystemTime {
    assert!(days + hours > 0, "an age under an hour is not stable");
    now - Duration::from_secs(days * DAY + hours * HOUR + 30 * MINUTE + 30)
}

/// The text followed by a marker, so that insta's trimming of trailing
/// whitespace cannot hide a change in how the text ends.
fn pinned(text: &str) -> String {
    format!("{text}<END>")
}

// ---------------------------------------------------------------- the report

/// A root-owned pidfile of 4 bytes last written at `mtime`.
fn file(mtime: SystemTime) -> FileBuilder {
    fixture::file().mtime(mtime).size(4).device(2049, 131)
}

/// A root daemon `name` started at `start`, using a quarter of a core.
fn process(name: &str, start: SystemTime) -> ProcessBuilder {
    fixture::process(name)
        .started(start)
        .cpu(0.25)
        .start_ticks(4321)
}

/// The pidfile `path` naming `pid` (when given), with no metadata until `.file(..)`.
fn entry(path: impl Into<PathBuf>, status: Status, pid: Option<i32>, reason: &str) -> EntryBuilder {
    let entry = fixture::entry(path, status).reason(reason).no_file();
    match pid {
        Some(pid) => entry.pid(pid),
        None => entry,
    }
}

fn non_utf8(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// A report with every status, every warning, each lock kind, aliases, odd
/// paths and names, missing details and scan errors; every time in it is
/// relative to `now`.
fn report_at(now: SystemTime) -> Report {
    let entries = vec![
        // Alive, locked by itself; aliases; a command line with spaces.
        entry(
            "/run/nginx.pid",
            Status::Alive,
            Some(812),
            "PID 812 is nginx, running for 3d2h",
        )
        .aliases(["/var/run/nginx.pid".into(), non_utf8(b"/run/ng\xffinx.pid")])
        .file(file(ago(now, 3, 2)))
        .process(
            process("nginx", ago(now, 3, 2) - Duration::from_secs(1)).cmdline(&[
                "nginx: master process /usr/sbin/nginx",
                "-g",
                "daemon on; master_process on;",
            ]),
        )
        .lock(fixture::lock(LockKind::Flock, &[812]))
        .systemd(&["nginx.service"], Some("nginx.service"), &[812, 813], Some(true)),
        // A unit's stale pidfile while the unit runs under other PIDs.
        entry(
            "/run/redis/redis-server.pid",
            Status::Stale,
            Some(4100),
            "No process has PID 4100; declared by redis-server.service (PIDFile=/run/redis/redis-server.pid); redis-server.service is running as PID 4188: starting it again would start a second instance",
        )
        .warnings(&[Warning::DaemonElsewhere])
        .file(file(ago(now, 0, 7)).owner(104, "redis"))
        .systemd(&["redis-server.service"], None, &[4188], None),
        // Alive but not ours to signal, /proc hidden: no process details.
        entry(
            "/run/php/php8.2-fpm.pid",
            Status::Alive,
            Some(901),
            "PID 901 exists (its /proc entry is not readable)",
        )
        .warnings(&[Warning::NotSignalable])
        .file(file(ago(now, 0, 5)).owner(33, "www-data").gid(33)),
        // Every alive warning at once; a user without a name; world-writable.
        entry(
            "/tmp/app/worker.pid",
            Status::Alive,
            Some(1500),
            "PID 1500 is python3, running for 1d0h",
        )
        .warnings(&[
            Warning::NotSignalable,
            Warning::NameMismatch,
            Warning::LockHolderMismatch,
            Warning::UntrustedFile,
        ])
        .file(file(ago(now, 1, 0)).uid(1000).gid(1000).mode(0o666))
        .process(
            process("python3", ago(now, 1, 0))
                .uid(1000)
                .cmdline(&["python3", "/opt/my app/main.py", "--name", "my worker"])
                .exe("/usr/bin/python3.11")
                .cpu(103.5),
        )
        .lock(fixture::lock(LockKind::Posix, &[1501, 1502])),
        // Alive, nothing known about the process's owner or start; written
        // in the future; an OFD lock whose holder is unknown.
        entry(
            "/run/bare.pid",
            Status::Alive,
            Some(2001),
            "PID 2001 is bare",
        )
        .file(file(now + Duration::from_secs(HOUR)).mode(0o4755))
        .process(
            process("bare", now)
                .start_unknown()
                .unknown_user()
                .no_exe()
                .cmdline(&[])
                .state('R')
                .no_parent()
                .memory(0)
                .cpu(0.0),
        )
        .lock(fixture::lock(LockKind::Ofd, &[])),
        // Stale: no process.
        entry(
            "/run/old-daemon.pid",
            Status::Stale,
            Some(4242),
            "No process has PID 4242",
        )
        .file(file(ago(now, 12, 5))),
        // Stale, but children of the dead writer still hold its flock.
        entry(
            "/run/backup.pid",
            Status::Stale,
            Some(5000),
            "No process has PID 5000; locked (flock) by PIDs 5001, 5002",
        )
        .warnings(&[Warning::LockHolderMismatch])
        .file(file(ago(now, 2, 0)))
        .lock(fixture::lock(LockKind::Flock, &[5001, 5002])),
        // Stale, with a name that is not UTF-8 and an OFD lock of one holder.
        entry(
            non_utf8(b"/run/caf\xe9.pid"),
            Status::Stale,
            Some(6001),
            "No process has PID 6001; locked (ofd) by PID 6002",
        )
        .warnings(&[Warning::LockHolderMismatch])
        .file(file(ago(now, 0, 20)))
        .lock(fixture::lock(LockKind::Ofd, &[6002])),
        // Stale, with a quote, a backslash and control characters (escaped in
        // Prometheus labels, or not).
        entry(
            "/run/quo\"te\\back\r\n\t.pid",
            Status::Stale,
            Some(6100),
            "No process has PID 6100",
        )
        .file(file(ago(now, 0, 1))),
        // Reused by a later process.
        entry(
            "/run/cron.pid",
            Status::Reused,
            Some(77),
            "PID 77 is now sleep, which started 2h0m after the file was last written",
        )
        .file(file(ago(now, 1, 4)))
        .process(process("sleep", ago(now, 1, 2))),
        // Reused by a kernel thread.
        entry(
            "/run/kthreadd.pid",
            Status::Reused,
            Some(2),
            "PID 2 is now the kernel thread [kthreadd]; kernel threads never write pidfiles",
        )
        .file(file(ago(now, 40, 0)))
        .process(
            process("kthreadd", ago(now, 40, 1))
                .kernel_thread()
                .no_exe()
                .cmdline(&[])
                .parent(0),
        ),
        // Reused by a thread of another process.
        entry(
            "/run/java.pid",
            Status::Reused,
            Some(1201),
            "PID 1201 is now a thread of process 1200 (java), not a process",
        )
        .file(file(ago(now, 0, 3)))
        .process(process("java", ago(now, 0, 4)).thread_of(1200)),
        // A zombie.
        entry(
            "/run/worker.pid",
            Status::Zombie,
            Some(5150),
            "PID 5150 (worker) has exited but is not reaped by its parent 5100",
        )
        .file(file(ago(now, 0, 2)))
        .process(
            process("worker", ago(now, 0, 2))
                .zombie()
                .parent(5100)
                .cmdline(&[])
                .memory(0),
        ),
        // Control characters in a path and in a process name.
        entry(
            "/run/new\nline\t.pid",
            Status::Alive,
            Some(3300),
            "PID 3300 is ev\u{1b}[31mil, running for 6h30m",
        )
        .warnings(&[Warning::NameMismatch])
        .file(file(ago(now, 0, 6)))
        .process(process("ev\u{1b}[31mil", ago(now, 0, 6))),
        // Invalid: empty, and not a number.
        entry(
            "/run/starting.pid",
            Status::Invalid,
            None,
            "The file is empty",
        )
        .first_line(Some(""))
        .file(file(ago(now, 0, 1)).size(0)),
        entry(
            "/run/hex.pid",
            Status::Invalid,
            None,
            "\"0x1f\" is not a decimal number",
        )
        .first_line(Some("0x1f"))
        .file(file(ago(now, 7, 0))),
        // Unreadable: a FIFO (metadata known), and a file that cannot even be stat'ed.
        entry(
            "/run/control.pid",
            Status::Unreadable,
            None,
            "Cannot read the file: not a regular file: FIFO",
        )
        .file(file(ago(now, 0, 8)).size(0).mode(0o600)),
        entry(
            "/run/secret/app.pid",
            Status::Unreadable,
            None,
            "Cannot read the file: permission denied",
        ),
    ];

    Report {
        roots: vec!["/run".into(), non_utf8(b"/srv/\xfe")],
        entries: entries.into_iter().map(EntryBuilder::build).collect(),
        errors: vec![
            ScanError {
                path: "/run/private".into(),
                error: "permission denied".into(),
            },
            ScanError {
                path: non_utf8(b"/srv/\xfe"),
                error: "no such file or directory".into(),
            },
        ],
        started_at: now,
        duration: Duration::from_micros(3500),
        pid_namespace: pidscope::probe::namespace::PidNamespace::Initial,
    }
}

fn empty_report(now: SystemTime) -> Report {
    Report {
        roots: vec!["/run".into()],
        entries: Vec::new(),
        errors: Vec::new(),
        started_at: now,
        duration: Duration::from_micros(120),
        pid_namespace: pidscope::probe::namespace::PidNamespace::Initial,
    }
}

#[test]
fn json() {
    insta::assert_snapshot!("json", pinned(&json::render(&report_at(fixed_now()))));
    insta::assert_snapshot!(
        "json_empty",
        pinned(&json::render(&empty_report(fixed_now())))
    );
}

#[test]
fn json_write_streams_the_same_bytes_as_render() {
    let report = report_at(fixed_now());
    let mut streamed = Vec::new();
    json::write(&report, &mut streamed).expect("write to memory");
    assert_eq!(String::from_utf8(streamed).unwrap(), json::render(&report));
}

#[test]
fn prometheus() {
    insta::assert_snapshot!(
        "prometheus",
        pinned(&prometheus::render(&report_at(fixed_now())))
    );
    insta::assert_snapshot!(
        "prometheus_empty",
        pinned(&prometheus::render(&empty_report(fixed_now())))
    );
}

#[test]
fn table() {
    let report = report_at(SystemTime::now());
    insta::assert_snapshot!("table", pinned(&table::render(&report, false)));
    insta::assert_snapshot!("table_color", pinned(&table::render(&report, true)));
    let empty = empty_report(SystemTime::now());
    insta::assert_snapshot!("table_empty", pinned(&table::render(&empty, false)));
    insta::assert_snapshot!("table_empty_color", pinned(&table::render(&empty, true)));
}

#[test]
fn summary_lines() {
    let now = SystemTime::now();
    let full = report_at(now);
    let mut one = empty_report(now);
    one.entries.push(full.entries[4].clone());
    let mut one_error = empty_report(now);
    one_error.errors.push(full.errors[0].clone());
    let mut all_alive = empty_report(now);
    all_alive.entries = full.entries[..3].to_vec();
    let lines: Vec<String> = [
        ("full", &full),
        ("empty", &empty_report(now)),
        ("one pidfile", &one),
        ("one error", &one_error),
        ("all alive", &all_alive),
    ]
    .iter()
    .map(|(name, report)| format!("{name} | {}", table::summary_line(report)))
    .collect();
    insta::assert_snapshot!("summary_lines", pinned(&lines.join("\n")));
}

// ---------------------------------------------------------------- the reasons

/// One row of the reasons table: everything `classify` looks at.
struct Case {
    name: &'static str,
    path: PathBuf,
    aliases: Vec<PathBuf>,
    content: Content,
    file: Option<FileBuilder>,
    /// `None`: the PID was never probed.
    liveness: Option<Liveness>,
    /// The details the probe found, if any.
    process: Option<ProcessBuilder>,
    lock: Option<LockInfo>,
    /// What the open-descriptor check answers; `None`: nobody can ask.
    open: Option<bool>,
    /// Seen from a nested PID namespace nobody vouched for.
    partial: bool,
    /// What systemd's files say; `None`: the systemd view is off.
    systemd: Option<SysCase>,
}

/// The systemd facts of a [`Case`].
#[derive(Default)]
struct SysCase {
    /// Units declaring the file, each with its `PIDFile=`.
    declared: Vec<(&'static str, &'static str)>,
    unit_pids: Vec<i32>,
    chase: Option<Chase>,
    /// Live processes named like the file: (PID, its parent has the same name).
    namesakes: Vec<(i32, bool)>,
}

impl Case {
    /// PID 10 in `/run/nginx.pid`, written a second after nginx (root)
    /// started at `start`.
    fn new(name: &'static str, start: SystemTime) -> Case {
        Case {
            name,
            path: "/run/nginx.pid".into(),
            aliases: Vec::new(),
            content: Content::Pid(10),
            file: Some(file(start + Duration::from_secs(1))),
            liveness: Some(Liveness::Exists),
            process: Some(process("nginx", start)),
            lock: None,
            open: None,
            partial: false,
            systemd: None,
        }
    }

    /// Declared by `unit` with `PIDFile=/run/nginx.pid`; the path chased is root's.
    fn declared(mut self, unit: &'static str) -> Case {
        let sys = self.systemd.get_or_insert_with(SysCase::default);
        sys.declared.push((unit, "/run/nginx.pid"));
        sys.chase = Some(Chase {
            unsafe_step: None,
            owner: 0,
        });
        self
    }

    fn systemd(mut self, change: impl FnOnce(&mut SysCase)) -> Case {
        change(self.systemd.get_or_insert_with(SysCase::default));
        self
    }

    fn open(mut self, open: bool) -> Case {
        self.open = Some(open);
        self
    }

    fn nested(mut self) -> Case {
        self.partial = true;
        self
    }

    fn info(mut self, change: impl FnOnce(ProcessBuilder) -> ProcessBuilder) -> Case {
        self.process = Some(change(self.process.expect("process details")));
        self
    }

    fn file(mut self, change: impl FnOnce(FileBuilder) -> FileBuilder) -> Case {
        self.file = Some(change(self.file.expect("file metadata")));
        self
    }

    fn liveness(mut self, liveness: Liveness) -> Case {
        self.liveness = Some(liveness);
        self
    }

    /// The probe found the process but could not read its details.
    fn no_details(mut self) -> Case {
        self.process = None;
        self
    }

    fn gone(self) -> Case {
        self.liveness(Liveness::Gone).no_details()
    }

    fn content(mut self, content: Content) -> Case {
        self.content = content;
        self
    }

    fn path(mut self, path: &str) -> Case {
        self.path = path.into();
        self
    }

    fn locked(mut self, kind: LockKind, holders: &[i32]) -> Case {
        self.lock = Some(fixture::lock(kind, holders));
        self
    }

    /// `name | status | reason | warnings`, control characters and backslashes escaped.
    fn line(&self) -> String {
        let file = self.file.clone().map(FileBuilder::build);
        let probe = self
            .liveness
            .map(|l| fixture::probe(l, self.process.clone().map(ProcessBuilder::build)));
        let open = || self.open.unwrap_or(false);
        let mut declarations: Vec<Declaration> = self
            .systemd
            .iter()
            .flat_map(|s| &s.declared)
            .map(|(unit, setting)| Declaration {
                unit: unit.to_string(),
                setting: setting.to_string(),
                path: PathBuf::from(setting),
                source: PathBuf::from(format!("/lib/systemd/system/{unit}")),
            })
            .collect();
        declarations.sort();
        let look = || {
            let namesakes = self.systemd.iter().flat_map(|s| &s.namesakes);
            let found = namesakes
                .map(|&(pid, parent_same_name)| Namesake {
                    pid,
                    parent_same_name,
                })
                .collect();
            ("nginx".to_string(), found)
        };
        let facts = self.systemd.as_ref().map(|s| SystemdFacts {
            declarations: &declarations,
            unit_pids: &s.unit_pids,
            chase: s.chase.as_ref(),
            namesakes: Some(NamesakeLook(&look)),
        });
        let verdict = classify(&Evidence {
            path: &self.path,
            aliases: &self.aliases,
            content: &self.content,
            file: file.as_ref(),
            probe: probe.as_ref(),
            lock: self.lock.as_ref(),
            open_check: self.open.map(|_| OpenCheck(&open)),
            partial_pid_view: self.partial,
            systemd: facts.as_ref(),
        });
        let warnings: Vec<&str> = verdict.warnings.iter().map(|w| w.as_str()).collect();
        format!(
            "{} | {} | {} | {}",
            self.name,
            verdict.status,
            escape(&verdict.reason),
            if warnings.is_empty() {
                "-".to_string()
            } else {
                warnings.join(", ")
            }
        )
    }
}

/// Backslashes and control characters escaped, so one reason stays one line
/// and different reasons stay different.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\\' || c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[test]
fn reasons() {
    // Started 2 days 3 hours and a half ago: "running for 2d3h".
    let start = ago(SystemTime::now(), 2, 3);
    let case = |name| Case::new(name, start);
    let invalid = |name, why| case(name).content(Content::Invalid(why));
    let cases = vec![
        case("alive"),
        case("alive-start-unknown").info(|i| i.start_unknown()),
        {
            let mut c = case("alive-related-by-alias").path("/run/x.pid");
            c.aliases = vec!["/run/nginx/main.pid".into()];
            c
        },
        case("alive-related-by-directory").path("/run/nginx/main.pid"),
        case("eperm-with-details").liveness(Liveness::NotSignalable),
        case("eperm-without-details")
            .liveness(Liveness::NotSignalable)
            .no_details(),
        case("exists-without-details").no_details(),
        case("stale").gone(),
        {
            let mut c = case("stale-never-probed").no_details();
            c.liveness = None;
            c
        },
        // An unrelated name, no lock, the file not open: time alone decides.
        case("reused-by-start-time")
            .path("/run/other.pid")
            .file(|f| f.mtime(start - Duration::from_secs(HOUR))),
        case("clock-skew-owner-by-name").file(|f| f.mtime(start - Duration::from_secs(HOUR))),
        case("clock-skew-owner-by-lock")
            .path("/run/other.pid")
            .file(|f| f.mtime(start - Duration::from_secs(HOUR)))
            .locked(LockKind::Flock, &[10]),
        case("clock-skew-owner-by-open-file")
            .path("/run/other.pid")
            .file(|f| f.mtime(start - Duration::from_secs(HOUR)))
            .open(true),
        case("reused-locked-by-others-despite-name")
            .file(|f| f.mtime(start - Duration::from_secs(HOUR)))
            .locked(LockKind::Posix, &[11]),
        case("unverifiable-stale-in-nested-namespace")
            .gone()
            .nested(),
        case("unverifiable-reused-in-nested-namespace")
            .path("/run/other.pid")
            .file(|f| f.mtime(start - Duration::from_secs(HOUR)))
            .nested(),
        case("alive-in-nested-namespace").nested(),
        case("within-reuse-tolerance").file(|f| f.mtime(start - Duration::from_millis(1500))),
        case("kernel-thread").info(|i| i.name("kthreadd").kernel_thread()),
        case("thread-of-another-process").info(|i| i.name("java").thread_of(9)),
        case("zombie-with-parent").info(|i| i.zombie().parent(4)),
        case("zombie-without-parent").info(|i| i.zombie().no_parent()),
        case("dead").info(|i| i.state('X')),
        invalid("invalid-empty", InvalidPid::Empty),
        invalid("invalid-blank-line", InvalidPid::BlankLine),
        invalid("invalid-line-too-long", InvalidPid::LineTooLong),
        invalid("invalid-negative", InvalidPid::Negative("-5".into())),
        invalid("invalid-zero", InvalidPid::Zero),
        invalid(
            "invalid-several-values",
            InvalidPid::SeveralValues("12\t34".into()),
        ),
        invalid("invalid-not-decimal", InvalidPid::NotDecimal("0x1f".into())),
        invalid(
            "invalid-not-decimal-nul",
            InvalidPid::NotDecimal("12\0".into()),
        ),
        invalid(
            "invalid-too-large",
            InvalidPid::TooLarge {
                text: "99999999".into(),
                pid_max: 4_194_304,
            },
        ),
        case("unreadable").content(Content::Unreadable("permission denied".into())),
        case("name-mismatch").info(|i| {
            i.name("sleep")
                .exe("/usr/bin/sleep")
                .cmdline(&["sleep", "1000"])
        }),
        case("control-characters-in-name").info(|i| i.name("ngi\u{1b}[2J\nnx")),
        case("untrusted-world-writable").file(|f| f.mode(0o666)),
        case("untrusted-group-writable").file(|f| f.mode(0o664).gid(100)),
        case("trusted-group-writable-by-root-group").file(|f| f.mode(0o664)),
        case("untrusted-owned-by-another-user").file(|f| f.uid(1000)),
        case("trusted-owned-by-the-process-user")
            .file(|f| f.uid(1000))
            .info(|i| i.uid(1000)),
        case("lock-flock-one").locked(LockKind::Flock, &[20]),
        case("lock-flock-several").locked(LockKind::Flock, &[20, 21]),
        case("lock-posix-one").locked(LockKind::Posix, &[20]),
        case("lock-posix-several").locked(LockKind::Posix, &[20, 21, 22]),
        case("lock-ofd-one").locked(LockKind::Ofd, &[20]),
        case("lock-ofd-several").locked(LockKind::Ofd, &[20, 21]),
        case("lock-held-by-the-named-pid").locked(LockKind::Flock, &[10]),
        case("lock-named-pid-among-several").locked(LockKind::Flock, &[10, 20]),
        case("lock-holder-unknown").locked(LockKind::Ofd, &[]),
        case("dead-pid-locked-by-a-child")
            .gone()
            .locked(LockKind::Flock, &[11, 12]),
        case("invalid-locked")
            .content(Content::Invalid(InvalidPid::Empty))
            .locked(LockKind::Posix, &[30]),
        case("unreadable-locked")
            .content(Content::Unreadable("permission denied".into()))
            .locked(LockKind::Flock, &[30]),
        case("every-warning")
            .liveness(Liveness::NotSignalable)
            .path("/run/other.pid")
            .file(|f| f.mode(0o666))
            .locked(LockKind::Posix, &[20]),
        case("systemd-undeclared-in-no-unit").systemd(|_| {}),
        case("systemd-undeclared-in-a-unit")
            .info(|i| i.cgroup("/system.slice/nginx.service"))
            .systemd(|_| {}),
        case("systemd-accepts-in-unit")
            .info(|i| i.cgroup("/system.slice/nginx.service"))
            .declared("nginx.service")
            .systemd(|s| s.unit_pids = vec![10, 11]),
        case("systemd-accepts-root-owned-outside-unit")
            .info(|i| i.cgroup("/user.slice/user-0.slice/session-3.scope"))
            .declared("nginx.service"),
        case("systemd-refuses-not-root-owned")
            .declared("nginx.service")
            .systemd(|s| {
                s.chase = Some(Chase {
                    unsafe_step: None,
                    owner: 33,
                })
            }),
        case("systemd-refuses-unsafe-chain")
            .declared("nginx.service")
            .systemd(|s| {
                s.chase = Some(Chase {
                    unsafe_step: Some(UnsafeStep {
                        from: "/run/nginx".into(),
                        from_uid: 33,
                        to: "/run/nginx/nginx.pid".into(),
                        to_uid: 0,
                    }),
                    owner: 0,
                })
            }),
        Case {
            content: Content::Pid(1),
            ..case("systemd-refuses-pid-1").declared("nginx.service")
        },
        case("systemd-declared-twice")
            .declared("nginx.service")
            .declared("nginx-debug.service")
            .info(|i| i.cgroup("/system.slice/nginx-debug.service")),
        case("systemd-stale-declared")
            .gone()
            .declared("nginx.service"),
        case("systemd-stale-daemon-in-unit")
            .gone()
            .declared("nginx.service")
            .systemd(|s| s.unit_pids = vec![812, 813]),
        case("systemd-zombie-daemon-in-unit")
            .info(|i| i.state('Z'))
            .declared("nginx.service")
            .systemd(|s| s.unit_pids = vec![10, 812]),
        case("systemd-stale-namesake")
            .gone()
            .systemd(|s| s.namesakes = vec![(812, false), (813, true)]),
        case("systemd-stale-only-workers-of-namesake")
            .gone()
            .systemd(|s| s.namesakes = vec![(813, true)]),
    ];
    let lines: Vec<String> = cases.iter().map(Case::line).collect();
    insta::assert_snapshot!("reasons", pinned(&lines.join("\n")));
}

// ---------------------------------------------------------------- clean --dry-run

/// Runs `pidscope clean ARGS DIR` with no configuration (`--config
/// /dev/null`) and the state directory in `state`; returns exit status,
/// stdout and stderr as one text, with `dir` and the PIDs in `pids` replaced by
/// placeholders and a process's uptime (`running for 1s`) by `<UPTIME>`.
fn clean(args: &[&str], dir: &Path, state: &Path, pids: &[(i32, &str)]) -> String {
    let out = run(bin()
        .env("XDG_STATE_HOME", state)
        .args(["--config", "/dev/null", "clean"])
        .args(args)
        .arg(dir));
    let status = match out.status.code() {
        Some(code) => code.to_string(),
        None => panic!("pidscope clean {args:?} was killed: {:?}", out.status),
    };
    let text = format!(
        "exit: {status}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.replace(dir.to_str().expect("UTF-8 temp dir"), "<DIR>");
    normalise(&text, pids)
}

/// Every whole number equal to a PID of `pids` replaced by its placeholder,
/// and the uptime after "running for " by `<UPTIME>`.
fn normalise(text: &str, pids: &[(i32, &str)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let digits = &rest[start..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let number = &digits[..end];
        match pids.iter().find(|(pid, _)| pid.to_string() == number) {
            Some((_, name)) => out.push_str(name),
            None => out.push_str(number),
        }
        rest = &digits[end..];
    }
    out.push_str(rest);
    let mut result = String::new();
    let mut rest = out.as_str();
    const RUNNING: &str = "running for ";
    while let Some(at) = rest.find(RUNNING) {
        result.push_str(&rest[..at + RUNNING.len()]);
        let after = &rest[at + RUNNING.len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        result.push_str("<UPTIME>");
        rest = &after[end..];
    }
    result.push_str(rest);
    result
}

#[test]
fn normalise_replaces_whole_pids_only() {
    let pids = [(123, "<A>"), (45, "<B>")];
    assert_eq!(
        normalise("PID 123, 1234, 45 and 0045; running for 3m2s.", &pids),
        "PID <A>, 1234, <B> and 0045; running for <UPTIME>."
    );
}

/// A PID that just stopped being used: a `sleep` spawned, killed and reaped.
fn reaped_pid() -> i32 {
    let sleeper = spawn_sleep();
    let pid = sleeper.pid();
    drop(sleeper);
    assert_eq!(process_state(pid), None, "PID {pid} is still there");
    pid
}

#[test]
fn clean_dry_run() {
    let dir = tempdir();
    let state = tempdir();
    let d = dir.path();

    let stale_pid = reaped_pid();
    write_pidfile(d, "stale.pid", &format!("{stale_pid}\n"));

    // Invalid: one written just now, one "2 hours ago".
    write_pidfile(d, "starting.pid", "");
    let old = write_pidfile(d, "old.pid", "abc\n");
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&old)
        .status()
        .expect("run touch");
    assert!(touched.success(), "touch -d failed");

    // Naming a dead PID, but locked by a live `flock FILE sleep`.
    let locked_pid = reaped_pid();
    let locked = write_pidfile(d, "locked.pid", &format!("{locked_pid}\n"));
    let holder = hold_flock(&locked);

    let sleeper = spawn_sleep();
    write_pidfile(d, "sleep.pid", &format!("{}\n", sleeper.pid()));

    let zombie = Zombie::spawn();
    write_pidfile(d, "zombie.pid", &format!("{}\n", zombie.pid));

    let pids = [
        (stale_pid, "<STALE>"),
        (locked_pid, "<LOCKED>"),
        (holder.pid(), "<FLOCK>"),
        (sleeper.pid(), "<SLEEP>"),
        (zombie.pid, "<ZOMBIE>"),
        (zombie.parent_pid(), "<ZOMBIE_PARENT>"),
    ];
    let run = |args: &[&str]| clean(args, d, state.path(), &pids);

    insta::assert_snapshot!("clean_dry_run", pinned(&run(&["--dry-run"])));
    insta::assert_snapshot!("clean_dry_run_json", pinned(&run(&["--dry-run", "--json"])));
    // The young invalid file is 1h20m old: under a grace of 90 minutes, the
    // one touched 2 hours ago is over it. (1h20m prints the same for 30 s.)
    let young = d.join("starting.pid");
    set_mtime_ago(&young, HOUR + 20 * MINUTE + 30);
    let grace = ["--dry-run", "--include-invalid", "--grace", "90m"];
    insta::assert_snapshot!("clean_dry_run_include_invalid", pinned(&run(&grace)));
    insta::assert_snapshot!(
        "clean_dry_run_include_invalid_json",
        pinned(&run(&[&grace[..], &["--json"]].concat()))
    );

    // Nothing was removed.
    for name in [
        "stale.pid",
        "starting.pid",
        "old.pid",
        "locked.pid",
        "sleep.pid",
        "zombie.pid",
    ] {
        assert!(d.join(name).exists(), "--dry-run removed {name}");
    }
    drop(holder);
}
