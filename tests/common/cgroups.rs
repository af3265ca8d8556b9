//! Real cgroups for the systemd tests: a service's cgroup made as root under
//! both the v1 `name=systemd` hierarchy and cgroup2 (whichever the host
//! has), so `/proc/PID/cgroup` agrees in both lines; and unit directories
//! handed to pidscope through a config file's `unit_dirs`.

use std::fs;
use std::path::{Path, PathBuf};

/// Where the host mounts cgroup2 and the v1 `name=systemd` hierarchy, read
/// from `/proc/self/mounts` here (not through pidscope).
pub fn hierarchies() -> Vec<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").expect("/proc/self/mounts");
    let mut out = Vec::new();
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 4 {
            continue;
        }
        let named = fields[2] == "cgroup" && fields[3].split(',').any(|o| o == "name=systemd");
        if named || fields[2] == "cgroup2" {
            out.push(PathBuf::from(fields[1]));
        }
    }
    out
}

/// A service cgroup `<hierarchy>/pidscope-test.slice/UNIT` in every
/// hierarchy; its processes are moved back to the root and the directories
/// removed when dropped.
pub struct ServiceCgroup {
    pub unit: String,
    dirs: Vec<PathBuf>,
}

impl ServiceCgroup {
    /// Create the cgroup of `unit` (a `.service` name unique to the test).
    pub fn new(unit: &str) -> ServiceCgroup {
        let roots = hierarchies();
        assert!(
            !roots.is_empty(),
            "no cgroup2 or name=systemd hierarchy is mounted"
        );
        let dirs: Vec<PathBuf> = roots
            .iter()
            .map(|root| root.join("pidscope-test.slice").join(unit))
            .collect();
        for dir in &dirs {
            // Another test may remove the shared slice between our two mkdirs
            // (it goes when its last service leaves): try again.
            let mut tries = 0;
            while let Err(e) = fs::create_dir_all(dir) {
                tries += 1;
                assert!(tries < 50, "cannot create {}: {e}", dir.display());
            }
        }
        ServiceCgroup {
            unit: unit.to_string(),
            dirs,
        }
    }

    /// Move `pid` into the cgroup, in every hierarchy.
    pub fn add(&self, pid: i32) {
        for dir in &self.dirs {
            let procs = dir.join("cgroup.procs");
            fs::write(&procs, format!("{pid}\n"))
                .unwrap_or_else(|e| panic!("cannot move {pid} into {}: {e}", procs.display()));
        }
    }

    /// SIGKILL every process in the cgroup until none is left (a daemon's
    /// workers outlive a master killed alone, and keep its sockets).
    pub fn kill_all(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut left = false;
            for dir in &self.dirs {
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                    left = true;
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            if !left || std::time::Instant::now() > deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The cgroup path as `/proc/PID/cgroup` shows it.
    pub fn path(&self) -> String {
        format!("/pidscope-test.slice/{}", self.unit)
    }
}

impl Drop for ServiceCgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            let root = dir.parent().and_then(Path::parent).expect("hierarchy root");
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines() {
                    let _ = fs::write(root.join("cgroup.procs"), format!("{pid}\n"));
                }
            }
            let _ = fs::remove_dir(dir);
            // The slice goes once the last test's service has left it.
            let _ = fs::remove_dir(dir.parent().expect("slice"));
        }
    }
}

/// A config file in `dir` that reads units from `unit_dirs` only.
pub fn config_with_units(dir: &Path, unit_dirs: &[&Path]) -> PathBuf {
    let list: Vec<String> = unit_dirs
        .iter()
        .map(|d| format!("{:?}", d.display().to_string()))
        .collect();
    let path = dir.join("pidscope.toml");
    let action_log = super::action_log();
    fs::write(
        &path,
        format!(
            "unit_dirs = [{}]\naction_log = {:?}\n",
            list.join(", "),
            action_log.display().to_string()
        ),
    )
    .expect("write the config");
    path
}
