//! The signal picker: which rows can be signalled, and the menu of signals.
//!
//! Picking a signal only opens its confirmation dialog; nothing is sent from here.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::{App, Confirm, ConfirmKind, Level, Mode};
use crate::act::MENU;
use crate::verdict::Entry;

impl App {
    /// `k`: open the picker for the targets that can be signalled, or say why none can.
    pub(super) fn start_signal(&mut self) {
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

    /// A key in the picker: move, pick (on to the confirmation), or cancel.
    pub(super) fn on_picker_key(
        &mut self,
        targets: Vec<Entry>,
        skipped: Vec<(PathBuf, String)>,
        index: usize,
        key: KeyEvent,
    ) {
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
                self.mode = Mode::Confirm(Confirm::new(ConfirmKind::Signal {
                    targets,
                    signal: MENU[index],
                }))
            }
            KeyCode::Esc | KeyCode::Char('n' | 'q') => {
                self.close_dialog();
                self.message = Some((Level::Info, "signal cancelled".into()));
            }
            _ => {}
        }
    }
}

/// Why this row's owner can never be signalled from the inspector, if so.
fn refusal(entry: &Entry) -> Option<String> {
    crate::policy::signal::refusal(entry, std::process::id() as i32)
}
