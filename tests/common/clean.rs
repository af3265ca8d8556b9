//! `pidscope clean` stopped inside one of its debug-only race windows.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};

use super::{STARTUP_TIMEOUT, bin};

/// `clean --yes --json DIR` with the debug pause `variable` of `ms`, returned
/// once it has reached the pause (it says so on stderr): whatever the test
/// does next lands inside the window, however loaded the machine.
pub fn clean_paused_at(dir: &Path, variable: &str, ms: u64) -> Child {
    let mut child = bin()
        .args(["clean", "--yes", "--json"])
        .arg(dir)
        .env(variable, ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("pausing at") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(STARTUP_TIMEOUT)
        .unwrap_or_else(|_| panic!("clean never reached {variable}"));
    child
}
