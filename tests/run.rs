//! `pidscope run --pidfile FILE [--wait DURATION] -- COMMAND...` against real
//! processes: the pidfile names the job, a second instance is refused at once,
//! statuses and signals pass through, the file goes away, stale files are
//! recovered, and 24 instances racing for one file start exactly one job.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `pidscope run` exit statuses (see `src/cli/run/mod.rs`).
const BUSY: i32 = 75;
const FAILED: i32 = 125;
const CANNOT_EXECUTE: i32 = 126;
const NOT_FOUND: i32 = 127;

/// Instances racing per round, and rounds.
const RACERS: usize = 24;
const ROUNDS: usize = 15;

fn run_cmd(pidfile: &Path, command: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("run")
        .arg("--pidfile")
        .arg(pidfile)
        .arg("--")
        .args(command)
        .stdin(Stdio::null());
    cmd
}

/// `pidscope run --pidfile PIDFILE -- COMMAND`, to its end (see [`run`]).
fn run_job(pidfile: &Path, command: &[&str]) -> Output {
    run(&mut run_cmd(pidfile, command))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The PID a pidfile names, if it names one.
fn named_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A running `pidscope run` (its own process group, killed on drop) and its job
/// (also killed on drop: if the wrapper has died, `Proc` no longer kills its group).
struct Running {
    // Dropped in this order: the wrapper first, so it cannot clean up after its job.
    wrapper: Proc,
    job: i32,
    _job_guard: KillOnDrop,
}

/// Start `pidscope run --pidfile PIDFILE -- COMMAND` and wait until the
/// pidfile names COMMAND (a child of the wrapper whose `comm` is `job_comm`).
/// That only says COMMAND has exec'd: before signalling a job that catches
/// the signal, wait for its handler too ([`wait_for_handler`]).
fn start(pidfile: &Path, command: &[&str], job_comm: &str) -> Running {
    let wrapper = Proc::spawn(&mut run_cmd(pidfile, command));
    let mut job = None;
    let ok = wait_until(TIMEOUT, || {
        job = named_pid(pidfile)
            .filter(|&p| p != wrapper.pid() && process_ppid(p) == Some(wrapper.pid()))
            .filter(|&p| comm(p) == job_comm);
        job.is_some()
    });
    assert!(
        ok,
        "{} never named the job (it holds {:?})",
        pidfile.display(),
        fs::read_to_string(pidfile)
    );
    let job = job.unwrap();
    Running {
        wrapper,
        job,
        _job_guard: KillOnDrop::new(job),
    }
}

fn signal(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("kill {pid} {sig}: {e}"));
}

/// Wait (up to `TIMEOUT`) for a process that is not our child to be gone.
fn wait_gone(pid: i32) {
    assert!(
        wait_until(TIMEOUT, || matches!(
            process_state(pid),
            None | Some('Z' | 'X' | 'x')
        )),
        "PID {pid} is still running"
    );
}

/// Wait (up to 15 s, then panic: dropping the `Proc` kills it) for a wrapper to exit.
fn finish(proc: &mut Proc) -> ExitStatus {
    let mut status = None;
    wait_until(Duration::from_secs(15), || {
        status = proc.try_wait();
        status.is_some()
    });
    status.unwrap_or_else(|| panic!("PID {} did not exit", proc.pid()))
}

/// Wait for an orphan to be reaped (by init: this machine's reaps every ~2 s),
/// so that the inspector sees no process at all rather than a zombie.
fn wait_reaped(pid: i32) {
    assert!(
        wait_until(Duration::from_secs(15), || process_state(pid).is_none()),
        "PID {pid} was never reaped"
    );
}

#[test]
fn the_pidfile_names_the_command_which_the_inspector_shows_alive_holding_the_lock() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let mut running = start(&path, &["sleep", "1000"], "sleep");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", running.job)
    );
    // Both hold the lock: the wrapper, and the job through the inherited descriptor.
    let entry = audit_locked_by(&path, &[running.wrapper.pid(), running.job]);
    assert_eq!(entry["status"], "alive", "{entry}");
    assert_eq!(entry["pid"], running.job);
    assert_eq!(entry["lock"]["holder_pid"], running.job, "{entry}");
    assert!(
        lock_holders(&entry).contains(&i64::from(running.job)),
        "{entry}"
    );

    signal(running.wrapper.pid(), Signal::SIGTERM);
    let status = finish(&mut running.wrapper);
    assert_eq!(status.code(), Some(128 + 15), "{status}");
    assert!(!path.exists(), "the pidfile outlived the job");
}

#[test]
fn a_second_instance_is_refused_at_once_naming_the_running_pid() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let marker = dir.path().join("second-ran");
    let running = start(&path, &["sleep", "1000"], "sleep");

    let started = Instant::now();
    let out = run_job(&path, &["touch", marker.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let err = stderr(&out);
    assert!(
        err.starts_with("pidscope: ") && err.contains(&format!("PID {}", running.job)),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!marker.exists(), "the second instance ran its command");
    assert_eq!(named_pid(&path), Some(running.job), "the file changed");
}

#[test]
fn exit_statuses_pass_through_and_the_file_is_gone_afterwards() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    for code in [0, 1, 3, 42, 255] {
        let out = run_job(&path, &["sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "exit {code}");
        assert!(!path.exists(), "exit {code} left the pidfile");
    }
    // Arguments with dashes belong to the command.
    let out = run_job(&path, &["sh", "-c", "echo \"$@\"", "sh", "--pidfile", "-x"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "--pidfile -x\n");
}

#[test]
fn a_broken_inspector_config_does_not_stop_the_job() {
    // `run` reads no inspector configuration: a typo in it must not stop every
    // cron job wrapped in `pidscope run`, while `audit` does refuse it.
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let config = dir.path().join("broken.toml");
    fs::write(&config, "dirs = [\"/run\"\nrefresh_interval = \"soon\"\n").unwrap();
    let out = run(run_cmd(&path, &["sh", "-c", "exit 7"]).env("PIDSCOPE_CONFIG", &config));
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let out = run(bin().arg("audit").env("PIDSCOPE_CONFIG", &config));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.toml"), "{}", stderr(&out));
}

#[test]
fn a_command_killed_by_signal_n_gives_128_plus_n() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    for (sig, name) in [(9, "KILL"), (15, "TERM"), (6, "ABRT")] {
        let out = run_job(
            &path,
            &["sh", "-c", &format!("ulimit -c 0; kill -{name} $$")],
        );
        assert_eq!(
            out.status.code(),
            Some(128 + sig),
            "{name}: {}",
            stderr(&out)
        );
        assert!(!path.exists(), "{name} left the pidfile");
    }
}

#[test]
fn forwarded_signals_reach_the_command_and_the_wrapper_survives_them() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        let mut running = start(
            &path,
            &["sh", "-c", "ulimit -c 0; exec sleep 1000"],
            "sleep",
        );
        signal(running.wrapper.pid(), sig);
        let status = finish(&mut running.wrapper);
        if sig == Signal::SIGINT {
            // Then dies of it too, after cleaning up, so a calling script stops.
            assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
        } else {
            // The job died of the signal; the wrapper exited normally, reporting it.
            assert_eq!(status.signal(), None, "{sig} killed the wrapper: {status}");
            assert_eq!(status.code(), Some(128 + sig as i32), "{sig}: {status}");
        }
        wait_gone(running.job);
        assert!(!path.exists(), "{sig} left the pidfile");
    }
}

#[test]
fn a_command_dying_of_sigint_stops_the_calling_script() {
    // bash goes on with a script after a child that exited 130, but stops
    // when the child died of SIGINT: the wrapper dies of it too (after
    // removing the file), and shells still see 130.
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let out = run_job(&path, &["sh", "-c", "kill -INT $$"]);
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{}", stderr(&out));
    assert!(!path.exists());
    let script = format!(
        "{} run --pidfile {} -- sh -c 'kill -INT $$'; echo status=$?",
        env!("CARGO_BIN_EXE_pidscope"),
        path.display()
    );
    let out = run(Command::new("sh").args(["-c", &script]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "status=130\n");

    // Started with SIGINT ignored (a shell's background job), it only reports it.
    let script = format!(
        "trap '' INT; exec {} run --pidfile {} -- python3 -c \
         'import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.kill(os.getpid(), signal.SIGINT)'",
        env!("CARGO_BIN_EXE_pidscope"),
        path.display()
    );
    let out = run(Command::new("sh").args(["-c", &script]));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!path.exists());
}

#[test]
fn a_stopped_command_is_woken_to_receive_a_signal_that_ends_it() {
    // Without SIGCONT the TERM would stay pending in the stopped job, and the
    // wrapper (and whoever waits for it: systemd, timeout) would hang.
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let mut running = start(&path, &["sleep", "1000"], "sleep");
    signal(running.job, Signal::SIGSTOP);
    assert!(
        wait_until(TIMEOUT, || process_state(running.job) == Some('T')),
        "the job never stopped"
    );
    signal(running.wrapper.pid(), Signal::SIGTERM);
    let status = finish(&mut running.wrapper);
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(!path.exists());
}

#[test]
fn background_processes_left_by_the_command_keep_the_instance_locked() {
    // They inherited the locked descriptor: while they run, the job is not
    // over, so the file stays (naming the command) and the next run is busy.
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let bg = dir.path().join("bg.pid");
    let script = format!(
        "sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {}; exit 0",
        bg.display()
    );
    let out = run_job(&path, &["sh", "-c", &script]);
    let background: i32 = fs::read_to_string(&bg).unwrap().trim().parse().unwrap();
    let _bg_guard = KillOnDrop::new(background);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("still held by other processes"),
        "{}",
        stderr(&out)
    );
    assert!(path.exists(), "the file went while its lock is held");
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has exited; processes it started still hold the lock"),
        "{}",
        stderr(&out)
    );

    // Once they are gone, the file is stale and the next run recovers it.
    signal(background, Signal::SIGKILL);
    wait_gone(background);
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!path.exists());
}

#[test]
fn a_command_that_handles_a_forwarded_signal_decides_the_status() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let mut running = start(
        &path,
        &[
            "sh",
            "-c",
            "trap 'exit 3' USR1; while :; do sleep 0.05; done",
        ],
        "sh",
    );
    // `comm` is `sh` as soon as the shell has exec'd, before it has run its
    // `trap`: until then USR1 would kill it (status 138).
    wait_for_handler(running.job, Signal::SIGUSR1);
    signal(running.wrapper.pid(), Signal::SIGUSR1);
    let status = finish(&mut running.wrapper);
    assert_eq!(status.code(), Some(3), "wrapper: {status}");
    assert!(!path.exists());
}

#[test]
fn a_stale_pidfile_is_recovered() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "job.pid", &format!("{}\n", dead_pid()));
    assert_eq!(audit_entry(&path)["status"], "stale");
    let out = run_job(&path, &["sh", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!path.exists());

    // A reused PID: the file is older than the process that has the PID now.
    let other = spawn_sleep();
    let path = write_pidfile(dir.path(), "job.pid", &format!("{}\n", other.pid()));
    set_mtime_ago(&path, 3600);
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!path.exists());
}

#[test]
fn a_file_left_by_sigkill_of_wrapper_and_command_is_recovered() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let running = start(&path, &["sleep", "1000"], "sleep");
    let job = running.job;
    drop(running); // SIGKILL to the wrapper's whole process group
    wait_reaped(job);
    assert_eq!(named_pid(&path), Some(job), "the killed job's file is left");
    assert_eq!(audit_entry(&path)["status"], "stale");
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!path.exists());
}

/// Drives `pidscope run` on a pseudo-terminal from Python: the session leader
/// (ignoring SIGINT) starts `pidscope run -- python3 COUNTER` in the
/// terminal's foreground process group; COUNTER logs each SIGINT it gets.
/// The driver types ^C five times, then SIGTERMs the wrapper and prints
/// `ints=N status=S`.
const PTY_DRIVER: &str = r#"
import os, pty, signal, subprocess, sys, time
exe, pidfile, log = sys.argv[1:4]
prefix = sys.argv[4].split() if len(sys.argv) > 4 else []
PRESSES = 5
COUNTER = r'''
import signal, sys, time
log = sys.argv[1]
def on_int(sig, frame):
    with open(log, "a") as f:
        f.write("INT\n")
signal.signal(signal.SIGINT, on_int)
with open(log, "a") as f:
    f.write("ready\n")
while True:
    time.sleep(0.01)
'''
pid, master = pty.fork()
if pid == 0:
    # Session leader on the pty; ^C must not kill it, only the job's group members.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wrapper = subprocess.Popen(
        [exe, "run", "--pidfile", pidfile, "--", *prefix, sys.executable, "-c", COUNTER, log],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os._exit(wrapper.wait() & 0xFF)

def read_log():
    try:
        with open(log) as f:
            return f.read().split()
    except FileNotFoundError:
        return []

deadline = time.time() + 10
while "ready" not in read_log():
    assert time.time() < deadline, "the job never started"
    time.sleep(0.01)
for press in range(1, PRESSES + 1):
    os.write(master, b"\x03")
    # Wait for this ^C to be logged before the next (two pending copies of a
    # signal merge into one); a doubled one shows up as a count above PRESSES.
    deadline = time.time() + 5
    while read_log().count("INT") < press and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
time.sleep(0.2)
ints = read_log().count("INT")
job = int(open(pidfile).read())
wrapper = int(open(f"/proc/{job}/stat").read().rsplit(")", 1)[1].split()[1])
os.kill(wrapper, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print(f"ints={ints} status={os.waitstatus_to_exitcode(status)}")"#;

/// Drive `pidscope run -- [PREFIX...] COUNTER` on a pty, press ^C 5 times,
/// then SIGTERM the wrapper: what the driver reports.
fn terminal_interrupts(prefix: &str) -> String {
    let dir = tempdir();
    let pidfile = dir.path().join("job.pid");
    let log = dir.path().join("log");
    let out = run(Command::new("python3")
        .args(["-c", PTY_DRIVER])
        .arg(env!("CARGO_BIN_EXE_pidscope"))
        .arg(&pidfile)
        .arg(&log)
        .arg(prefix)
        .env("PIDSCOPE_CONFIG", empty_config()));
    assert!(out.status.success(), "driver failed: {}", stderr(&out));
    assert!(!pidfile.exists());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_terminal_interrupt_reaches_the_command_once_not_twice() {
    // ^C makes the kernel signal the whole foreground process group: the job
    // gets it directly, so the wrapper must not forward its own copy. (Two
    // copies sent close together can merge into one, so a wrapper that does
    // forward is caught with high probability, not certainty: 5 presses.)
    assert_eq!(terminal_interrupts(""), "ints=5 status=143");
}

#[test]
fn a_terminal_interrupt_reaches_a_command_in_its_own_session() {
    // `setsid` (like `timeout`) takes the job out of the terminal's foreground
    // group: ^C then reaches only the wrapper, which must pass it on.
    assert_eq!(terminal_interrupts("setsid"), "ints=5 status=143");
}

#[test]
fn a_sigkilled_wrapper_leaves_the_lock_with_its_running_command() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let mut running = start(&path, &["sleep", "1000"], "sleep");
    let job = running.job;
    signal(running.wrapper.pid(), Signal::SIGKILL);
    finish(&mut running.wrapper);

    // The job still runs and holds the lock through the inherited descriptor.
    let entry = audit_locked_by(&path, &[job]);
    assert_eq!(entry["status"], "alive", "{entry}");
    assert_eq!(lock_holders(&entry), vec![i64::from(job)], "{entry}");
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("PID {job}")),
        "{}",
        stderr(&out)
    );

    signal(job, Signal::SIGKILL);
    wait_gone(job);
    let out = run_job(&path, &["true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!path.exists());
}

#[test]
fn a_live_owner_that_holds_no_lock_is_not_replaced() {
    let dir = tempdir();
    let daemon = spawn_sleep();
    let content = format!("{}\n", daemon.pid());
    let path = write_pidfile(dir.path(), "daemon.pid", &content);
    let marker = dir.path().join("ran");
    let out = run_job(&path, &["touch", marker.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("PID {}", daemon.pid())),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn commands_that_cannot_start_give_127_or_126_and_leave_no_file() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let out = run_job(&path, &["pidscope-no-such-command"]);
    assert_eq!(out.status.code(), Some(NOT_FOUND), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("command not found"),
        "{}",
        stderr(&out)
    );
    assert!(!path.exists());

    let script = write_pidfile(dir.path(), "script.sh", "#!/bin/sh\nexit 0\n");
    let out = run_job(&path, &[script.to_str().unwrap()]); // mode 0644: not executable
    assert_eq!(out.status.code(), Some(CANNOT_EXECUTE), "{}", stderr(&out));
    assert!(!path.exists());

    // There, but its interpreter is not: 127 as in bash, and said so.
    // (Written by a child process: a write descriptor of ours inherited by
    // another test's fork would make exec fail with ETXTBSY.)
    let script = dir.path().join("bad.sh");
    let made = Command::new("sh")
        .args([
            "-c",
            "printf '#!/no/such/interpreter\\nexit 0\\n' > \"$1\" && chmod 755 \"$1\"",
            "sh",
        ])
        .arg(&script)
        .status()
        .unwrap();
    assert!(made.success());
    let out = run_job(&path, &[script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(NOT_FOUND), "{}", stderr(&out));
    assert!(stderr(&out).contains("interpreter"), "{}", stderr(&out));
    assert!(!path.exists());
}

#[test]
fn a_file_that_is_not_a_pidfile_is_left_alone() {
    let dir = tempdir();
    let path = write_pidfile(dir.path(), "settings.conf", "[main]\nkey = 1\n");
    let marker = dir.path().join("ran");
    let out = run_job(&path, &["touch", marker.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(FAILED), "{}", stderr(&out));
    assert!(stderr(&out).contains("not overwriting"), "{}", stderr(&out));
    assert!(!marker.exists());
    assert_eq!(fs::read_to_string(&path).unwrap(), "[main]\nkey = 1\n");

    let out = run_job(&dir.path().join("no/such/dir/job.pid"), &["true"]);
    assert_eq!(out.status.code(), Some(FAILED), "{}", stderr(&out));
}

#[test]
fn wait_takes_over_when_the_running_instance_ends_and_gives_up_in_time() {
    let dir = tempdir();
    let path = dir.path().join("job.pid");
    let running = start(&path, &["sleep", "1000"], "sleep");
    // A patient waiter, started first: it is still waiting when the one
    // below has given up, so it has waited longer than that one's 300 ms.
    let mut waiter = Proc::spawn(
        bin()
            .args(["run", "--wait", "20s", "--pidfile"])
            .arg(&path)
            .args(["--", "true"]),
    );

    let started = Instant::now();
    let out = run(bin()
        .args(["run", "--wait", "300ms", "--pidfile"])
        .arg(&path)
        .args(["--", "true"]));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(BUSY), "{}", stderr(&out));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        stderr(&out).contains(&format!("PID {}", running.job)),
        "{}",
        stderr(&out)
    );

    // It found the lock taken and waits: seen sleeping between two attempts.
    let pid = waiter.pid();
    let pausing =
        || fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"));
    let mut paused = false;
    wait_until(TIMEOUT, || {
        paused = pausing();
        paused || waiter.try_wait().is_some()
    });
    assert_eq!(waiter.try_wait(), None, "the waiter did not wait");
    assert!(paused, "the waiter never paused between attempts");
    signal(running.job, Signal::SIGTERM);
    let status = finish(&mut waiter);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(!path.exists());
}

/// `sh -c ': < BARRIER; exec CMD...'`: `cmd` (program, arguments and
/// environment) started once the FIFO `barrier` has been opened for writing.
/// `exec` keeps the PID, so the spawned process's PID is `cmd`'s.
fn behind_barrier(barrier: &Path, cmd: &Command) -> Command {
    let mut sh = Command::new("sh");
    sh.args(["-c", ": < \"$0\"; exec \"$@\""])
        .arg(barrier)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    sh
}

#[test]
fn instances_racing_for_one_pidfile_start_exactly_one_command() {
    let started = Instant::now();
    let dir = tempdir();
    let path = dir.path().join("race.pid");
    let go = dir.path().join("go");
    let log = dir.path().join("ran");
    let barrier = dir.path().join("barrier");
    // The job records that it ran, then waits for the test to let it finish.
    let script = format!(
        "echo $$ >> '{}'; while [ ! -e '{}' ]; do sleep 0.01; done",
        log.display(),
        go.display()
    );
    for round in 0..ROUNDS {
        let _ = fs::remove_file(&go);
        let _ = fs::remove_file(&log);
        let stale = match round % 3 {
            0 => None,
            1 => {
                let pid = dead_pid();
                write_pidfile(dir.path(), "race.pid", &format!("{pid}\n"));
                Some(pid)
            }
            _ => {
                let left = start(&path, &["sleep", "1000"], "sleep");
                let job = left.job;
                drop(left);
                wait_gone(job);
                Some(job)
            }
        };
        let errs: Vec<_> = (0..RACERS)
            .map(|i| dir.path().join(format!("err{i}")))
            .collect();
        // Every racer waits at a barrier before exec'ing `pidscope run`: the
        // opening of a FIFO, which blocks until the test opens its other end.
        let _ = fs::remove_file(&barrier);
        nix::unistd::mkfifo(&barrier, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let mut racers: Vec<Proc> = errs
            .iter()
            .map(|err| {
                Proc::spawn(
                    behind_barrier(&barrier, &run_cmd(&path, &["sh", "-c", &script]))
                        .stderr(fs::File::create(err).unwrap()),
                )
            })
            .collect();
        let mut waiting = Vec::new();
        let all_waiting = wait_until(TIMEOUT, || {
            waiting = racers
                .iter()
                .map(|r| fs::read_to_string(format!("/proc/{}/wchan", r.pid())).unwrap_or_default())
                .collect();
            // Where the kernel blocks the opening of a FIFO with no writer yet.
            waiting
                .iter()
                .all(|w| matches!(w.as_str(), "wait_for_partner" | "fifo_open"))
        });
        assert!(
            all_waiting,
            "round {round}: not every racer reached the barrier (wchan {waiting:?})"
        );
        // Release them all at once; keep the FIFO open until each has gone past
        // it (a racer that opened it after the close would wait forever).
        let release = fs::OpenOptions::new().write(true).open(&barrier).unwrap();
        let past = wait_until(TIMEOUT, || racers.iter().all(|r| comm(r.pid()) != "sh"));
        assert!(past, "round {round}: racers stuck at the barrier");
        drop(release);
        // All but one give up at once.
        let mut finished = vec![None; RACERS];
        assert!(
            wait_until(Duration::from_secs(15), || {
                for (i, racer) in racers.iter_mut().enumerate() {
                    if finished[i].is_none() {
                        finished[i] = racer.try_wait();
                    }
                }
                finished.iter().filter(|f| f.is_some()).count() == RACERS - 1
            }),
            "round {round}: {finished:?}"
        );
        let winner = finished.iter().position(Option::is_none).unwrap();
        let winner_pid = racers[winner].pid();
        // The winner's job may not have logged itself yet, nor been named.
        let mut ran = String::new();
        wait_until(TIMEOUT, || {
            ran = fs::read_to_string(&log).unwrap_or_default();
            ran.ends_with('\n')
                && ran
                    .trim()
                    .parse::<i32>()
                    .is_ok_and(|job| named_pid(&path) == Some(job))
        });
        assert_eq!(ran.lines().count(), 1, "round {round}: jobs {ran:?}");
        let job: i32 = ran.trim().parse().unwrap();
        assert_eq!(named_pid(&path), Some(job), "round {round}");
        for (i, status) in finished.iter().enumerate() {
            if i == winner {
                continue;
            }
            let status = status.unwrap();
            let err = fs::read_to_string(&errs[i]).unwrap();
            assert_eq!(status.code(), Some(BUSY), "round {round}: {err}");
            let named = [Some(winner_pid), Some(job), stale]
                .iter()
                .flatten()
                .any(|p| err.contains(&format!("PID {p} ")) || err.contains(&format!("PID {p}:")))
                || err.contains("another process")
                // Released together, a racer may open the file another has
                // just created and flock it before its creator does: the file
                // is then empty, and it refuses rather than take it over.
                || (stale.is_none() && err.contains("is empty and new"));
            assert!(named, "round {round}: loser said {err:?}");
        }
        fs::write(&go, "").unwrap();
        let status = finish(&mut racers[winner]);
        assert_eq!(status.code(), Some(0), "round {round}");
        assert!(
            !path.exists(),
            "round {round}: the pidfile outlived the job"
        );
        drop(racers);
    }
    eprintln!(
        "{ROUNDS} rounds of {RACERS} racing `pidscope run` in {:?}",
        started.elapsed()
    );
}
