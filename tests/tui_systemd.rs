//! The inspector's systemd view, driven in a real terminal: the UNIT
//! column, the unit and systemd lines of the details, and the delete
//! dialog calling out a pidfile whose daemon runs under another PID.

mod common;

use common::cgroups::{ServiceCgroup, config_with_units};
use common::inspector::Inspector;
use common::*;

#[test]
fn the_unit_shows_in_the_table_the_details_and_the_delete_dialog() {
    if !is_root() {
        skip("needs root: it creates a service cgroup");
        return;
    }
    let dir = tempdir();
    let units = dir.path().join("units");
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&run_dir).unwrap();
    let unit = format!("t{}.service", std::process::id());
    let pidfile = run_dir.join("daemon.pid");
    std::fs::write(
        units.join(&unit),
        format!("[Service]\nType=forking\nPIDFile={}\n", pidfile.display()),
    )
    .unwrap();
    // The unit runs, under a PID the file does not name.
    let cgroup = ServiceCgroup::new(&unit);
    let respawned = spawn_sleep();
    cgroup.add(respawned.pid());
    std::fs::write(&pidfile, format!("{}\n", dead_pid())).unwrap();
    let config = config_with_units(dir.path(), &[&units]);

    let tui = Inspector::start(
        "systemd",
        &[run_dir.as_os_str()],
        &[("PIDSCOPE_CONFIG", Some(config.as_os_str()))],
    );
    let screen = tui.wait_text(&unit);
    let header = screen
        .lines()
        .find(|l| l.contains("STATUS"))
        .unwrap_or_else(|| panic!("no header:\n{screen}"));
    assert!(header.contains("UNIT"), "{header}");
    let row = screen
        .lines()
        .find(|l| l.contains("daemon.pid"))
        .unwrap_or_else(|| panic!("no row:\n{screen}"));
    assert!(row.contains("stale") && row.contains(&unit), "{row}");
    // The details: who declares it, where the unit's processes are.
    tui.wait_text(&format!(
        "{unit} declares it (PIDFile={}",
        pidfile.display()
    ));
    tui.wait_text(&format!("the unit's processes: {}", respawned.pid()));
    // Delete: the dialog calls out the second instance a restart would start.
    tui.key("d");
    let dialog = tui.wait_text("daemon-elsewhere: their daemon still runs under another PID:");
    assert!(
        dialog.contains("Starting the service again would start a second instance."),
        "{dialog}"
    );
    tui.key("n");
    tui.key("q");
    assert_eq!(tui.exit_status(), 0);
    assert!(pidfile.exists(), "cancelled, yet the file is gone");
}
