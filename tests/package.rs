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
            // A file the script writes, or a directory of pages it fills.
            let path = Path::new(source);
            let made = if source.contains('*') {
                // The script names target/dist as $dist.
                let dir = path.parent().unwrap().to_str().unwrap();
                dir.replacen("target/dist", "$dist", 1)
            } else {
                path.file_name().unwrap().to_str().unwrap().to_string()
            };
            assert!(
                source == "target/release/pidscope" || script.contains(&made),
                "{source} is neither in the tree nor made by build-deb.sh"
            );
        } else {
            assert!(Path::new(ROOT).join(source).is_file(), "{source} missing");
        }
    }
    assert!(
        assets
            .iter()
            .any(|(_, dest)| dest.starts_with("usr/share/man/man1/")),
        "no man pages"
    );
    let deb = manifest_deb();
    for key in ["changelog", "license-file", "maintainer-scripts"] {
        let path = deb[key].as_str().unwrap_or_else(|| panic!("no {key}"));
        assert!(Path::new(ROOT).join(path).exists(), "{key}: {path} missing");
    }
    // One table, or an array of them (one per unit name).
    let units = match &deb["systemd-units"] {
        toml::Value::Array(entries) => entries.clone(),
        one => vec![one.clone()],
    };
    let names: Vec<&str> = units
        .iter()
        .map(|u| u["unit-name"].as_str().expect("unit-name"))
        .collect();
    assert!(names.contains(&"pidscope-audit"), "{names:?}");
    for unit in &units {
        let dir = unit["unit-scripts"].as_str().expect("unit-scripts");
        let name = unit["unit-name"].as_str().expect("unit-name");
        let found = ["service", "timer"].iter().any(|kind| {
            Path::new(ROOT)
                .join(dir)
                .join(format!("{name}.{kind}"))
                .is_file()
        });
        assert!(found, "no unit file {dir}/{name}.*");
    }
    assert!(
        !assets
            .iter()
            .any(|(_, dest)| dest.contains("systemd/system")),
        "units go through systemd-units, so that deb-systemd-helper knows them"
    );
}

/// The maintainer is someone to write to: a name and an address.
#[test]
fn the_maintainer_has_an_address_and_signs_the_changelog() {
    let deb = manifest_deb();
    let maintainer = deb["maintainer"].as_str().expect("maintainer");
    let (name, address) = maintainer.split_once(" <").expect("Name <address>");
    assert!(
        !name.is_empty() && address.ends_with('>') && address.contains('@'),
        "{maintainer}"
    );
    let changelog = std::fs::read_to_string(Path::new(ROOT).join("debian/changelog")).unwrap();
    // The newest entry is this version's (cargo-deb's Debian revision is 1)
    // and its signer the maintainer.
    let first = changelog.lines().next().unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        first.starts_with(&format!("pidscope ({version}-1) ")),
        "debian/changelog starts with {first:?}, not version {version}-1"
    );
    let signature = changelog
        .lines()
        .find(|l| l.starts_with(" -- "))
        .expect("a signature line");
    assert!(
        signature.starts_with(&format!(" -- {maintainer}  ")),
        "{signature}"
    );
    let copyright = std::fs::read_to_string(Path::new(ROOT).join("debian/copyright")).unwrap();
    assert!(
        copyright.starts_with(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        )
    );
    assert!(copyright.lines().any(|l| l.starts_with("Copyright: ")));
}

fn manifest_deb() -> toml::Table {
    let manifest: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
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
    let mut wanted: Vec<String> = [
        "./usr/bin/pidscope",
        "./usr/share/bash-completion/completions/pidscope",
        "./usr/share/zsh/vendor-completions/_pidscope",
        "./usr/share/fish/vendor_completions.d/pidscope.fish",
        "./usr/lib/systemd/system/pidscope-audit.timer",
        "./usr/lib/systemd/system/pidscope-audit.service",
        "./usr/share/doc/pidscope/examples/config.toml",
        "./usr/share/doc/pidscope/examples/pidscope-alerts.yml",
        "./usr/share/doc/pidscope/examples/pidscope-alerts.test.yml",
        "./usr/share/doc/pidscope/changelog.Debian.gz",
        "./usr/share/doc/pidscope/copyright",
    ]
    .map(String::from)
    .into();
    // Every man page the binary knows of.
    let pages = common::run(common::bin().args(["man", "--list"]));
    let pages = String::from_utf8(pages.stdout).unwrap();
    assert!(pages.lines().count() > 4, "{pages}");
    wanted.extend(
        pages
            .lines()
            .map(|page| format!("./usr/share/man/man1/{page}.1.gz")),
    );
    for path in &wanted {
        assert!(
            listing.contains(path.as_str()),
            "{deb} lacks {path}:\n{listing}"
        );
    }
    // The units are registered with deb-systemd-helper, the timer left off.
    let control = tempfile::tempdir().unwrap();
    let extracted = Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path())
        .status()
        .unwrap();
    assert!(extracted.success());
    let postinst = std::fs::read_to_string(control.path().join("postinst")).expect("a postinst");
    assert!(
        postinst.contains("deb-systemd-helper update-state pidscope-audit.timer"),
        "{postinst}"
    );
    // Enabled only where the administrator had enabled it before (an upgrade).
    assert!(
        postinst.contains("if deb-systemd-helper debian-installed pidscope-audit.timer; then"),
        "{postinst}"
    );
    let postrm = std::fs::read_to_string(control.path().join("postrm")).expect("a postrm");
    assert!(
        postrm.contains("deb-systemd-helper purge pidscope-audit.timer"),
        "{postrm}"
    );
}
