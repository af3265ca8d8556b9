//! The library is usable without the binary's dependencies: `cargo check
//! --lib --no-default-features` (feature `cli` off) passes.
//!
//! A type check is all it takes to catch a use of a `cli`-only crate
//! (clap, ratatui, signal-hook) outside `#[cfg(feature = "cli")]`, and it is
//! much cheaper than a build: no code is generated. It uses a target
//! directory of its own, `target/no-default-features`, so the main build's
//! artifacts and lock are left alone; after the first run it takes about a
//! second.

use std::path::Path;
use std::process::Command;

#[test]
fn the_library_type_checks_without_the_cli_feature() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The cargo that runs these tests (it sets CARGO), else the one on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "check",
            "--lib",
            "--no-default-features",
            "--locked",
            "--quiet",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/no-default-features"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
    assert!(
        out.status.success(),
        "the library does not build without default features ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
