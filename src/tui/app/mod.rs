//! The inspector's state and its transitions: `update(state, msg) -> effects`.
//!
//! Pure: no terminal, no files, no processes. The event loop feeds messages in
//! and carries the returned [`Effect`]s out to the worker thread, so every key
//! sequence can be tested without a terminal.
//!
//! This file holds the state and the messages; the transitions are split by
//! concern: `rows` (filter, sort, scrolling), `input` (keys and mouse on the
//! main screen), `confirm` (the yes/no dialogs) and `picker` (the signal menu).

mod confirm;
mod input;
mod picker;
mod rows;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::SystemTime;

use ratatui::crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};

use super::layout;
use crate::act::Confirmed;
use crate::live::LiveStatus;
use crate::report::Report;
use crate::verdict::Entry;

pub(crate) use confirm::needs_untrusted_confirmation;
pub use confirm::{Button, Confirm, ConfirmKind, ONLY_THE_OTHERS};
pub use rows::{SortColumn, StatusFilter};

/// Input to [`App::update`].
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key press (repeats and releases are ignored).
    Key(KeyEvent),
    /// A mouse event.
    Mouse(MouseEvent),
    /// The terminal's new size.
    Resize(u16, u16),
    /// A scan finished.
    Scanned(Report),
    /// Results of actions, one line per target.
    ActionsDone(Vec<Outcome>),
    /// Time passed (for ages and the clock in the header).
    Tick(SystemTime),
    /// Whether changes are seen as they happen, or polled and why.
    Live(LiveStatus),
    /// SIGTERM, SIGHUP or SIGINT arrived.
    Terminate,
}

/// The result of one action on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// True when it was carried out.
    pub ok: bool,
    /// What happened, one line.
    pub text: String,
}

/// Work the event loop must carry out for the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Scan now.
    Rescan,
    /// Carry out these confirmed actions (each re-verified before acting).
    Act(Vec<Confirmed>),
    /// Leave.
    Quit,
}

/// What is on screen above the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// The table.
    Normal,
    /// The help overlay.
    Help,
    /// Typing a text filter.
    FilterInput,
    /// A yes/no question before a deletion or a signal.
    Confirm(Confirm),
    /// Choosing a signal.
    SignalPicker {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// Rows that cannot be signalled, with why.
        skipped: Vec<(PathBuf, String)>,
        /// Highlighted entry of [`MENU`](crate::act::MENU).
        index: usize,
    },
}

impl Mode {
    /// A dialog that pins the rows (refreshes wait until it closes).
    pub fn is_dialog(&self) -> bool {
        matches!(self, Mode::Confirm(_) | Mode::SignalPicker { .. })
    }
}

/// Severity of the footer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Done.
    Info,
    /// Refused or failed.
    Error,
}

/// The whole state of the inspector.
#[derive(Debug, Clone)]
pub struct App {
    /// The roots being scanned (for the header and the empty state).
    pub roots: Vec<PathBuf>,
    /// The patterns (for the empty state).
    pub patterns: Vec<String>,
    /// The report on screen; `None` before the first scan.
    pub report: Option<Report>,
    /// A report that arrived while a dialog pinned the rows.
    pub pending: Option<Report>,
    /// Indices into `report.entries` of the visible rows, filtered and sorted.
    pub rows: Vec<usize>,
    /// Index into `rows` of the selected row.
    pub selected: usize,
    /// The first visible row (scrolling).
    pub offset: usize,
    /// Paths tagged for a batch action.
    pub tagged: HashSet<PathBuf>,
    /// The text filter.
    pub filter: String,
    /// The status filter.
    pub status_filter: StatusFilter,
    /// The sort column.
    pub sort: SortColumn,
    /// Reverse the sort.
    pub reverse: bool,
    /// What is on screen.
    pub mode: Mode,
    /// No action can be started.
    pub read_only: bool,
    /// Mouse support on.
    pub mouse: bool,
    /// The operator stated that the pidfiles belong to pidscope's own PID
    /// namespace (`--same-namespace`), nested or not.
    pub same_namespace: bool,
    /// Use colour (false: bold and reverse video only).
    pub color: bool,
    /// The footer's message: the last action's result.
    pub message: Option<(Level, String)>,
    /// "now", for ages and uptimes (kept in the state so drawing is a pure function).
    pub now: SystemTime,
    /// Terminal size.
    pub size: (u16, u16),
    /// Seconds east of UTC for displayed times (measured once at start, so drawing stays pure).
    pub utc_offset: i32,
    /// Whether changes are seen as they happen (`None` until the worker says).
    pub live: Option<LiveStatus>,
    /// Set when the app should end.
    pub quit: bool,
}

impl App {
    /// A fresh state, before the first scan.
    pub fn new(roots: Vec<PathBuf>, patterns: Vec<String>, read_only: bool, color: bool) -> Self {
        App {
            roots,
            patterns,
            report: None,
            pending: None,
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            tagged: HashSet::new(),
            filter: String::new(),
            status_filter: StatusFilter::All,
            sort: SortColumn::Status,
            reverse: false,
            mode: Mode::Normal,
            read_only,
            mouse: true,
            same_namespace: false,
            color,
            message: None,
            now: SystemTime::now(),
            size: layout::MIN_SIZE,
            utc_offset: 0,
            live: None,
            quit: false,
        }
    }

    /// The entry of the selected row.
    pub fn selected_entry(&self) -> Option<&Entry> {
        let report = self.report.as_ref()?;
        self.rows.get(self.selected).map(|&i| &report.entries[i])
    }

    /// The visible entries, in display order.
    pub fn visible(&self) -> impl Iterator<Item = &Entry> {
        let entries = self.report.as_ref().map_or(&[][..], |r| &r.entries[..]);
        self.rows.iter().map(move |&i| &entries[i])
    }

    /// Handle one message; return the work it asks for.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) if key.kind == KeyEventKind::Press => self.on_key(key),
            Msg::Key(_) => Vec::new(),
            Msg::Mouse(mouse) => {
                self.on_mouse(mouse);
                Vec::new()
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.scroll_into_view();
                Vec::new()
            }
            Msg::Scanned(report) => {
                self.now = SystemTime::now().max(report.started_at);
                if self.mode.is_dialog() {
                    self.pending = Some(report);
                } else {
                    self.show(report);
                }
                Vec::new()
            }
            Msg::ActionsDone(outcomes) => {
                self.message = Some(summarise(&outcomes));
                vec![Effect::Rescan]
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Live(status) => {
                self.live = Some(status);
                Vec::new()
            }
            Msg::Terminate => {
                self.quit = true;
                vec![Effect::Quit]
            }
        }
    }

    /// Put a new report on screen; tags and the selection follow their paths.
    fn show(&mut self, report: Report) {
        let keep = self.selected_entry().map(|e| e.path.clone());
        let present: HashSet<&PathBuf> = report.entries.iter().map(|e| &e.path).collect();
        self.tagged.retain(|p| present.contains(p));
        self.report = Some(report);
        self.rebuild_rows(keep);
    }

    /// Close the dialog; a scan that arrived while it was open is shown now.
    fn close_dialog(&mut self) {
        self.mode = Mode::Normal;
        if let Some(report) = self.pending.take() {
            self.show(report);
        }
    }
}

/// One footer line for the results of a batch: the count, and the first failure.
fn summarise(outcomes: &[Outcome]) -> (Level, String) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let level = if failed.is_empty() {
        Level::Info
    } else {
        Level::Error
    };
    if outcomes.len() == 1 {
        return (level, outcomes[0].text.clone());
    }
    let done = outcomes.len() - failed.len();
    let mut text = format!("{done} done, {} refused or failed", failed.len());
    if let Some(first) = failed.first() {
        text.push_str(&format!(": {}", first.text));
    }
    (level, text)
}
