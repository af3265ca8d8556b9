//! The inspector's state and its transitions: `update(state, msg) -> effects`.
//!
//! Pure: no terminal, no files, no processes. The event loop feeds messages in
//! and carries the returned [`Effect`]s out to the worker thread, so every key
//! sequence can be tested without a terminal.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::SystemTime;

use nix::sys::signal::Signal;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};

use super::keys::{Action, KEYMAP, action_for, is_ctrl_c};
use super::layout;
use crate::act::delete::{Confirmation, needs_second_confirmation};
use crate::act::signal::{
    MENU, needs_second_confirmation as needs_untrusted_confirmation, refusal,
};
use crate::report::Report;
use crate::verdict::{Entry, Status};

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
    /// Delete these pidfiles (each re-verified before removal).
    Delete(Vec<(Entry, Confirmation)>),
    /// Signal the owners of these pidfiles (`InUse`: the untrusted-file confirmation was given).
    Signal(Vec<Entry>, Signal, Confirmation),
    /// Leave.
    Quit,
}

/// Which rows the status filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every row.
    All,
    /// Every row that is not alive, or has a warning.
    Problems,
    /// One status.
    Only(Status),
}

impl StatusFilter {
    fn next(self) -> Self {
        match self {
            StatusFilter::All => StatusFilter::Problems,
            StatusFilter::Problems => StatusFilter::Only(Status::ALL[0]),
            StatusFilter::Only(s) => match Status::ALL.iter().position(|x| *x == s) {
                Some(i) if i + 1 < Status::ALL.len() => StatusFilter::Only(Status::ALL[i + 1]),
                _ => StatusFilter::All,
            },
        }
    }

    fn admits(self, entry: &Entry) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Problems => entry.status != Status::Alive || !entry.warnings.is_empty(),
            StatusFilter::Only(s) => entry.status == s,
        }
    }

    /// How the header names it.
    pub fn label(self) -> String {
        match self {
            StatusFilter::All => "all".into(),
            StatusFilter::Problems => "problems".into(),
            StatusFilter::Only(s) => s.to_string(),
        }
    }
}

/// Sortable columns, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Problems first, then by path.
    Status,
    /// PID.
    Pid,
    /// Path.
    Path,
    /// Process name.
    Process,
    /// User.
    User,
    /// CPU %.
    Cpu,
    /// Memory.
    Memory,
    /// Process uptime.
    Uptime,
    /// Pidfile age.
    Age,
}

impl SortColumn {
    const ORDER: [SortColumn; 9] = [
        SortColumn::Status,
        SortColumn::Pid,
        SortColumn::Path,
        SortColumn::Process,
        SortColumn::User,
        SortColumn::Cpu,
        SortColumn::Memory,
        SortColumn::Uptime,
        SortColumn::Age,
    ];

    fn next(self) -> Self {
        let i = Self::ORDER.iter().position(|c| *c == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    /// How the header names it.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Status => "status",
            SortColumn::Pid => "pid",
            SortColumn::Path => "path",
            SortColumn::Process => "process",
            SortColumn::User => "user",
            SortColumn::Cpu => "cpu",
            SortColumn::Memory => "memory",
            SortColumn::Uptime => "uptime",
            SortColumn::Age => "age",
        }
    }
}

/// Which button of a confirmation dialog has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Cancel (the initial focus: Enter alone never destroys anything).
    Cancel,
    /// Confirm.
    Confirm,
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
    /// "Delete these pidfiles?"
    ConfirmDelete {
        /// The pidfiles as the operator saw them.
        targets: Vec<Entry>,
        /// Focused button.
        focus: Button,
    },
    /// The second confirmation for pidfiles whose process is alive (or zombie, or unreadable).
    ConfirmDeleteInUse {
        /// Pidfiles that need only the first confirmation.
        plain: Vec<Entry>,
        /// Pidfiles whose deletion breaks something.
        in_use: Vec<Entry>,
        /// Focused button.
        focus: Button,
    },
    /// Choosing a signal.
    SignalPicker {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// Rows that cannot be signalled, with why.
        skipped: Vec<(PathBuf, String)>,
        /// Highlighted entry of [`MENU`].
        index: usize,
    },
    /// "Send SIGTERM to ...?"
    ConfirmSignal {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// The signal.
        signal: Signal,
        /// Focused button.
        focus: Button,
    },
    /// The second confirmation for owners named by untrusted pidfiles.
    ConfirmSignalUntrusted {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// The signal.
        signal: Signal,
        /// Focused button.
        focus: Button,
    },
}

impl Mode {
    /// A dialog that pins the rows (refreshes wait until it closes).
    pub fn is_dialog(&self) -> bool {
        matches!(
            self,
            Mode::ConfirmDelete { .. }
                | Mode::ConfirmDeleteInUse { .. }
                | Mode::SignalPicker { .. }
                | Mode::ConfirmSignal { .. }
                | Mode::ConfirmSignalUntrusted { .. }
        )
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
    /// Use colour (false under NO_COLOR).
    pub color: bool,
    /// The footer's message: the last action's result.
    pub message: Option<(Level, String)>,
    /// "now", for ages and uptimes (kept in the state so drawing is a pure function).
    pub now: SystemTime,
    /// Terminal size.
    pub size: (u16, u16),
    /// Seconds east of UTC for displayed times (measured once at start, so drawing stays pure).
    pub utc_offset: i32,
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
            color,
            message: None,
            now: SystemTime::now(),
            size: layout::MIN_SIZE,
            utc_offset: 0,
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
            Msg::Terminate => {
                self.quit = true;
                vec![Effect::Quit]
            }
        }
    }

    fn show(&mut self, report: Report) {
        let keep = self.selected_entry().map(|e| e.path.clone());
        let present: HashSet<&PathBuf> = report.entries.iter().map(|e| &e.path).collect();
        self.tagged.retain(|p| present.contains(p));
        self.report = Some(report);
        self.rebuild_rows(keep);
    }

    /// Recompute the visible rows, keeping the selection on `keep` when it is still shown.
    fn rebuild_rows(&mut self, keep: Option<PathBuf>) {
        let Some(report) = &self.report else { return };
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<usize> = report
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| self.status_filter.admits(e) && matches_text(e, &needle))
            .map(|(i, _)| i)
            .collect();
        let now = self.now;
        let sort = self.sort;
        rows.sort_by(|&a, &b| compare(&report.entries[a], &report.entries[b], sort, now));
        if self.reverse {
            rows.reverse();
        }
        let position =
            keep.and_then(|path| rows.iter().position(|&i| report.entries[i].path == path));
        self.rows = rows;
        self.selected = position
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
        self.scroll_into_view();
    }

    fn resort(&mut self) {
        let keep = self.selected_entry().map(|e| e.path.clone());
        self.rebuild_rows(keep);
    }

    /// Rows of the table that fit on screen.
    pub fn page_height(&self) -> usize {
        layout::page_height(self.size)
    }

    fn scroll_into_view(&mut self) {
        let page = self.page_height();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(page));
    }

    fn select(&mut self, index: usize) {
        self.selected = index.min(self.rows.len().saturating_sub(1));
        self.scroll_into_view();
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if is_ctrl_c(key) {
            self.quit = true;
            return vec![Effect::Quit];
        }
        match self.mode.clone() {
            Mode::Normal => self.on_main_key(key),
            Mode::Help => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Mode::FilterInput => {
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        self.filter.clear();
                        self.resort();
                    }
                    KeyCode::Backspace => {
                        self.filter.pop();
                        self.resort();
                    }
                    KeyCode::Char(c) => {
                        self.filter.push(c);
                        self.resort();
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::ConfirmDelete { targets, focus } => match answer(key, focus) {
                Answer::Yes => {
                    let (in_use, plain): (Vec<Entry>, Vec<Entry>) = targets
                        .into_iter()
                        .partition(|e| needs_second_confirmation(e.status));
                    if in_use.is_empty() {
                        self.close_dialog();
                        vec![Effect::Delete(
                            plain.into_iter().map(|e| (e, Confirmation::Once)).collect(),
                        )]
                    } else {
                        self.mode = Mode::ConfirmDeleteInUse {
                            plain,
                            in_use,
                            focus: Button::Cancel,
                        };
                        Vec::new()
                    }
                }
                Answer::No => {
                    self.close_dialog();
                    self.message = Some((Level::Info, "delete cancelled".into()));
                    Vec::new()
                }
                Answer::Focus(focus) => {
                    self.mode = Mode::ConfirmDelete { targets, focus };
                    Vec::new()
                }
                Answer::None => Vec::new(),
            },
            Mode::ConfirmDeleteInUse {
                plain,
                in_use,
                focus,
            } => match answer(key, focus) {
                Answer::Yes => {
                    self.close_dialog();
                    let jobs = plain
                        .into_iter()
                        .map(|e| (e, Confirmation::Once))
                        .chain(in_use.into_iter().map(|e| (e, Confirmation::InUse)))
                        .collect();
                    vec![Effect::Delete(jobs)]
                }
                // `o`: only the others, keeping every pidfile of a live process.
                Answer::None if key.code == KeyCode::Char('o') && !plain.is_empty() => {
                    self.close_dialog();
                    vec![Effect::Delete(
                        plain.into_iter().map(|e| (e, Confirmation::Once)).collect(),
                    )]
                }
                Answer::No => {
                    self.close_dialog();
                    self.message = Some((Level::Info, "delete cancelled: nothing deleted".into()));
                    Vec::new()
                }
                Answer::Focus(focus) => {
                    self.mode = Mode::ConfirmDeleteInUse {
                        plain,
                        in_use,
                        focus,
                    };
                    Vec::new()
                }
                Answer::None => Vec::new(),
            },
            Mode::SignalPicker {
                targets,
                skipped,
                index,
            } => {
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.mode = Mode::SignalPicker {
                            targets,
                            skipped,
                            index: index.saturating_sub(1),
                        }
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.mode = Mode::SignalPicker {
                            targets,
                            skipped,
                            index: (index + 1).min(MENU.len() - 1),
                        }
                    }
                    KeyCode::Enter => {
                        self.mode = Mode::ConfirmSignal {
                            targets,
                            signal: MENU[index],
                            focus: Button::Cancel,
                        }
                    }
                    KeyCode::Esc | KeyCode::Char('n' | 'q') => {
                        self.close_dialog();
                        self.message = Some((Level::Info, "signal cancelled".into()));
                    }
                    _ => {}
                }
                Vec::new()
            }
            Mode::ConfirmSignal {
                targets,
                signal,
                focus,
            } => match answer(key, focus) {
                Answer::Yes if targets.iter().any(needs_untrusted_confirmation) => {
                    self.mode = Mode::ConfirmSignalUntrusted {
                        targets,
                        signal,
                        focus: Button::Cancel,
                    };
                    Vec::new()
                }
                Answer::Yes => {
                    self.close_dialog();
                    vec![Effect::Signal(targets, signal, Confirmation::Once)]
                }
                Answer::No => {
                    self.close_dialog();
                    self.message = Some((Level::Info, "signal cancelled".into()));
                    Vec::new()
                }
                Answer::Focus(focus) => {
                    self.mode = Mode::ConfirmSignal {
                        targets,
                        signal,
                        focus,
                    };
                    Vec::new()
                }
                Answer::None => Vec::new(),
            },
            Mode::ConfirmSignalUntrusted {
                targets,
                signal,
                focus,
            } => match answer(key, focus) {
                Answer::Yes => {
                    self.close_dialog();
                    vec![Effect::Signal(targets, signal, Confirmation::InUse)]
                }
                Answer::No => {
                    self.close_dialog();
                    self.message = Some((Level::Info, "signal cancelled".into()));
                    Vec::new()
                }
                Answer::Focus(focus) => {
                    self.mode = Mode::ConfirmSignalUntrusted {
                        targets,
                        signal,
                        focus,
                    };
                    Vec::new()
                }
                Answer::None => Vec::new(),
            },
        }
    }

    fn close_dialog(&mut self) {
        self.mode = Mode::Normal;
        if let Some(report) = self.pending.take() {
            self.show(report);
        }
    }

    fn on_main_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = action_for(key) else {
            return Vec::new();
        };
        let acts = KEYMAP.iter().any(|b| b.action == action && b.acts);
        if acts && self.read_only {
            self.message = Some((
                Level::Error,
                "read-only mode: deleting and signalling are disabled".into(),
            ));
            return Vec::new();
        }
        let page = self.page_height();
        match action {
            Action::Up => self.select(self.selected.saturating_sub(1)),
            Action::Down => self.select(self.selected + 1),
            Action::PageUp => self.select(self.selected.saturating_sub(page)),
            Action::PageDown => self.select(self.selected + page),
            Action::First => self.select(0),
            Action::Last => self.select(self.rows.len().saturating_sub(1)),
            Action::Filter => self.mode = Mode::FilterInput,
            Action::StatusFilter => {
                self.status_filter = self.status_filter.next();
                self.resort();
            }
            Action::Sort => {
                self.sort = self.sort.next();
                self.resort();
            }
            Action::ReverseSort => {
                self.reverse = !self.reverse;
                self.resort();
            }
            Action::Rescan => return vec![Effect::Rescan],
            Action::Tag => {
                if let Some(path) = self.selected_entry().map(|e| e.path.clone()) {
                    if !self.tagged.remove(&path) {
                        self.tagged.insert(path);
                    }
                    self.select(self.selected + 1);
                }
            }
            Action::Delete => {
                let targets = self.targets();
                if targets.is_empty() {
                    self.message = Some((Level::Error, "nothing selected".into()));
                } else {
                    self.mode = Mode::ConfirmDelete {
                        targets,
                        focus: Button::Cancel,
                    };
                }
            }
            Action::Signal => {
                let (targets, skipped): (Vec<Entry>, Vec<Entry>) = self
                    .targets()
                    .into_iter()
                    .partition(|e| refusal(e).is_none());
                let skipped: Vec<(PathBuf, String)> = skipped
                    .into_iter()
                    .map(|e| {
                        let why = refusal(&e).unwrap_or_default();
                        (e.path, why)
                    })
                    .collect();
                if targets.is_empty() {
                    let why = skipped
                        .first()
                        .map_or("nothing selected".to_string(), |(p, why)| {
                            format!("cannot signal {}: {why}", p.display())
                        });
                    self.message = Some((Level::Error, why));
                } else {
                    self.mode = Mode::SignalPicker {
                        targets,
                        skipped,
                        index: 0,
                    };
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
        }
        Vec::new()
    }

    /// The tagged rows (in display order), else the selected one.
    fn targets(&self) -> Vec<Entry> {
        if self.tagged.is_empty() {
            return self.selected_entry().cloned().into_iter().collect();
        }
        let report = self.report.as_ref();
        report
            .map(|r| {
                r.entries
                    .iter()
                    .filter(|e| self.tagged.contains(&e.path))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn on_mouse(&mut self, mouse: MouseEvent) {
        if !self.mouse || self.mode != Mode::Normal {
            return;
        }
        match mouse.kind {
            MouseEventKind::ScrollUp => self.select(self.selected.saturating_sub(1)),
            MouseEventKind::ScrollDown => self.select(self.selected + 1),
            MouseEventKind::Down(MouseButton::Left) => {
                let hit = layout::table_row_at(self.size, mouse.column, mouse.row);
                if let Some(index) = hit.map(|row| self.offset + row)
                    && index < self.rows.len()
                {
                    self.select(index);
                }
            }
            _ => {}
        }
    }
}

enum Answer {
    Yes,
    No,
    Focus(Button),
    None,
}

/// Keys of a confirmation dialog: `y` confirms, `n`/Esc cancel, Enter activates
/// the focused button, Left/Right/Tab move the focus.
fn answer(key: KeyEvent, focus: Button) -> Answer {
    match key.code {
        KeyCode::Char('y' | 'Y') => Answer::Yes,
        KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Answer::No,
        KeyCode::Enter => match focus {
            Button::Confirm => Answer::Yes,
            Button::Cancel => Answer::No,
        },
        KeyCode::Left
        | KeyCode::Right
        | KeyCode::Tab
        | KeyCode::BackTab
        | KeyCode::Char('h' | 'l') => Answer::Focus(match focus {
            Button::Cancel => Button::Confirm,
            Button::Confirm => Button::Cancel,
        }),
        _ => Answer::None,
    }
}

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

fn matches_text(entry: &Entry, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let process = entry.process.as_ref();
    entry.path.to_string_lossy().to_lowercase().contains(needle)
        || process.is_some_and(|p| p.name.to_lowercase().contains(needle))
        || process
            .and_then(|p| p.user.as_ref())
            .is_some_and(|u| u.to_lowercase().contains(needle))
}

/// Problems first: the order of the status column's sort.
fn severity(status: Status) -> u8 {
    match status {
        Status::Unreadable => 0,
        Status::Invalid => 1,
        Status::Zombie => 2,
        Status::Reused => 3,
        Status::Stale => 4,
        Status::Alive => 5,
    }
}

fn compare(a: &Entry, b: &Entry, sort: SortColumn, now: SystemTime) -> std::cmp::Ordering {
    let pa = a.process.as_ref();
    let pb = b.process.as_ref();
    let by = match sort {
        SortColumn::Status => severity(a.status).cmp(&severity(b.status)),
        SortColumn::Pid => a.pid.cmp(&b.pid),
        SortColumn::Path => a.path.cmp(&b.path),
        SortColumn::Process => pa.map(|p| &p.name).cmp(&pb.map(|p| &p.name)),
        SortColumn::User => pa
            .and_then(|p| p.user.as_ref())
            .cmp(&pb.and_then(|p| p.user.as_ref())),
        SortColumn::Cpu => pb
            .map(|p| p.cpu_percent)
            .partial_cmp(&pa.map(|p| p.cpu_percent))
            .unwrap_or(std::cmp::Ordering::Equal),
        SortColumn::Memory => pb.map(|p| p.memory_bytes).cmp(&pa.map(|p| p.memory_bytes)),
        // Oldest first for both ages.
        SortColumn::Uptime => pa
            .and_then(|p| p.start_time)
            .cmp(&pb.and_then(|p| p.start_time)),
        SortColumn::Age => {
            let mtime = |e: &Entry| e.file.as_ref().map(|f| f.mtime).unwrap_or(now);
            mtime(a).cmp(&mtime(b))
        }
    };
    by.then_with(|| a.path.cmp(&b.path))
}
