//! The yes/no dialogs that stand between a key and a deletion or a signal.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Effect, Level, Mode};
use crate::act::delete::{Confirmation, needs_second_confirmation};
use crate::act::signal::needs_second_confirmation as needs_untrusted_confirmation;
use crate::verdict::Entry;

/// Which button of a confirmation dialog has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Cancel (the initial focus: Enter alone never destroys anything).
    Cancel,
    /// Confirm.
    Confirm,
}

impl App {
    /// `d`: ask before deleting the targets.
    pub(super) fn start_delete(&mut self) {
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

    /// A key while a dialog is open; `mode` is that dialog.
    pub(super) fn on_dialog_key(&mut self, mode: Mode, key: KeyEvent) -> Vec<Effect> {
        match mode {
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
                self.on_picker_key(targets, skipped, index, key);
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
            Mode::Normal | Mode::Help | Mode::FilterInput => Vec::new(),
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
