//! `pidscope watch --json` as a child process: its lines as they arrive
//! (each with the moment it was read), its stderr, and a clean stop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{TIMEOUT, bin, wait_until};

/// A wrapper (see [`wrapped`]) that runs pidscope in a user namespace of
/// its own where one inotify watch is the limit (the kernel counts watches
/// per user namespace): only the first directory can be watched.
pub const ONE_INOTIFY_WATCH: [&str; 6] = [
    "unshare",
    "--user",
    "--map-root-user",
    "sh",
    "-c",
    "echo 1 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"",
];

/// A running `pidscope watch`.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<(Instant, serde_json::Value)>,
    /// Every line read so far, for failure messages.
    seen: Vec<serde_json::Value>,
    stderr: Arc<Mutex<String>>,
    reaped: bool,
}

/// `pidscope` with the tests' environment (see [`bin`]), started through
/// `wrapper` (e.g. `["prlimit", "--nofile=90:90"]`), which must exec it.
pub fn wrapped(wrapper: &[&str]) -> Command {
    let plain = bin();
    let mut cmd = Command::new(wrapper[0]);
    cmd.args(&wrapper[1..]).arg(plain.get_program());
    for (key, value) in plain.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

impl Watch {
    /// `pidscope watch --json ARGS`.
    pub fn start(args: &[&OsStr]) -> Watch {
        Watch::start_cmd(bin(), args)
    }

    /// `CMD watch --json ARGS`, where `CMD` runs pidscope (see [`wrapped`]).
    pub fn start_cmd(mut cmd: Command, args: &[&OsStr]) -> Watch {
        cmd.arg("watch")
            .arg("--json")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch printed a line that is not JSON: {line:?}: {e}")
                });
                if tx.send((Instant::now(), value)).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
            stderr,
            reaped: false,
        }
    }

    /// The PID of the watch process.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits up to `timeout` for a line for which `wanted` holds, and
    /// returns it with the moment it was read. Lines before it are skipped.
    pub fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> (Instant, serde_json::Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return (at, line);
                    }
                }
                Err(_) => panic!(
                    "no line with {what} within {timeout:?}; lines so far: {:#?}\nstderr: {}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// The line about `path` (ending in it) going from `from` to `to`
    /// (`None`: JSON null), within `timeout`.
    pub fn expect_change(
        &mut self,
        path: &str,
        from: Option<&str>,
        to: &[Option<&str>],
        timeout: Duration,
    ) -> (Instant, serde_json::Value) {
        let what = format!("{path}: {from:?} -> one of {to:?}");
        self.expect(&what, timeout, |l| {
            l["path"].as_str().is_some_and(|p| p.ends_with(path))
                && l["from"].as_str() == from
                && to.contains(&l["to"].as_str())
        })
    }

    /// No line arrives for `quiet`.
    pub fn expect_silence(&mut self, quiet: Duration) {
        if let Ok((_, line)) = self.lines.recv_timeout(quiet) {
            panic!("expected no change, got {line}");
        }
    }

    /// What watch wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Waits until stderr holds `text`; returns all of stderr.
    pub fn wait_stderr(&self, text: &str) -> String {
        let found = wait_until(TIMEOUT, || self.stderr().contains(text));
        let stderr = self.stderr();
        assert!(
            found,
            "watch never said {text:?} on stderr; it said: {stderr}"
        );
        stderr
    }

    /// How many times the watch process has gone to sleep so far
    /// (`voluntary_ctxt_switches`): once per wake-up of its event loop.
    pub fn sleeps(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("watch's /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("voluntary_ctxt_switches")
    }

    /// Sends `signal` and waits for the exit; returns the status and every
    /// line printed after the ones already read.
    pub fn stop(mut self, signal: Signal) -> (ExitStatus, Vec<serde_json::Value>) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal watch");
        let mut status = None;
        wait_until(TIMEOUT, || {
            status = self.child.try_wait().expect("waitpid");
            status.is_some()
        });
        let status = status.unwrap_or_else(|| panic!("watch did not exit on {signal:?}"));
        self.reaped = true;
        // The reader ends at the pipe's end: everything printed is in by then.
        let mut rest = Vec::new();
        while let Ok((_, line)) = self.lines.recv_timeout(TIMEOUT) {
            rest.push(line);
        }
        (status, rest)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
