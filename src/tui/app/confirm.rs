//! The yes/no dialogs that stand between a key and a deletion or a signal.
//!
//! One dialog type, [`Confirm`]: every question has the same keys and the
//! same two buttons, so they are handled once here; a [`ConfirmKind`] says
//! what is asked. What a "yes" leads to is decided in one small function per
//! kind (`accept_*` below): the only places where an answer becomes an
//! [`Effect`] that changes the system.

use nix::sys::signal::Signal;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect, Level, Mode};
use crate::act::{Action, Confirmed, Consent};
use crate::policy::delete::needs_second_confirmation;
use crate::policy::signal::{Signalling, may_signal};
use crate::verdict::Entry;

/// The key of the in-use delete dialog's third answer: delete only the
/// pidfiles that are not in use.
pub const ONLY_THE_OTHERS: char = 'o';

/// Which button of a confirmation dialog has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Cancel (the initial focus: Enter alone never destroys anything).
    Cancel,
    /// Confirm.
    Confirm,
}

/// A confirmation dialog: the question and the focused button.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// What is asked.
    pub kind: ConfirmKind,
    /// Focused button.
    pub focus: Button,
}

impl Confirm {
    /// The footer's hints while a confirmation dialog is open.
    pub const HINTS: &str =
        "y confirm  n/Esc cancel  ←→ move focus  Enter activate the focused button";

    /// A dialog asking `kind`, with the focus on Cancel.
    pub fn new(kind: ConfirmKind) -> Self {
        Confirm {
            kind,
            focus: Button::Cancel,
        }
    }
}

/// What a confirmation dialog asks.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    /// "Delete these pidfiles?"
    Delete {
        /// The pidfiles as the operator saw them.
        targets: Vec<Entry>,
    },
    /// The second confirmation for pidfiles whose process is alive (or zombie, or unreadable).
    DeleteInUse {
        /// Pidfiles that need only the first confirmation.
        plain: Vec<Entry>,
        /// Pidfiles whose deletion breaks something.
        in_use: Vec<Entry>,
    },
    /// "Send SIGTERM to ...?"
    Signal {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// The signal.
        signal: Signal,
    },
    /// The second confirmation for owners named by untrusted pidfiles.
    SignalUntrusted {
        /// The pidfiles whose owners will be signalled.
        targets: Vec<Entry>,
        /// The signal.
        signal: Signal,
    },
}

impl ConfirmKind {
    /// The footer's message when the operator says no.
    pub fn cancelled(&self) -> &'static str {
        match self {
            ConfirmKind::Delete { .. } => "delete cancelled",
            ConfirmKind::DeleteInUse { .. } => "delete cancelled: nothing deleted",
            ConfirmKind::Signal { .. } | ConfirmKind::SignalUntrusted { .. } => "signal cancelled",
        }
    }

    /// The key of a third answer besides yes and no, when this dialog offers
    /// one: [`ONLY_THE_OTHERS`] when some of the pidfiles are not in use.
    pub fn third_key(&self) -> Option<char> {
        match self {
            ConfirmKind::DeleteInUse { plain, .. } if !plain.is_empty() => Some(ONLY_THE_OTHERS),
            _ => None,
        }
    }
}

/// Where an answer leads.
enum Next {
    /// Nowhere: the dialog stays as it is.
    Stay,
    /// Another question.
    Ask(ConfirmKind),
    /// The work, confirmed.
    Run(Effect),
}

/// "Yes" to `kind`: the one dispatch from a dialog to the function deciding for that kind.
fn accept(kind: ConfirmKind) -> Next {
    match kind {
        ConfirmKind::Delete { targets } => accept_delete(targets),
        ConfirmKind::DeleteInUse { plain, in_use } => accept_delete_in_use(plain, in_use),
        ConfirmKind::Signal { targets, signal } => accept_signal(targets, signal),
        ConfirmKind::SignalUntrusted { targets, signal } => {
            accept_signal_untrusted(targets, signal)
        }
    }
}

/// The third answer to `kind` (see [`ConfirmKind::third_key`]).
fn accept_third(kind: ConfirmKind) -> Next {
    match kind {
        ConfirmKind::DeleteInUse { plain, .. } => accept_only_the_others(plain),
        _ => Next::Stay,
    }
}

/// "Yes" to deleting `targets`: pidfiles still in use need a second "yes".
fn accept_delete(targets: Vec<Entry>) -> Next {
    let (in_use, plain): (Vec<Entry>, Vec<Entry>) = targets
        .into_iter()
        .partition(|e| needs_second_confirmation(e.status));
    if in_use.is_empty() {
        Next::Run(Effect::Act(confirmed(Action::Delete, plain, Consent::Once)))
    } else {
        Next::Ask(ConfirmKind::DeleteInUse { plain, in_use })
    }
}

/// "Yes" to deleting pidfiles in use too: all of them go.
fn accept_delete_in_use(plain: Vec<Entry>, in_use: Vec<Entry>) -> Next {
    let mut jobs = confirmed(Action::Delete, plain, Consent::Once);
    jobs.extend(confirmed(Action::Delete, in_use, Consent::Twice));
    Next::Run(Effect::Act(jobs))
}

/// [`ONLY_THE_OTHERS`]: delete only the pidfiles not in use, keeping every
/// pidfile of a live process.
fn accept_only_the_others(plain: Vec<Entry>) -> Next {
    Next::Run(Effect::Act(confirmed(Action::Delete, plain, Consent::Once)))
}

/// "Yes" to sending `signal`: owners named by untrusted pidfiles need a second "yes".
fn accept_signal(targets: Vec<Entry>, signal: Signal) -> Next {
    if targets.iter().any(needs_untrusted_confirmation) {
        Next::Ask(ConfirmKind::SignalUntrusted { targets, signal })
    } else {
        Next::Run(Effect::Act(confirmed(
            Action::Signal(signal),
            targets,
            Consent::Once,
        )))
    }
}

/// "Yes" to signalling despite untrusted pidfiles.
fn accept_signal_untrusted(targets: Vec<Entry>, signal: Signal) -> Next {
    Next::Run(Effect::Act(confirmed(
        Action::Signal(signal),
        targets,
        Consent::Twice,
    )))
}

/// The dialog's answer: `action` on each of `targets`, with this consent.
/// The one place the inspector turns a "yes" into confirmed actions.
fn confirmed(action: Action, targets: Vec<Entry>, consent: Consent) -> Vec<Confirmed> {
    targets
        .into_iter()
        .map(|e| Confirmed::by_dialog(action, e, consent))
        .collect()
}

/// Does signalling this row's owner need the second (untrusted-file) confirmation?
pub(crate) fn needs_untrusted_confirmation(entry: &Entry) -> bool {
    may_signal(entry, std::process::id() as i32) == Signalling::NeedsSecondConfirmation
}

impl App {
    /// `d`: ask before deleting the targets.
    pub(super) fn start_delete(&mut self) {
        let targets = self.targets();
        if targets.is_empty() {
            self.message = Some((Level::Error, "nothing selected".into()));
        } else {
            self.mode = Mode::Confirm(Confirm::new(ConfirmKind::Delete { targets }));
        }
    }

    /// A key while `dialog` is open (it is also still in `self.mode`).
    pub(super) fn on_confirm_key(&mut self, dialog: Confirm, key: KeyEvent) -> Vec<Effect> {
        let next = match answer(key, &dialog) {
            Answer::Yes => accept(dialog.kind),
            Answer::Third => accept_third(dialog.kind),
            Answer::No => {
                self.close_dialog();
                self.message = Some((Level::Info, dialog.kind.cancelled().into()));
                return Vec::new();
            }
            Answer::Focus(focus) => {
                self.mode = Mode::Confirm(Confirm { focus, ..dialog });
                return Vec::new();
            }
            Answer::None => Next::Stay,
        };
        match next {
            Next::Stay => Vec::new(),
            Next::Ask(kind) => {
                self.mode = Mode::Confirm(Confirm::new(kind));
                Vec::new()
            }
            Next::Run(effect) => {
                self.close_dialog();
                vec![effect]
            }
        }
    }
}

/// A key of a confirmation dialog, read.
enum Answer {
    Yes,
    No,
    /// The dialog's third answer (its [`ConfirmKind::third_key`]).
    Third,
    Focus(Button),
    None,
}

/// Keys of a confirmation dialog: `y` confirms, `n`/Esc cancel, Enter activates
/// the focused button, Left/Right/Tab move the focus; some dialogs have a third key.
fn answer(key: KeyEvent, dialog: &Confirm) -> Answer {
    let focus = dialog.focus;
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
        KeyCode::Char(c) if dialog.kind.third_key() == Some(c) => Answer::Third,
        _ => Answer::None,
    }
}
