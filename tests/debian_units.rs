//! The units Debian's packages ship, read where the packages install them:
//! nginx, redis-server, memcached and PostgreSQL's `postgresql@` template.
//! Each daemon is started as its unit would start it, inside that unit's
//! cgroup, and `audit` must name the declaring unit (for PostgreSQL, the
//! instance `postgresql@15-main.service` from `/run/postgresql/15-main.pid`)
//! and say systemd accepts it. `.ci/run` installs the packages.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::cgroups::ServiceCgroup;
use common::*;
use serde_json::Value;

/// One daemon started for the test, stopped when dropped.
struct Daemon {
    unit: String,
    pidfile: PathBuf,
    stop: Vec<String>,
    cgroup: ServiceCgroup,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.stop.is_empty() {
            let _ = Command::new(&self.stop[0]).args(&self.stop[1..]).output();
        }
        self.cgroup.kill_all();
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Run `command` (a shell line) in a new cgroup of `unit`, as systemd would
/// start the service, and wait until `pidfile` names a live process.
fn start(unit: &str, pidfile: &str, command: &str, stop: &[&str]) -> Daemon {
    let pidfile = PathBuf::from(pidfile);
    if let Some(pid) = read_pid(&pidfile).filter(|&p| alive(p)) {
        panic!(
            "{} already names the live PID {pid}: stop that {unit} first",
            pidfile.display()
        );
    }
    let cgroup = ServiceCgroup::new(unit);
    let daemon = Daemon {
        unit: unit.to_string(),
        pidfile: pidfile.clone(),
        stop: stop.iter().map(|s| s.to_string()).collect(),
        cgroup,
    };
    // The shell moves itself into the cgroup, then becomes the start command:
    // everything it forks is the unit's.
    let procs: Vec<String> = common::cgroups::hierarchies()
        .iter()
        .map(|h| {
            format!(
                "echo $$ > {}/pidscope-test.slice/{unit}/cgroup.procs",
                h.display()
            )
        })
        .collect();
    let script = format!("{} && exec {command}", procs.join(" && "));
    let out = run(Command::new("sh").args(["-c", &script]));
    assert!(
        out.status.success(),
        "{unit}: `{command}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_until(Duration::from_secs(60), || read_pid(&pidfile)
            .is_some_and(alive)),
        "{unit} never wrote a live PID to {}",
        pidfile.display()
    );
    daemon
}

/// A runtime directory for a daemon run as `user`, as `RuntimeDirectory=` makes it.
fn runtime_dir(path: &str, user: &str) {
    let out = run(Command::new("install").args(["-d", "-m", "2755", "-o", user, "-g", user, path]));
    assert!(out.status.success(), "cannot create {path}");
}

/// The PostgreSQL version whose cluster `main` exists, e.g. `15`.
fn postgres_version() -> Option<String> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .flatten()
        .filter(|e| e.path().join("main/postgresql.conf").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions.pop()
}

#[test]
fn debian_units_declare_their_daemons_pidfiles() {
    if !is_root() {
        skip("needs root: it starts system daemons in their units' cgroups");
        return;
    }
    let units = [
        "/lib/systemd/system/nginx.service",
        "/lib/systemd/system/redis-server.service",
        "/lib/systemd/system/memcached.service",
        "/lib/systemd/system/postgresql@.service",
    ];
    let missing: Vec<&str> = units
        .iter()
        .copied()
        .filter(|u| !Path::new(u).exists())
        .collect();
    let version = postgres_version();
    if !missing.is_empty() || version.is_none() {
        skip(&format!(
            "needs the nginx, redis-server, memcached and postgresql packages (missing: {missing:?}, a PostgreSQL cluster: {version:?})"
        ));
        return;
    }
    let version = version.expect("checked");
    let instance = format!("postgresql@{version}-main.service");

    let mut daemons = Vec::new();
    daemons.push(start(
        "nginx.service",
        "/run/nginx.pid",
        "/usr/sbin/nginx -g 'daemon on; master_process on;'",
        &["/usr/sbin/nginx", "-s", "quit"],
    ));
    runtime_dir("/run/redis", "redis");
    daemons.push(start(
        "redis-server.service",
        "/run/redis/redis-server.pid",
        "setpriv --reuid redis --regid redis --init-groups /usr/bin/redis-server /etc/redis/redis.conf --daemonize yes --supervised no --port 0 --unixsocket /run/redis/pidscope-test.sock --pidfile /run/redis/redis-server.pid",
        &[],
    ));
    runtime_dir("/run/memcached", "memcache");
    daemons.push(start(
        "memcached.service",
        "/run/memcached/memcached.pid",
        "/usr/bin/memcached -d -u memcache -p 0 -U 0 -s /run/memcached/pidscope-test.sock -P /run/memcached/memcached.pid",
        &[],
    ));
    daemons.push(start(
        &instance,
        &format!("/run/postgresql/{version}-main.pid"),
        &format!("/usr/bin/pg_ctlcluster {version} main start"),
        &[
            "/usr/bin/pg_ctlcluster",
            &version,
            "main",
            "stop",
            "-m",
            "fast",
        ],
    ));

    // The default configuration: systemd's own search path.
    let out = run(bin().args(["audit", "--json", "/run"]));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("audit --json");
    for daemon in &daemons {
        let entry = doc["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["path"] == daemon.pidfile.display().to_string())
            .unwrap_or_else(|| panic!("{} is not in {doc:#}", daemon.pidfile.display()));
        assert_eq!(entry["status"], "alive", "{entry:#}");
        assert_eq!(
            entry["systemd"]["declared_by"],
            serde_json::json!([daemon.unit]),
            "{entry:#}"
        );
        assert_eq!(
            entry["systemd"]["process_unit"],
            daemon.unit.as_str(),
            "{entry:#}"
        );
        assert_eq!(entry["systemd"]["systemd_accepts"], true, "{entry:#}");
        let pid = read_pid(&daemon.pidfile).expect("a PID");
        let unit_pids = entry["systemd"]["unit_pids"].as_array().expect("unit_pids");
        assert!(unit_pids.contains(&pid.into()), "{entry:#}");
    }
}
