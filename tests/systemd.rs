//! systemd-aware verdicts against real units and real cgroups: unit files in
//! temporary directories (given through `unit_dirs`), processes moved into
//! service cgroups made as root, and systemd's acceptance rule and the
//! daemon-elsewhere warning reproduced case by case.

mod common;

use std::os::unix::fs::{lchown, symlink};
use std::path::{Path, PathBuf};

use common::cgroups::{ServiceCgroup, config_with_units};
use common::*;
use serde_json::Value;

/// A uid that owns nothing here (`nobody`).
const NOBODY: u32 = 65534;

/// A scratch world: `units/` for unit files, `run/` for pidfiles, and a
/// config that reads units from `units/` only.
struct World {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempdir();
        for sub in ["units", "run"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let config = config_with_units(dir.path(), &[&dir.path().join("units")]);
        World { dir, config }
    }

    fn units(&self) -> PathBuf {
        self.dir.path().join("units")
    }

    fn run(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A service `name` whose `PIDFile=` is `pid_file`.
    fn unit(&self, name: &str, pid_file: &Path) {
        let text = format!(
            "[Unit]\nDescription=test\n\n[Service]\nType=forking\nExecStart=/bin/true\nPIDFile={}\n",
            pid_file.display()
        );
        std::fs::write(self.units().join(name), text).expect("write the unit");
    }

    /// `pidscope audit --json` over `run/`: the whole document.
    fn audit(&self) -> Value {
        let out = run(bin()
            .env("PIDSCOPE_CONFIG", &self.config)
            .args(["audit", "--json"])
            .arg(self.run()));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "audit printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// The entry for `path` in [`World::audit`].
    fn entry(&self, path: &Path) -> Value {
        let doc = self.audit();
        doc["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["path"] == path.display().to_string())
            .cloned()
            .unwrap_or_else(|| panic!("{} is not in {doc:#}", path.display()))
    }
}

/// A unit name no other test (or test run) uses.
fn unit_name(tag: &str) -> String {
    format!("pidscope-{tag}-{}.service", std::process::id())
}

fn warnings(entry: &Value) -> Vec<String> {
    entry["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("a code").to_string())
        .collect()
}

fn needs_root() -> bool {
    if !is_root() {
        skip("needs root: it creates cgroups and files of other users");
        return false;
    }
    true
}

#[test]
fn a_process_in_its_units_cgroup_is_accepted() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let unit = unit_name("inside");
    let pidfile = w.run().join("sleep.pid");
    w.unit(&unit, &pidfile);
    let cgroup = ServiceCgroup::new(&unit);
    let sleeper = spawn_sleep();
    cgroup.add(sleeper.pid());
    // Make it unsafe to reach: the cgroup still decides.
    std::fs::write(&pidfile, format!("{}\n", sleeper.pid())).unwrap();
    lchown(w.run(), Some(NOBODY), None).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["status"], "alive");
    assert_eq!(e["systemd"]["declared_by"], serde_json::json!([unit]));
    assert_eq!(e["systemd"]["process_unit"], unit.as_str());
    assert_eq!(
        e["systemd"]["unit_pids"],
        serde_json::json!([sleeper.pid()])
    );
    assert_eq!(e["systemd"]["systemd_accepts"], true);
    let codes = warnings(&e);
    assert!(
        !codes.contains(&"outside-unit".into()) && !codes.contains(&"systemd-refuses".into()),
        "{e:#}"
    );
    assert!(
        e["reason"].as_str().unwrap().contains(&format!(
            "declared by {unit} (PIDFile={})",
            pidfile.display()
        )),
        "{e:#}"
    );
}

#[test]
fn outside_its_unit_a_root_owned_file_is_accepted() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let unit = unit_name("rootfile");
    let pidfile = w.run().join("sleep.pid");
    w.unit(&unit, &pidfile);
    let sleeper = spawn_sleep();
    std::fs::write(&pidfile, format!("{}\n", sleeper.pid())).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["systemd"]["systemd_accepts"], true, "{e:#}");
    assert_eq!(e["systemd"]["unit_pids"], serde_json::json!([]));
    let codes = warnings(&e);
    assert!(codes.contains(&"outside-unit".into()), "{e:#}");
    assert!(!codes.contains(&"systemd-refuses".into()), "{e:#}");
}

#[test]
fn outside_its_unit_a_file_not_owned_by_root_is_refused() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let unit = unit_name("userfile");
    let pidfile = w.run().join("sleep.pid");
    w.unit(&unit, &pidfile);
    let sleeper = spawn_sleep();
    std::fs::write(&pidfile, format!("{}\n", sleeper.pid())).unwrap();
    lchown(&pidfile, Some(NOBODY), None).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["systemd"]["systemd_accepts"], false, "{e:#}");
    let codes = warnings(&e);
    assert!(
        codes.contains(&"systemd-refuses".into()) && codes.contains(&"outside-unit".into()),
        "{e:#}"
    );
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "New main PID {} does not belong to service, and PID file is not owned by root. Refusing.",
            sleeper.pid()
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("uid {NOBODY} owns the file")),
        "{reason}"
    );
}

#[test]
fn outside_its_unit_an_unsafe_path_is_refused_even_for_a_root_file() {
    if !needs_root() {
        return;
    }
    // A directory of another user holding root's file.
    let w = World::new();
    let unit = unit_name("unsafedir");
    let pidfile = w.run().join("sleep.pid");
    w.unit(&unit, &pidfile);
    let sleeper = spawn_sleep();
    std::fs::write(&pidfile, format!("{}\n", sleeper.pid())).unwrap();
    lchown(w.run(), Some(NOBODY), None).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["systemd"]["systemd_accepts"], false, "{e:#}");
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains("acquired through unsafe symlink chain"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "steps from {} (owned by uid {NOBODY}) to {} (owned by uid 0)",
            w.run().display(),
            pidfile.display()
        )),
        "{reason}"
    );

    // A symlink of another user leading back to root's files.
    let w = World::new();
    let unit = unit_name("unsafelink");
    let real = w.dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = w.run().join("link");
    symlink(&real, &link).unwrap();
    lchown(&link, Some(NOBODY), None).unwrap();
    let declared = link.join("sleep.pid");
    w.unit(&unit, &declared);
    std::fs::write(real.join("sleep.pid"), format!("{}\n", sleeper.pid())).unwrap();
    // The operator names the file by its declared path.
    let out = run(bin()
        .env("PIDSCOPE_CONFIG", &w.config)
        .args(["audit", "--json"])
        .arg(&declared));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = doc["entries"][0].clone();
    assert_eq!(
        e["systemd"]["declared_by"],
        serde_json::json!([unit]),
        "{e:#}"
    );
    assert_eq!(e["systemd"]["systemd_accepts"], false, "{e:#}");
    assert!(
        e["reason"].as_str().unwrap().contains(&format!(
            "steps from {} (owned by uid {NOBODY}) to / (owned by uid 0)",
            link.display()
        )),
        "{e:#}"
    );
}

#[test]
fn pid_1_is_refused_as_the_manager() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let unit = unit_name("pid1");
    let pidfile = w.run().join("init.pid");
    w.unit(&unit, &pidfile);
    std::fs::write(&pidfile, "1\n").unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["systemd"]["systemd_accepts"], false, "{e:#}");
    assert!(warnings(&e).contains(&"systemd-refuses".into()), "{e:#}");
    assert!(
        e["reason"].as_str().unwrap().contains("is the manager"),
        "{e:#}"
    );
}

#[test]
fn a_stale_file_whose_unit_still_runs_says_the_daemon_is_elsewhere() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let unit = unit_name("respawned");
    let pidfile = w.run().join("daemon.pid");
    w.unit(&unit, &pidfile);
    let cgroup = ServiceCgroup::new(&unit);
    let respawned = spawn_sleep();
    cgroup.add(respawned.pid());
    let dead = dead_pid();
    std::fs::write(&pidfile, format!("{dead}\n")).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["status"], "stale");
    assert_eq!(
        e["systemd"]["unit_pids"],
        serde_json::json!([respawned.pid()])
    );
    assert_eq!(e["systemd"]["systemd_accepts"], Value::Null);
    assert_eq!(warnings(&e), ["daemon-elsewhere"], "{e:#}");
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "{unit} is running as PID {}: starting it again would start a second instance",
            respawned.pid()
        )),
        "{reason}"
    );

    // `clean` still removes it, and says so with the warning.
    let out = run(bin()
        .env("PIDSCOPE_CONFIG", &w.config)
        .args(["clean", "--yes", "--json"])
        .arg(w.run()));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("clean --json");
    let row = doc["results"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r["path"] == pidfile.display().to_string())
                .cloned()
        })
        .unwrap_or_else(|| panic!("{pidfile:?} not in {doc:#}"));
    assert_eq!(row["action"], "removed", "{doc:#}");
    assert_eq!(
        row["warnings"],
        serde_json::json!(["daemon-elsewhere"]),
        "{doc:#}"
    );
    assert!(!pidfile.exists());
}

#[test]
fn a_stale_file_named_like_a_running_program_may_be_elsewhere() {
    // A program named uniquely, running as a master and its worker.
    let dir = tempdir();
    let name = format!("pstd{}", std::process::id());
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sh", &exe).unwrap();
    let script = format!("{} -c 'sleep 600; true' & wait", exe.display());
    let master = Proc::spawn(std::process::Command::new(&exe).args(["-c", &script]));
    let worker = {
        let mut found = None;
        assert!(
            wait_until(std::time::Duration::from_secs(10), || {
                found = children_of(master.pid())
                    .into_iter()
                    .find(|&c| comm(c) == name[..name.len().min(15)]);
                found.is_some()
            }),
            "the worker never started"
        );
        found.unwrap()
    };
    let run_dir = tempdir();
    let pidfile = write_pidfile(
        run_dir.path(),
        &format!("{name}.pid"),
        &format!("{}\n", dead_pid()),
    );
    let config = config_with_units(run_dir.path(), &[&run_dir.path().join("no-units")]);
    let out = run(bin()
        .env("PIDSCOPE_CONFIG", &config)
        .args(["audit", "--json"])
        .arg(&pidfile));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &doc["entries"][0];
    assert_eq!(e["status"], "stale");
    assert_eq!(e["systemd"], Value::Null, "{e:#}");
    assert_eq!(warnings(e), ["daemon-elsewhere"], "{e:#}");
    let reason = e["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{name} may be running as PID {}:", master.pid())),
        "{reason} (worker {worker})"
    );
}

#[test]
fn units_come_from_drop_ins_templates_and_var_run_through_the_binary() {
    if !needs_root() {
        return;
    }
    let w = World::new();
    let id = std::process::id();
    // A directory under /run, declared through /var/run and a template.
    let run_dir = PathBuf::from(format!("/run/pidscope-test-{id}"));
    std::fs::create_dir_all(&run_dir).unwrap();
    let _cleanup = RemoveOnDrop(run_dir.clone());
    let template = format!("pidscope-tmpl-{id}@.service");
    std::fs::write(
        w.units().join(&template),
        format!("[Service]\nPIDFile=/var/run/pidscope-test-{id}/%i.pid\n"),
    )
    .unwrap();
    // A unit moved by a drop-in, and a masked one.
    let moved = unit_name("moved");
    w.unit(&moved, Path::new("/run/nowhere.pid"));
    let dropins = w.units().join(format!("{moved}.d"));
    std::fs::create_dir(&dropins).unwrap();
    std::fs::write(
        dropins.join("override.conf"),
        format!("[Service]\nPIDFile=\nPIDFile=pidscope-test-{id}/moved.pid\n"),
    )
    .unwrap();
    let masked = unit_name("masked");
    symlink("/dev/null", w.units().join(&masked)).unwrap();
    let sleeper = spawn_sleep();
    for name in ["15-main.pid", "moved.pid"] {
        write_pidfile(&run_dir, name, &format!("{}\n", sleeper.pid()));
    }
    let out = run(bin()
        .env("PIDSCOPE_CONFIG", &w.config)
        .args(["audit", "--json"])
        .arg(&run_dir));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let declared = |file: &str| {
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == run_dir.join(file).display().to_string())
            .map(|e| e["systemd"]["declared_by"].clone())
            .unwrap_or_else(|| panic!("{file} missing from {doc:#}"))
    };
    assert_eq!(
        declared("15-main.pid"),
        serde_json::json!([format!("pidscope-tmpl-{id}@15-main.service")])
    );
    // The template declares every pidfile of that directory, this one too.
    assert_eq!(
        declared("moved.pid"),
        serde_json::json!([moved, format!("pidscope-tmpl-{id}@moved.service")])
    );
    assert_eq!(doc["errors"], serde_json::json!([]), "{doc:#}");
}

#[test]
fn a_malformed_unit_is_a_scan_error_naming_it_and_the_scan_goes_on() {
    let w = World::new();
    let good = unit_name("good");
    let pidfile = write_pidfile(&w.run(), "x.pid", &format!("{}\n", dead_pid()));
    w.unit(&good, &pidfile);
    let bad = w.units().join(unit_name("bad"));
    std::fs::write(
        &bad,
        "[Service]\nPIDFile=/run/bad.pid\nthis line has no equals sign\n",
    )
    .unwrap();
    let doc = w.audit();
    assert_eq!(
        doc["entries"][0]["systemd"]["declared_by"],
        serde_json::json!([good])
    );
    assert_eq!(
        doc["errors"],
        serde_json::json!([{"path": bad.display().to_string(), "error": "line 3: expected Key=Value"}])
    );
    let out = run(bin()
        .env("PIDSCOPE_CONFIG", &w.config)
        .arg("audit")
        .arg(w.run()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: line 3: expected Key=Value", bad.display())),
        "{stderr}"
    );
}

#[test]
fn systemd_false_turns_it_all_off() {
    let w = World::new();
    let pidfile = write_pidfile(&w.run(), "x.pid", &format!("{}\n", dead_pid()));
    w.unit(&unit_name("off"), &pidfile);
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, format!("systemd = false\n{text}")).unwrap();
    let e = w.entry(&pidfile);
    assert_eq!(e["systemd"], Value::Null, "{e:#}");
    assert!(!e["reason"].as_str().unwrap().contains("declared by"));
}

/// Removes a directory tree when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The children of `pid`, from `/proc/PID/task/*/children`.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}
