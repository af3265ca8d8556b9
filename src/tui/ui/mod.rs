//! Drawing: `view(state) -> frame`. Reads the state, never changes it, never
//! touches the system; only the visible rows are turned into widgets.
//!
//! One file per area of the screen (header, table, detail, footer) and per
//! dialog (confirm, signal picker, help); `theme` holds the styles and `popup`
//! the frame every dialog is drawn in.

mod confirm;
mod detail;
mod footer;
mod header;
mod help;
mod popup;
mod signal_picker;
mod table;
mod theme;

use ratatui::Frame;
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Mode};
use super::layout::{self, MIN_SIZE};
use theme::Theme;

/// Draw the whole screen.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if !layout::fits((area.width, area.height)) {
        let text = format!(
            "Terminal too small: {}x{}, pidscope needs {}x{} (q quits)",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let theme = Theme { color: app.color };
    let [header, table, detail, footer] = layout::areas(area);
    header::draw(app, &theme, frame, header);
    table::draw(app, &theme, frame, table);
    detail::draw(app, &theme, frame, detail);
    footer::draw(app, &theme, frame, footer);
    match &app.mode {
        Mode::Help => help::draw(&theme, frame, area),
        Mode::Confirm(confirm) => confirm::draw(&theme, frame, area, confirm),
        Mode::SignalPicker {
            targets,
            skipped,
            index,
        } => signal_picker::draw(&theme, frame, area, targets.len(), skipped.len(), *index),
        Mode::Normal | Mode::FilterInput => {}
    }
}
