//! The menu of signals.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;

use super::popup::dialog;
use super::theme::Theme;
use crate::act::{MENU, signal_label};

/// Draw the signal picker over `area`.
pub(super) fn draw(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    targets: usize,
    skipped: usize,
    index: usize,
) {
    let mut lines = vec![Line::raw(format!(
        "Signal for {targets} process{}{}:",
        if targets == 1 { "" } else { "es" },
        if skipped > 0 {
            format!(
                " ({skipped} row{} cannot be signalled)",
                if skipped == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    ))];
    for (i, signal) in MENU.iter().enumerate() {
        let marker = if i == index { "> " } else { "  " };
        let style = if i == index {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::styled(
            format!("{marker}{:<12}", signal_label(*signal)),
            style,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw("↑↓ choose   Enter pick   Esc cancel").alignment(Alignment::Center));
    dialog(frame, area, "Send a signal", theme.accent(), lines);
}
