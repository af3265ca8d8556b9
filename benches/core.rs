//! Micro-benchmarks of the pure parts: parsing, classifying, rendering.
//! Run with `cargo bench`; the whole-process comparison with a bare C
//! baseline is `scripts/bench.sh`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use divan::{Bencher, black_box};
use pidscope::fixture::{self, ProcessBuilder};
use pidscope::policy::classify;
use pidscope::probe::process::Liveness;
use pidscope::report::Report;
use pidscope::scan::parse::parse_pid;
use pidscope::scan::read::FileInfo;
use pidscope::tui::app::{App, Msg};
use pidscope::verdict::{Content, Evidence, Status};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

#[divan::bench(args = ["12345\n", "not-a-pid 42\n", "  812\r\n/var/lib/x\n"])]
fn parse(content: &str) -> Result<i32, pidscope::scan::parse::InvalidPid> {
    parse_pid(black_box(content.as_bytes()), false, 4_194_304)
}

/// A root-owned pidfile written `age` seconds ago.
fn file(age: u64) -> FileInfo {
    fixture::file()
        .mtime(SystemTime::now() - Duration::from_secs(age))
        .size(6)
        .device(1, age)
        .build()
}

/// nginx, up for two hours.
fn process() -> ProcessBuilder {
    fixture::process("nginx")
        .started(SystemTime::now() - Duration::from_secs(7200))
        .cmdline(&["/usr/sbin/nginx", "-g", "daemon off;"])
        .cpu(0.5)
        .start_ticks(1000)
}

#[divan::bench]
fn classify_alive(bencher: Bencher) {
    let file = file(3600);
    let probe = fixture::probe(Liveness::Exists, Some(process().build()));
    let content = Content::Pid(812);
    bencher.bench(|| {
        classify(black_box(&Evidence {
            path: Path::new("/run/nginx/nginx.pid"),
            aliases: &[],
            content: &content,
            file: Some(&file),
            probe: Some(&probe),
            lock: None,
            open_check: None,
            partial_pid_view: false,
            systemd: None,
        }))
    });
}

/// A report of `n` pidfiles: 30% alive, 60% stale, 10% invalid, like the fixture.
fn report(n: usize) -> Report {
    let entries = (0..n)
        .map(|i| {
            let status = match i % 10 {
                0..3 => Status::Alive,
                3..9 => Status::Stale,
                _ => Status::Invalid,
            };
            let entry = fixture::entry(format!("/srv/fixture/d{}/file{i}.pid", i / 100), status)
                .pid(1000 + i as i32)
                .reason("No process has PID 1000")
                .file(file(i as u64))
                .first_line(Some("1000"));
            match status {
                Status::Alive => entry.process(process()),
                _ => entry,
            }
            .build()
        })
        .collect();
    Report {
        roots: vec![PathBuf::from("/srv/fixture")],
        entries,
        errors: Vec::new(),
        started_at: SystemTime::now(),
        duration: Duration::from_millis(50),
        pid_namespace: pidscope::probe::namespace::PidNamespace::Initial,
    }
}

/// One frame of the inspector over 10,000 pidfiles: only the visible rows are built.
#[divan::bench]
fn render_frame_10k(bencher: Bencher) {
    let mut app = App::new(
        vec![PathBuf::from("/srv/fixture")],
        vec!["*.pid".into()],
        false,
        true,
    );
    app.update(Msg::Resize(160, 50));
    app.update(Msg::Scanned(report(10_000)));
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    bencher.bench_local(|| {
        terminal
            .draw(|frame| pidscope::tui::ui::view(&app, frame))
            .expect("draw");
    });
}

/// Applying a new scan of 10,000 pidfiles to the inspector (filter, sort, keep the selection).
#[divan::bench]
fn apply_scan_10k(bencher: Bencher) {
    let mut app = App::new(
        vec![PathBuf::from("/srv/fixture")],
        vec!["*.pid".into()],
        false,
        true,
    );
    let report = report(10_000);
    bencher.bench_local(|| app.update(Msg::Scanned(report.clone())));
}

#[divan::bench]
fn audit_json_10k(bencher: Bencher) {
    let report = report(10_000);
    bencher.bench(|| pidscope::report::json::render(&report).len());
}

#[divan::bench]
fn audit_table_10k(bencher: Bencher) {
    let report = report(10_000);
    bencher.bench(|| pidscope::report::table::render(&report, false).len());
}

/// 1,000 service units as a host has them: most without `PIDFile=`, one in
/// five with one, some with drop-ins, and two templates.
fn unit_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..1000 {
            let pid_file = if i % 5 == 0 {
                format!("PIDFile=/run/daemon{i}/daemon{i}.pid\n")
            } else {
                String::new()
            };
            let text = format!(
                "[Unit]\nDescription=Daemon {i}\nAfter=network.target\n\n[Service]\nType=forking\nExecStart=/usr/sbin/daemon{i} --config /etc/daemon{i}.conf\n{pid_file}Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"
            );
            std::fs::write(dir.path().join(format!("daemon{i}.service")), text).expect("unit");
            if i % 50 == 0 {
                let d = dir.path().join(format!("daemon{i}.service.d"));
                std::fs::create_dir(&d).expect("drop-in dir");
                std::fs::write(d.join("override.conf"), "[Service]\nPIDFile=/run/moved.pid\n")
                    .expect("drop-in");
            }
        }
        for t in ["pg", "app"] {
            std::fs::write(
                dir.path().join(format!("{t}@.service")),
                format!("[Service]\nPIDFile=/run/{t}/%i.pid\n"),
            )
            .expect("template");
        }
        dir
    })
    .path()
}

/// Building the unit index from 1,000 unit files (the inspector's rebuild).
#[divan::bench]
fn unit_index_1000_units() -> usize {
    let dirs = [unit_dir().to_path_buf()];
    let (index, _) = pidscope::systemd::index::UnitIndex::build(black_box(&dirs));
    index.len()
}

/// The check the inspector makes on every rescan instead of rebuilding.
#[divan::bench]
fn unit_index_unchanged_check(bencher: Bencher) {
    let dirs = [unit_dir().to_path_buf()];
    let (index, _) = pidscope::systemd::index::UnitIndex::build(&dirs);
    bencher.bench(|| index.is_outdated());
}

/// One pidfile looked up in the index (templates tried when no unit names it).
#[divan::bench(args = ["/run/daemon500/daemon500.pid", "/run/pg/15-main.pid", "/run/other/x.pid"])]
fn unit_index_lookup(bencher: Bencher, path: &str) {
    let dirs = [unit_dir().to_path_buf()];
    let (index, _) = pidscope::systemd::index::UnitIndex::build(&dirs);
    bencher.bench(|| index.declaring(black_box(Path::new(path))).len());
}
