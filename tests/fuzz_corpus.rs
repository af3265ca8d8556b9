//! Replays the checked-in fuzz corpora (`fuzz/corpus/TARGET/`) through the
//! same entry points and invariants as the cargo-fuzz targets
//! (`tests/fuzz_checks/`), on stable: a change that makes one of these inputs
//! panic or break an invariant fails `cargo test`, without a nightly toolchain.
//! It also replays the reproducers of bugs the fuzzers found
//! (`fuzz/regressions/TARGET/`), kept out of the corpora so that fuzzing does
//! not stop on them at start-up.

mod fuzz_checks;

use std::cell::Cell;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Reproducers (`TARGET/NAME` under `fuzz/regressions/`) of bugs not fixed
/// yet: each must still fail, so that this list is emptied when the fix lands.
/// They are overflows, caught only where overflow checks are on.
const OPEN: &[&str] = &[];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

/// Every file of `fuzz/corpus/<target>`, through `check`; returns how many.
fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let inputs = files(&dir);
    for input in &inputs {
        let data = fs::read(input).expect("corpus file");
        // Name the input before its panic message, so a failure says which one.
        eprintln!("{target}: {}", input.display());
        check(&data);
    }
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    inputs.len()
}

#[test]
fn parse_pid_corpus() {
    replay("parse_pid", fuzz_checks::parse_pid_check);
}

#[test]
fn read_pidfile_corpus() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let scratch = fuzz_checks::Scratch::create(dir.path().join("fuzz.pid"));
    let past_limit = Cell::new(0);
    replay("read_pidfile", |data| {
        if fuzz_checks::read_pidfile_check(data, &scratch) {
            past_limit.set(past_limit.get() + 1);
        }
    });
    assert!(
        past_limit.get() > 0,
        "no input makes a file larger than MAX_READ: the truncation goes untested"
    );
}

#[test]
fn proc_locks_corpus() {
    replay("proc_locks", fuzz_checks::proc_locks_check);
}

#[test]
fn proc_stat_corpus() {
    replay("proc_stat", fuzz_checks::proc_stat_check);
}

#[test]
fn config_corpus() {
    replay("config", fuzz_checks::config_check);
}

#[test]
fn regressions() {
    let scratch_dir = tempfile::tempdir().expect("temporary directory");
    let scratch = fuzz_checks::Scratch::create(scratch_dir.path().join("fuzz.pid"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for target_dir in files(&root) {
        let target = target_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for input in files(&target_dir) {
            let name = format!("{target}/{}", input.file_name().unwrap().to_string_lossy());
            let data = fs::read(&input).expect("reproducer");
            let outcome = catch_unwind(AssertUnwindSafe(|| match target.as_str() {
                "parse_pid" => fuzz_checks::parse_pid_check(&data),
                "read_pidfile" => {
                    fuzz_checks::read_pidfile_check(&data, &scratch);
                }
                "proc_locks" => fuzz_checks::proc_locks_check(&data),
                "proc_stat" => fuzz_checks::proc_stat_check(&data),
                "config" => fuzz_checks::config_check(&data),
                "unit_file" => fuzz_checks::unit_file_check(&data),
                "proc_cgroup" => fuzz_checks::proc_cgroup_check(&data),
                other => panic!("no fuzz target {other}"),
            }));
            if !OPEN.contains(&name.as_str()) {
                assert!(outcome.is_ok(), "{name} fails again");
            } else if cfg!(debug_assertions) {
                assert!(outcome.is_err(), "{name} passes now: remove it from OPEN");
            }
        }
    }
}

#[test]
fn unit_file_corpus() {
    replay("unit_file", fuzz_checks::unit_file_check);
}

#[test]
fn proc_cgroup_corpus() {
    replay("proc_cgroup", fuzz_checks::proc_cgroup_check);
}
