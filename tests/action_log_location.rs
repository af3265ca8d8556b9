//! Where actions are recorded when the config does not say (`action_log`
//! unset), as README's "Audit trail" and `ActionLog::default_path` document:
//! `$XDG_STATE_HOME/pidscope/actions.log`, else `~/.local/state/...`, for a
//! user other than root, owned by that user; `/var/log/pidscope/actions.log`
//! for root, also under sudo, where `SUDO_USER` is recorded in each record
//! (`sudo_user`) and moves nothing. The log's directory is made mode 0750 and
//! the log 0640.
//!
//! Each case deletes a real stale pidfile with `clean --yes`, as root or as
//! `nobody` (through `setpriv`). Root's default is redirected
//! without touching the machine's /var/log: pidscope runs in a mount
//! namespace of its own where a temp dir is bind-mounted on /var/log.
//! Needs root (and util-linux's `setpriv` and `unshare`).

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use tempfile::TempDir;

/// The uid and gid of `nobody`.
const NOBODY: u32 = 65534;

/// A scratch tree everyone can enter: a config without `action_log`, a
/// directory with one stale pidfile, and room for homes and state dirs.
struct Scene {
    root: TempDir,
    config: PathBuf,
    stale: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let root = tempdir();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let config = root.path().join("config.toml");
        fs::write(&config, "# every key at its default: action_log unset\n").expect("config");
        fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).expect("chmod");
        let run = root.path().join("run");
        fs::create_dir(&run).expect("mkdir");
        // Anyone may delete in it, like /run/lock (but not sticky).
        fs::set_permissions(&run, fs::Permissions::from_mode(0o777)).expect("chmod");
        let stale = write_pidfile(&run, "old.pid", &format!("{}\n", dead_pid()));
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).expect("chmod");
        Scene {
            root,
            config,
            stale,
        }
    }

    /// A directory owned by `uid`, for a home.
    fn home_of(&self, name: &str, uid: u32) -> PathBuf {
        let home = self.root.path().join(name);
        fs::create_dir(&home).expect("mkdir");
        std::os::unix::fs::chown(&home, Some(uid), Some(uid)).expect("chown");
        home
    }

    /// `pidscope clean --yes` on the stale pidfile's directory, with this
    /// scene's config and `env` (`None` removes a variable).
    fn clean(&self, env: &[(&str, Option<&Path>)]) -> Command {
        let mut cmd = bin();
        cmd.env("PIDSCOPE_CONFIG", &self.config)
            .env_remove("XDG_STATE_HOME")
            .args(["clean", "--yes"])
            .arg(self.stale.parent().expect("dir"));
        for (key, value) in env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }
}

/// `cmd` (its program, arguments and environment) through `wrapper`, whose
/// words exec what follows them.
fn wrapped(wrapper: &[&OsStr], cmd: &Command) -> Command {
    let mut outer = Command::new(wrapper[0]);
    outer
        .args(&wrapper[1..])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    outer
}

/// `cmd` run as `nobody` (user and group, no supplementary groups).
fn as_nobody(cmd: &Command) -> Command {
    let words = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    wrapped(&words.map(OsStr::new), cmd)
}

/// `cmd` in a mount namespace of its own where `var_log` is mounted on /var/log.
fn with_var_log(var_log: &Path, cmd: &Command) -> Command {
    let words = [
        OsStr::new("unshare"),
        OsStr::new("--mount"),
        OsStr::new("--propagation=private"),
        OsStr::new("--"),
        OsStr::new("sh"),
        OsStr::new("-c"),
        OsStr::new("mount --bind \"$0\" /var/log && exec \"$@\""),
        var_log.as_os_str(),
    ];
    wrapped(&words, cmd)
}

/// Runs `cmd` and checks it deleted the stale pidfile with exit 0.
fn deletes(mut cmd: Command, scene: &Scene) {
    let out = run(&mut cmd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "clean --yes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!scene.stale.exists(), "the stale pidfile is still there");
}

/// The one record in `log`, after checking the log's and its directory's
/// owner and modes.
fn only_record(log: &Path, uid: u32) -> Value {
    let md = fs::symlink_metadata(log)
        .unwrap_or_else(|e| panic!("no action log at {}: {e}", log.display()));
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o7777),
        (uid, uid, 0o640),
        "owner, group and mode of {}",
        log.display()
    );
    let dir = log.parent().expect("log dir");
    let md = fs::metadata(dir).expect("log dir");
    assert_eq!(
        (md.uid(), md.mode() & 0o7777),
        (uid, 0o750),
        "owner and mode of {}",
        dir.display()
    );
    let text = fs::read_to_string(log).expect("read the log");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}")))
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    records.into_iter().next().expect("one record")
}

fn check_deletion(record: &Value, scene: &Scene, uid: u32, sudo_user: Option<&str>) {
    assert_eq!(record["action"], "delete", "{record}");
    assert_eq!(record["result"], "ok", "{record}");
    assert_eq!(
        record["path"],
        scene.stale.to_str().expect("UTF-8"),
        "{record}"
    );
    assert_eq!(record["uid"], uid, "{record}");
    assert_eq!(
        record["sudo_user"],
        sudo_user.map_or(Value::Null, Value::from),
        "{record}"
    );
}

#[test]
fn a_user_logs_under_xdg_state_home_owned_by_them() {
    if !is_root() {
        skip("needs root to act as nobody");
        return;
    }
    let scene = Scene::new();
    let home = scene.home_of("home", NOBODY);
    // Not there yet: pidscope makes the whole path.
    let state = home.join("state");
    deletes(
        as_nobody(&scene.clean(&[("HOME", Some(&home)), ("XDG_STATE_HOME", Some(&state))])),
        &scene,
    );
    let record = only_record(&state.join("pidscope/actions.log"), NOBODY);
    check_deletion(&record, &scene, NOBODY, None);
    assert!(
        !home.join(".local").exists(),
        "XDG_STATE_HOME is set: nothing goes to ~/.local"
    );
}

#[test]
fn a_user_without_xdg_state_home_logs_under_local_state() {
    if !is_root() {
        skip("needs root to act as nobody");
        return;
    }
    // Unset, and set but empty (which the XDG spec says to treat as unset).
    for (label, xdg) in [("unset", None), ("empty", Some(Path::new("")))] {
        let scene = Scene::new();
        let home = scene.home_of("home", NOBODY);
        deletes(
            as_nobody(&scene.clean(&[("HOME", Some(&home)), ("XDG_STATE_HOME", xdg)])),
            &scene,
        );
        let log = home.join(".local/state/pidscope/actions.log");
        assert!(
            log.exists(),
            "XDG_STATE_HOME {label}: no log at {}",
            log.display()
        );
        let record = only_record(&log, NOBODY);
        check_deletion(&record, &scene, NOBODY, None);
    }
}

#[test]
fn root_logs_to_var_log_also_under_sudo_which_is_recorded() {
    if !is_root() {
        skip("needs root for root's default log location");
        return;
    }
    for sudo_user in [None, Some("nobody")] {
        let scene = Scene::new();
        let var_log = scene.root.path().join("var-log");
        fs::create_dir(&var_log).expect("mkdir");
        // Neither the invoking user's home nor XDG_STATE_HOME moves root's log.
        let home = scene.home_of("home", NOBODY);
        let state = home.join("state");
        let mut cmd = scene.clean(&[("HOME", Some(&home)), ("XDG_STATE_HOME", Some(&state))]);
        match sudo_user {
            Some(user) => cmd
                .env("SUDO_USER", user)
                .env("SUDO_UID", NOBODY.to_string()),
            None => cmd.env_remove("SUDO_USER").env_remove("SUDO_UID"),
        };
        deletes(with_var_log(&var_log, &cmd), &scene);
        let record = only_record(&var_log.join("pidscope/actions.log"), 0);
        check_deletion(&record, &scene, 0, sudo_user);
        assert!(
            !state.exists() && !home.join(".local").exists(),
            "SUDO_USER={sudo_user:?}: root's log went to the user's state dir"
        );
    }
}
