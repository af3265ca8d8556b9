//! The frame every dialog is drawn in, and its lists of targets.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

/// A centered rectangle of at most `width` x `height`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// A bordered box of `lines`, centred in `area`, cleared underneath.
pub(super) fn dialog(frame: &mut Frame, area: Rect, title: &str, style: Style, lines: Vec<Line>) {
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, 76, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(format!(" {title} "))
        .border_style(style);
    // No wrapping: the height is the line count, so the buttons always show.
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// Up to `room` lines naming targets, then "... and N more".
pub(super) fn listing<'a>(
    items: impl ExactSizeIterator<Item = Line<'a>>,
    room: usize,
) -> Vec<Line<'a>> {
    let total = items.len();
    let shown = if total > room {
        room.saturating_sub(1)
    } else {
        total
    };
    let mut lines: Vec<Line> = items.take(shown).collect();
    if total > shown {
        lines.push(Line::raw(format!("  … and {} more", total - shown)));
    }
    lines
}
