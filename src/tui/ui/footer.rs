//! The footer: the last message, and the keys that work now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::display::escape_controls;
use crate::live::LiveStatus;
use crate::tui::app::{App, Confirm, Level, Mode};
use crate::tui::keys::footer_hints;

/// Draw the footer into `area`.
pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let message = match (&app.mode, &app.message) {
        (Mode::FilterInput, _) => Line::from(format!(
            "/{}▏ Enter keeps the filter, Esc clears it",
            app.filter
        )),
        (_, Some((Level::Error, text))) => Line::styled(escape_controls(text), theme.danger()),
        (_, Some((Level::Info, text))) => Line::raw(escape_controls(text)),
        // With nothing else to say: why changes are polled, not seen at once.
        (_, None) => match &app.live {
            Some(status @ LiveStatus::Polling(_)) => {
                Line::styled(escape_controls(&status.to_string()), theme.danger())
            }
            _ => Line::raw(""),
        },
    };
    // What can be done now: the keys of the open dialog, else of the table.
    let hints: String = match &app.mode {
        Mode::Confirm(_) => Confirm::HINTS.into(),
        Mode::SignalPicker { .. } => "↑↓ choose a signal  Enter pick  Esc cancel".into(),
        Mode::Help => "any key closes the help".into(),
        Mode::FilterInput => "type to filter  Backspace erase  Enter keep  Esc clear".into(),
        Mode::Normal => footer_hints(app.read_only),
    };
    frame.render_widget(
        Paragraph::new(vec![message, Line::styled(hints, theme.dim())]),
        area,
    );
}
