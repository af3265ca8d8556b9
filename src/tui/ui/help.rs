//! The help overlay: the key map, and how dialogs and the mouse work.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::popup::dialog;
use super::theme::Theme;
use crate::tui::keys::KEYMAP;

/// Draw the help overlay over `area`.
pub(super) fn draw(theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("  {:<12}", b.keys), theme.accent()),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "  In dialogs: y confirms, n or Esc cancels, Enter activates the focused",
    ));
    lines.push(Line::raw(
        "  button (Cancel at first), Left/Right/Tab move the focus.",
    ));
    lines.push(Line::raw(
        "  Mouse: wheel scrolls, click selects. Any key closes this help.",
    ));
    dialog(frame, area, "Keys", theme.accent(), lines);
}
