//! Replays the checked-in fuzz corpora (`fuzz/corpus/TARGET/`) through the
//! same entry points and invariants as the cargo-fuzz targets
//! (`tests/fuzz_checks/`), on stable: a change that makes one of these inputs
//! panic or break an invariant fails `cargo test`, without a nightly toolchain.

mod fuzz_checks;

use std::fs;
use std::path::Path;

/// Every file of `fuzz/corpus/<target>`, through `check`; returns how many.
fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    inputs.sort();
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
    let scratch = dir.path().join("fuzz.pid");
    replay("read_pidfile", |data| {
        fuzz_checks::read_pidfile_check(data, &scratch)
    });
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
