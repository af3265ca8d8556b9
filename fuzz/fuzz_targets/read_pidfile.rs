#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

use std::path::PathBuf;
use std::sync::OnceLock;

use checks::Scratch;

/// One scratch file per fuzzing process, rewritten for every input.
static SCRATCH: OnceLock<Scratch> = OnceLock::new();

/// The scratch file, created on first use on a tmpfs when there is one
/// (`/dev/shm`, `$XDG_RUNTIME_DIR`): on a disk filesystem, rewriting a file
/// costs block allocation and writeback, many times the read under test.
fn scratch() -> &'static Scratch {
    SCRATCH.get_or_init(|| {
        let dir = [Some("/dev/shm".into()), std::env::var_os("XDG_RUNTIME_DIR")]
            .into_iter()
            .flatten()
            .map(PathBuf::from)
            .find(|dir| dir.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("pidscope-fuzz-{}.pid", std::process::id()));
        // SAFETY: `remove_scratch` only removes a file; it may run at exit.
        unsafe { atexit(remove_scratch) };
        Scratch::create(path)
    })
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

/// Removes the scratch file when the fuzzer exits (after `-runs`, or on
/// Ctrl-C); a crash leaves it behind, named by the fuzzer's PID.
extern "C" fn remove_scratch() {
    if let Some(scratch) = SCRATCH.get() {
        let _ = std::fs::remove_file(scratch.path());
    }
}

fuzz_target!(|data: &[u8]| {
    checks::read_pidfile_check(data, scratch());
});
