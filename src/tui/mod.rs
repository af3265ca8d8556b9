//! The interactive inspector: terminal setup, the event loop and its threads.
//!
//! Elm-style: one channel carries every [`Msg`] (keys and mouse from the input
//! thread, reports and action results from the worker, termination signals);
//! the UI thread only updates the [`App`] state and draws it. Scans, deletions
//! and signals run on the worker thread, so input and drawing never wait for I/O.

pub mod app;
pub mod keys;
pub mod layout;
pub mod ui;

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use crate::act::{Confirmed, Executor};
use crate::inspect::Scanner;
use crate::scan::discover::Rules;
use app::{App, Effect, Msg, Outcome};

/// How the inspector is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Roots to scan.
    pub roots: Vec<PathBuf>,
    /// Walk rules.
    pub rules: Rules,
    /// Patterns, for the empty-state message.
    pub patterns: Vec<String>,
    /// Time between scans.
    pub interval: Duration,
    /// No action can be started.
    pub read_only: bool,
    /// Capture the mouse (wheel and click).
    pub mouse: bool,
    /// Use colour; false draws with bold and reverse video only. The caller
    /// decides (the CLI: no colour when NO_COLOR is set, even to an empty value).
    pub color: bool,
    /// Carries out and records confirmed deletions and signals; `None` in
    /// read-only mode, where nothing can act.
    pub executor: Option<Executor>,
    /// The pidfiles' PIDs belong to pidscope's own PID namespace, even a nested one.
    pub same_namespace: bool,
    /// Where to read systemd units from; `None`: do not look at systemd.
    pub unit_dirs: Option<Vec<PathBuf>>,
}

/// Why the inspector could not run.
#[derive(Debug)]
pub enum TuiError {
    /// Standard output is not a terminal.
    NotATerminal,
    /// The terminal could not be set up or drawn to.
    Terminal(io::Error),
}

impl std::fmt::Display for TuiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TuiError::NotATerminal => write!(
                f,
                "standard output is not a terminal; for scripts and pipes use `pidscope audit` (or `audit --json`)"
            ),
            TuiError::Terminal(e) => write!(f, "terminal error: {e}"),
        }
    }
}

impl std::error::Error for TuiError {}

/// Work for the worker thread.
enum Job {
    Scan,
    Act(Vec<Confirmed>),
}

/// Run the inspector until the operator quits or a termination signal arrives.
pub fn run(options: Options) -> Result<(), TuiError> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    // Signals first: a SIGTERM during setup must still restore the terminal.
    spawn_signal_thread(tx.clone()).map_err(TuiError::Terminal)?;
    let mut terminal = ratatui::try_init().map_err(TuiError::Terminal)?;
    let mouse = options.mouse;
    install_panic_hook(mouse);
    if mouse {
        let _ = execute!(io::stdout(), EnableMouseCapture);
    }
    let result = event_loop(&mut terminal, options, tx, rx);
    restore_terminal(mouse);
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    options: Options,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
) -> Result<(), TuiError> {
    let mut app = App::new(
        options.roots.clone(),
        options.patterns.clone(),
        options.read_only,
        options.color,
    );
    app.mouse = options.mouse;
    app.same_namespace = options.same_namespace;
    app.utc_offset = local_utc_offset();
    let size = terminal.size().map_err(TuiError::Terminal)?;
    app.update(Msg::Resize(size.width, size.height));

    spawn_input_thread(tx.clone());
    let jobs = spawn_worker(
        Scanner::new(options.roots, options.rules)
            .same_namespace(options.same_namespace)
            .systemd(options.unit_dirs)
            .remembering(),
        options.executor,
        tx,
    );
    let mut scanning = jobs.send(Job::Scan).is_ok();
    let mut next_scan = Instant::now() + options.interval;

    loop {
        terminal
            .draw(|frame| ui::view(&app, frame))
            .map_err(TuiError::Terminal)?;
        // Sleep until input, a scan result, a signal, or the next scheduled scan.
        let timeout = next_scan.saturating_duration_since(Instant::now());
        let msg = match rx.recv_timeout(timeout) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                if !scanning {
                    scanning = jobs.send(Job::Scan).is_ok();
                }
                next_scan = Instant::now() + options.interval;
                Msg::Tick(SystemTime::now())
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        if matches!(msg, Msg::Scanned(_)) {
            scanning = false;
        }
        panic_for_tests(&msg);
        for effect in app.update(msg) {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Rescan => {
                    if !scanning {
                        scanning = jobs.send(Job::Scan).is_ok();
                        next_scan = Instant::now() + options.interval;
                    }
                }
                Effect::Act(actions) => {
                    let _ = jobs.send(Job::Act(actions));
                }
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// The worker: scans and actions, one at a time, off the UI thread.
fn spawn_worker(mut scanner: Scanner, executor: Option<Executor>, tx: Sender<Msg>) -> Sender<Job> {
    let (jobs, inbox) = mpsc::channel::<Job>();
    thread::spawn(move || {
        let outcome = |done: crate::act::Done| Outcome {
            ok: done.ok(),
            text: done.summary(),
        };
        for job in inbox {
            let msg = match job {
                Job::Scan => Msg::Scanned(scanner.scan()),
                Job::Act(actions) => Msg::ActionsDone(
                    actions
                        .iter()
                        .map(|action| match &executor {
                            Some(executor) => outcome(executor.execute(action)),
                            None => Outcome {
                                ok: false,
                                text: "read-only mode: nothing can act".into(),
                            },
                        })
                        .collect(),
                ),
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    jobs
}

/// Terminal input, forwarded as messages; blocks in `read` so it costs nothing idle.
fn spawn_input_thread(tx: Sender<Msg>) {
    thread::spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Mouse(mouse)) => Msg::Mouse(mouse),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(_) => Msg::Terminate,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

/// SIGTERM, SIGHUP and SIGINT end the inspector cleanly (terminal restored).
fn spawn_signal_thread(tx: Sender<Msg>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = tx.send(Msg::Terminate);
        }
    });
    Ok(())
}

fn restore_terminal(mouse: bool) {
    if mouse {
        let _ = execute!(io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
}

/// On a panic, give the terminal back before the message is printed.
fn install_panic_hook(mouse: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if mouse {
            let _ = execute!(io::stdout(), DisableMouseCapture);
        }
        // ratatui's own hook (installed by try_init) restores raw mode and the screen.
        previous(info);
    }));
}

/// Debug builds only: with `PIDSCOPE_TEST_PANIC` set, the first key press
/// panics on the UI thread with the variable's text as the message, so the
/// tests can check that a panic gives the terminal back (see
/// [`install_panic_hook`]). Release builds have no such panic; the other
/// debug-only hooks are listed in `act::delete`.
fn panic_for_tests(msg: &Msg) {
    #[cfg(debug_assertions)]
    if matches!(msg, Msg::Key(_))
        && let Some(text) = std::env::var_os("PIDSCOPE_TEST_PANIC")
    {
        panic!("{}", text.to_string_lossy());
    }
    #[cfg(not(debug_assertions))]
    let _ = msg;
}

/// Seconds east of UTC now, from the C library's view of the local time zone.
fn local_utc_offset() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as nix::libc::time_t);
    // SAFETY: tm is plain old data (all-zero is valid); localtime_r only writes into it.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&now, &mut tm).is_null() };
    if ok { tm.tm_gmtoff as i32 } else { 0 }
}
