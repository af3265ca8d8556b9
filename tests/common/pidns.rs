//! Real PID reuse: a PID namespace of its own, where a new process can be
//! given exactly the PID of one that just died.
//!
//! [`PidNs::start`] runs `unshare --pid --fork --mount-proc --kill-child`
//! with a small Python controller as the namespace's init (PID 1 there: it
//! also reaps whatever is orphaned inside). The controller takes one JSON
//! request per line on its stdin and answers one line on its stdout:
//! spawn a program (at any PID, or at exactly PID N by writing N-1 to
//! `/proc/sys/kernel/ns_last_pid` and forking, retrying while another fork
//! takes it first), SIGKILL a process and wait until its PID is free again,
//! send a signal. A spawned child waits for the controller's word before it
//! `exec`s, so a child that got the wrong PID ends without running anything.
//!
//! [`PidNs::command`] runs a command inside the namespace later
//! (`nsenter --target INIT --pid --mount`, so `/proc` shows the namespace).
//! pidscope run there sees a nested PID namespace: pass it `--same-namespace`
//! (the pidfiles and their processes do belong to that namespace).
//!
//! Dropping the [`PidNs`] SIGKILLs `unshare`, whose `--kill-child` SIGKILLs
//! the init, and the kernel then kills everything left in the namespace: no
//! process outlives it, whatever the test did or how it failed.
//!
//! [`Witness`] is the process tests reuse PIDs with: a Python program that
//! appends the name of every signal it catches to a record file, so "this
//! process received nothing" can be checked, not assumed (see
//! [`Witness::barrier`]).
//!
//! Needs root (`unshare --pid`, `ns_last_pid`), util-linux `unshare` and
//! `nsenter`, and `python3`.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::tmux::sh_quote;
use super::{Proc, RUN_TIMEOUT, STARTUP_TIMEOUT, TIMEOUT, is_root, process_ppid, skip, wait_until};

/// How many forks the controller makes, at most, to get one PID back.
const SPAWN_TRIES: u32 = 200;

/// The namespace's init: reads requests, answers, reaps orphans.
const CONTROLLER: &str = r#"
import json, os, select, signal, sys, time

def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def exists(pid):
    return os.path.exists(f"/proc/{pid}")

def spawn(argv, want):
    for n in range(1, TRIES + 1):
        if want:
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(want - 1))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(w)
            if os.read(r, 1) != b"g":
                os._exit(0)
            for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
                signal.signal(s, signal.SIG_DFL)
            null = os.open("/dev/null", os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        os.close(r)
        ok = not want or pid == want
        os.write(w, b"g" if ok else b"n")
        os.close(w)
        if ok:
            return {"ok": True, "pid": pid, "tries": n}
        os.waitpid(pid, 0)
    return {"ok": False, "error": f"other forks took PID {want} {TRIES} times in a row"}

def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 20
    while exists(pid):
        if time.monotonic() > deadline:
            return {"ok": False, "error": f"PID {pid} still exists 20 s after SIGKILL"}
        reap()
        time.sleep(0.002)
    return {"ok": True}

def send(pid, sig):
    try:
        os.kill(pid, sig)
        return {"ok": True}
    except OSError as e:
        return {"ok": False, "error": f"kill({pid}, {sig}): {e}"}

TRIES = int(sys.argv[1])
print(json.dumps({"ok": True, "pid": os.getpid()}), flush=True)
while True:
    ready, _, _ = select.select([sys.stdin], [], [], 0.05)
    reap()
    if not ready:
        continue
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    req = json.loads(line)
    op = req["op"]
    if op == "spawn":
        reply = spawn(req["argv"], req.get("pid"))
    elif op == "kill":
        reply = kill(req["pid"])
    elif op == "signal":
        reply = send(req["pid"], req["signal"])
    else:
        reply = {"ok": False, "error": f"unknown request {op}"}
    print(json.dumps(reply), flush=True)
"#;

/// The witness: records every signal it catches, one name a line.
const WITNESS: &str = r#"
import os, signal, sys, time
record = sys.argv[1]
held = [open(p) for p in sys.argv[2:]]
def note(text):
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (text + "\n").encode())
    os.close(fd)
def caught(sig, frame):
    note(signal.Signals(sig).name)
for s in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"):
    signal.signal(getattr(signal, s), caught)
note(f"ready {os.getpid()}")
while True:
    time.sleep(3600)
"#;

/// The signal [`Witness::barrier`] sends: numbered above every signal a
/// test sends, so the kernel and Python deliver those first.
const BARRIER: Signal = Signal::SIGWINCH;

/// The Python interpreter itself (not a wrapper script that forks on the
/// way, as version managers' shims do): `sys.executable`.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out =
            super::run(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]));
        assert!(out.status.success(), "python3 does not run: {out:?}");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// A PID namespace of its own, controlled from the test (see the module
/// documentation). Everything in it dies when it is dropped.
pub struct PidNs {
    unshare: Child,
    /// The host's PID of the namespace's init.
    init: i32,
    channel: Mutex<Channel>,
    /// Forks that got another PID than asked for, so far.
    taken: AtomicUsize,
}

struct Channel {
    requests: ChildStdin,
    replies: mpsc::Receiver<String>,
}

impl PidNs {
    /// A new PID namespace, or `None` (after [`skip`], which fails under
    /// CI) when not root.
    pub fn start() -> Option<PidNs> {
        if !is_root() {
            skip("a PID namespace of its own (unshare --pid, ns_last_pid) needs root");
            return None;
        }
        let mut unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
            .arg(python())
            .args(["-I", "-S", "-c", CONTROLLER, &SPAWN_TRIES.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run unshare: {e}"));
        let requests = unshare.stdin.take().expect("piped stdin");
        let stdout = unshare.stdout.take().expect("piped stdout");
        let (tx, replies) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut ns = PidNs {
            init: 0,
            unshare,
            channel: Mutex::new(Channel { requests, replies }),
            taken: AtomicUsize::new(0),
        };
        // Its greeting: the controller runs, as the namespace's PID 1.
        let hello = ns
            .channel
            .get_mut()
            .expect("fresh lock")
            .reply("the controller's greeting");
        assert_eq!(hello["pid"], 1, "the controller is not PID 1: {hello}");
        let parent = ns.unshare.id() as i32;
        let mut init = None;
        assert!(
            wait_until(TIMEOUT, || {
                init = child_of(parent);
                init.is_some()
            }),
            "unshare ({parent}) shows no child"
        );
        ns.init = init.expect("init");
        Some(ns)
    }

    /// The host's PID of the namespace's init.
    pub fn init(&self) -> i32 {
        self.init
    }

    /// Starts `argv` in the namespace at exactly PID `pid`, which must be
    /// free (see [`PidNs::kill`]); panics if other forks keep taking it.
    pub fn spawn_at(&self, pid: i32, argv: &[&OsStr]) -> i32 {
        self.try_spawn_at(pid, argv)
            .unwrap_or_else(|e| panic!("cannot start a process at PID {pid}: {e}"))
    }

    /// [`PidNs::spawn_at`], or why no fork got that PID.
    pub fn try_spawn_at(&self, pid: i32, argv: &[&OsStr]) -> Result<i32, String> {
        let reply = self.request(json!({"op": "spawn", "argv": utf8(argv), "pid": pid}));
        if reply["ok"] != true {
            return Err(reply["error"].as_str().unwrap_or("?").to_string());
        }
        let got = reply["pid"].as_i64().expect("a PID") as i32;
        assert_eq!(got, pid, "the new process did not get PID {pid}: {reply}");
        let tries = reply["tries"].as_u64().expect("tries");
        self.taken.fetch_add(tries as usize - 1, Ordering::Relaxed);
        Ok(got)
    }

    /// How many forks so far got another PID than the one asked for
    /// (another process took it first), and were undone and retried.
    pub fn retries(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// Starts `argv` in the namespace; returns its PID there.
    pub fn spawn(&self, argv: &[&OsStr]) -> i32 {
        let reply = self.ask(json!({"op": "spawn", "argv": utf8(argv), "pid": null}));
        reply["pid"].as_i64().expect("a PID") as i32
    }

    /// SIGKILLs the namespace's process `pid` and waits until it is reaped:
    /// its PID is then free for [`PidNs::spawn_at`].
    pub fn kill(&self, pid: i32) {
        self.ask(json!({"op": "kill", "pid": pid}));
    }

    /// Sends `signal` to the namespace's process `pid`.
    pub fn signal(&self, pid: i32, signal: Signal) {
        self.ask(json!({"op": "signal", "pid": pid, "signal": signal as i32}));
    }

    /// `cmd` (program, arguments, environment changes) run inside the
    /// namespace, with its `/proc`.
    pub fn command(&self, cmd: &Command) -> Command {
        let mut inside = Command::new("nsenter");
        inside
            .args(["--target", &self.init.to_string(), "--pid", "--mount", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => inside.env(key, value),
                None => inside.env_remove(key),
            };
        }
        inside
    }

    /// [`PidNs::command`] as `sh` words, for a tmux pane.
    pub fn shell_words(&self, cmd: &Command) -> String {
        shell_words(&self.command(cmd))
    }

    /// A [`Witness`] in the namespace (at exactly PID `at` when given),
    /// recording into `dir`, holding `open` open; once it is ready.
    pub fn witness(&self, dir: &Path, at: Option<i32>, open: &[&Path]) -> Witness<'_> {
        let record = Witness::record_path(dir);
        let argv = Witness::argv(&record, open);
        let argv: Vec<&OsStr> = argv.iter().map(OsStr::new).collect();
        let pid = match at {
            Some(pid) => self.spawn_at(pid, &argv),
            None => self.spawn(&argv),
        };
        let witness = Witness {
            pid,
            record,
            via: Via::Namespace(self),
        };
        witness.wait_ready();
        witness
    }

    /// Sends `request`; the reply, which must be a success.
    fn ask(&self, request: Value) -> Value {
        let reply = self.request(request.clone());
        assert_eq!(reply["ok"], true, "{request} failed: {reply}");
        reply
    }

    /// Sends `request`; the reply, success or not.
    fn request(&self, request: Value) -> Value {
        let mut channel = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(channel.requests, "{request}")
            .and_then(|()| channel.requests.flush())
            .unwrap_or_else(|e| panic!("the namespace's controller is gone ({e})"));
        channel.reply(&request.to_string())
    }
}

impl Channel {
    fn reply(&mut self, what: &str) -> Value {
        let line = self
            .replies
            .recv_timeout(RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("no answer from the namespace's controller to {what}: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad answer {line:?}: {e}"))
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        // unshare is our child and not reaped: its PID is still its own.
        // --kill-child passes the SIGKILL on to the init, and the kernel kills
        // every process left in the namespace with it.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        if self.init > 0 {
            let _ = wait_until(TIMEOUT, || {
                process_ppid(self.init) != Some(self.unshare.id() as i32)
            });
        }
    }
}

/// `argv` as JSON strings.
fn utf8<'a>(argv: &[&'a OsStr]) -> Vec<&'a str> {
    argv.iter()
        .map(|a| a.to_str().expect("UTF-8 argument"))
        .collect()
}

/// `cmd` as `sh` words, for a tmux pane: `env -u K ... K=V ... PROGRAM ARGS...`.
pub fn shell_words(cmd: &Command) -> String {
    let mut words = vec!["env".to_string()];
    for (key, value) in cmd.get_envs() {
        match value {
            None => words.push(format!("-u {}", sh_quote(key))),
            Some(value) => {
                let mut pair = key.to_os_string();
                pair.push("=");
                pair.push(value);
                words.push(sh_quote(&pair));
            }
        }
    }
    words.push(sh_quote(cmd.get_program()));
    words.extend(cmd.get_args().map(sh_quote));
    words.join(" ")
}

/// The first process whose parent is `parent`.
fn child_of(parent: i32) -> Option<i32> {
    fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| process_ppid(pid) == Some(parent))
}

/// A process that records every signal it catches (TERM, INT, HUP, QUIT,
/// USR1, USR2, and WINCH, the [barrier](Witness::barrier)) in a file of its
/// own, and otherwise sleeps. Its name is `python3`.
pub struct Witness<'a> {
    /// Its PID, as pidscope sees it (in the namespace, for one there).
    pub pid: i32,
    record: PathBuf,
    via: Via<'a>,
}

/// How a witness is reached.
enum Via<'a> {
    /// A child of the test, in the test's PID namespace.
    Host(Proc),
    /// A process of this namespace.
    Namespace(&'a PidNs),
}

impl Witness<'static> {
    /// A witness in the test's own PID namespace, recording into `dir`; once it is ready.
    pub fn on_host(dir: &Path) -> Witness<'static> {
        let record = Witness::record_path(dir);
        let argv = Witness::argv(&record, &[]);
        let proc = Proc::spawn(Command::new(&argv[0]).args(&argv[1..]));
        let witness = Witness {
            pid: proc.pid(),
            record,
            via: Via::Host(proc),
        };
        witness.wait_ready();
        witness
    }
}

impl Witness<'_> {
    fn record_path(dir: &Path) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        dir.join(format!("witness-{n}.signals"))
    }

    fn argv(record: &Path, open: &[&Path]) -> Vec<String> {
        let mut argv = vec![
            python().to_str().expect("UTF-8 path").to_string(),
            "-I".into(),
            "-S".into(),
            "-c".into(),
            WITNESS.into(),
            record.to_str().expect("UTF-8 path").to_string(),
        ];
        argv.extend(
            open.iter()
                .map(|p| p.to_str().expect("UTF-8 path").to_string()),
        );
        argv
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn wait_ready(&self) {
        let ready = format!("ready {}", self.pid);
        assert!(
            wait_until(STARTUP_TIMEOUT, || self.lines().contains(&ready)),
            "witness {} never said {ready:?} (record: {:?})",
            self.pid,
            self.lines()
        );
    }

    fn send(&self, signal: Signal) {
        match &self.via {
            Via::Host(proc) => kill(Pid::from_raw(proc.pid()), signal)
                .unwrap_or_else(|e| panic!("kill({}, {signal}): {e}", proc.pid())),
            Via::Namespace(ns) => ns.signal(self.pid, signal),
        }
    }

    /// The signals it has caught so far, certain to include every signal
    /// sent to it before this call: sends it the barrier signal and waits
    /// until that is recorded (a signal sent earlier, with a lower number, is
    /// delivered and handled before it). Panics if it does not answer, for
    /// instance because a signal killed it.
    pub fn barrier(&self) -> Vec<String> {
        let name = BARRIER.as_str();
        let before = self.lines().iter().filter(|l| *l == name).count();
        self.send(BARRIER);
        let answered = wait_until(TIMEOUT, || {
            self.lines().iter().filter(|l| *l == name).count() > before
        });
        assert!(
            answered,
            "witness {} did not record the barrier {name} (dead?); record: {:?}",
            self.pid,
            self.lines()
        );
        self.lines()
            .into_iter()
            .filter(|l| !l.starts_with("ready ") && l != name)
            .collect()
    }
}
