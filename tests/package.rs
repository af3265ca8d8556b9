//! The Debian package: its metadata names files that exist (or that
//! scripts/build-deb.sh generates), and, where cargo-deb is installed (it
//! must be under CI), the package is built and its contents inspected.

mod common;

use std::path::Path;
use std::process::Command;

use common::skip;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn assets() -> Vec<(String, String)> {
    let manifest: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("deb assets")
        .iter()
        .map(|a| {
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_packaged_file_exists_or_is_generated() {
    let script = std::fs::read_to_string(Path::new(ROOT).join("scripts/build-deb.sh")).unwrap();
    let assets = assets();
    for (source, _) in &assets {
        let generated = source.starts_with("target/");
        if generated {
            let name = Path::new(source).file_name().unwrap().to_str().unwrap();
            assert!(
                source == "target/release/pidscope"
                    || script.contains(name.trim_end_matches(".gz")),
                "{source} is neither in the tree nor made by build-deb.sh"
            );
        } else {
            assert!(Path::new(ROOT).join(source).is_file(), "{source} missing");
        }
    }
    for wanted in ["usr/bin/", "usr/share/man/man1/", "lib/systemd/system/"] {
        assert!(
            assets.iter().any(|(_, dest)| dest.starts_with(wanted)),
            "nothing goes to {wanted}"
        );
    }
}

#[test]
fn the_package_builds_where_cargo_deb_is_installed() {
    let available = Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        skip("cargo-deb is not installed (cargo install cargo-deb)");
        return;
    }
    // The dev build `cargo test` has just made, so the packaging is checked
    // without a release build of its own (minutes on two cores).
    let out = Command::new(Path::new(ROOT).join("scripts/build-deb.sh"))
        .env("PIDSCOPE_DEB_PROFILE", "dev")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in [
        "./usr/bin/pidscope",
        "./usr/share/man/man1/pidscope.1.gz",
        "./usr/share/bash-completion/completions/pidscope",
        "./usr/share/zsh/vendor-completions/_pidscope",
        "./usr/share/fish/vendor_completions.d/pidscope.fish",
        "./lib/systemd/system/pidscope-audit.timer",
        "./lib/systemd/system/pidscope-audit.service",
        "./usr/share/doc/pidscope/examples/config.toml",
    ] {
        assert!(listing.contains(path), "{deb} lacks {path}:\n{listing}");
    }
}
