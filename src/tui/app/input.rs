//! Keys and the mouse on the main screen and in the text filter.

use ratatui::crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::{App, Effect, Level, Mode, layout};
use crate::tui::keys::{Action, KEYMAP, action_for, is_ctrl_c};
use crate::verdict::Entry;

impl App {
    /// A key press, whatever is on screen.
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
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
                self.on_filter_key(key);
                Vec::new()
            }
            Mode::Confirm(dialog) => self.on_confirm_key(dialog, key),
            Mode::SignalPicker {
                targets,
                skipped,
                index,
            } => {
                self.on_picker_key(targets, skipped, index, key);
                Vec::new()
            }
        }
    }

    /// Typing the text filter: Enter keeps it, Esc clears it.
    fn on_filter_key(&mut self, key: KeyEvent) {
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
    }

    /// A key on the main screen, through the key map; acting keys are refused in read-only mode.
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
            Action::Delete => self.start_delete(),
            Action::Signal => self.start_signal(),
            Action::Help => self.mode = Mode::Help,
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
        }
        Vec::new()
    }

    /// The tagged rows (in display order), else the selected one.
    pub(super) fn targets(&self) -> Vec<Entry> {
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

    /// The wheel moves the selection, a click selects a row (main screen only).
    pub(super) fn on_mouse(&mut self, mouse: MouseEvent) {
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
