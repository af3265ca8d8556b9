//! The interactive inspector: terminal setup, the event loop and its threads.
//!
//! Elm-style: one channel carries every [`Msg`] (keys and mouse from the input
//! thread, reports and action results from the worker, termination signals);
//! the UI thread only updates the [`App`] state and draws it. Scans, deletions
//! and signals run on the worker thread, so input and drawing never wait for
//! I/O. The worker keeps the report current with [`crate::live`]: it sleeps
//! in the kernel until a pidfile changes, a process exits, a job arrives, or
//! the safety-net rescan is due.

pub mod app;
pub mod keys;
pub mod layout;
pub mod ui;

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use crate::act::{Confirmed, Executor};
use crate::inspect::Scanner;
use crate::live::{Live, LiveStatus, Step, Waker};
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
    /// Time between full rescans; `None`: 30 s while the kernel reports
    /// changes, 2 s when it cannot (see [`crate::live`]).
    pub interval: Option<Duration>,
    /// Watch for no events: rescan every `interval` (2 s by default).
    pub poll: bool,
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
    app.utc_offset = crate::display::local_utc_offset();
    let size = terminal.size().map_err(TuiError::Terminal)?;
    app.update(Msg::Resize(size.width, size.height));

    spawn_input_thread(tx.clone());
    let scanner = Scanner::new(options.roots, options.rules)
        .same_namespace(options.same_namespace)
        .systemd(options.unit_dirs)
        .remembering();
    let live = Live::new(scanner, options.interval, !options.poll).map_err(TuiError::Terminal)?;
    let jobs = spawn_worker(live, options.executor, tx);

    loop {
        terminal
            .draw(|frame| ui::view(&app, frame))
            .map_err(TuiError::Terminal)?;
        // Sleep until input, a report, an action's result or a signal.
        let Ok(msg) = rx.recv() else {
            return Ok(());
        };
        panic_for_tests(&msg);
        for effect in app.update(msg) {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Rescan => jobs.send(Job::Scan),
                Effect::Act(actions) => jobs.send(Job::Act(actions)),
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// The worker's inbox: a job, then a wake-up for its event loop.
struct Jobs {
    tx: Sender<Job>,
    waker: Waker,
}

impl Jobs {
    fn send(&self, job: Job) {
        if self.tx.send(job).is_ok() {
            self.waker.wake();
        }
    }
}

/// The worker: keeps the report current, and runs scans and actions one at
/// a time, off the UI thread.
fn spawn_worker(mut live: Live, executor: Option<Executor>, tx: Sender<Msg>) -> Jobs {
    let (jobs, inbox) = mpsc::channel::<Job>();
    let waker = live.waker();
    thread::spawn(move || {
        let outcome = |done: crate::act::Done| Outcome {
            ok: done.ok(),
            text: done.summary(),
        };
        let mut shown: Option<LiveStatus> = None;
        loop {
            let mut msgs = Vec::new();
            match live.wait() {
                Ok(Step::Updated(_)) => msgs.push(Msg::Scanned(live.report().clone())),
                Ok(Step::Woken) => {
                    for job in inbox.try_iter() {
                        msgs.push(match job {
                            Job::Scan => {
                                live.rescan();
                                Msg::Scanned(live.report().clone())
                            }
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
                        });
                    }
                }
                Err(e) => {
                    // Not expected from epoll; poll rather than stop.
                    let why = format!("event loop failed: {e}");
                    msgs.push(Msg::Live(LiveStatus::Polling(why)));
                    thread::sleep(crate::live::POLL_INTERVAL);
                    live.rescan();
                    msgs.push(Msg::Scanned(live.report().clone()));
                }
            }
            // The status first, so a screen showing the report says how it is kept current.
            let status = live.status();
            if shown.as_ref() != Some(&status) {
                shown = Some(status.clone());
                msgs.insert(0, Msg::Live(status));
            }
            for msg in msgs {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    Jobs { tx: jobs, waker }
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
