//! The inspector's styles, with or without colour.

use ratatui::style::{Color, Modifier, Style};

use crate::display::{Tone, status_bold, status_tone};
use crate::verdict::Status;

/// Styles, with or without colour. Without it, problems are bold and the selection reversed.
pub(super) struct Theme {
    /// Use colour (false: bold and reverse video only).
    pub(super) color: bool,
}

impl Theme {
    pub(super) fn status(&self, status: Status) -> Style {
        let style = if status_bold(status) {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        if !self.color {
            return style;
        }
        style.fg(tone_color(status_tone(status)))
    }

    pub(super) fn accent(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.color {
            style.fg(Color::Cyan)
        } else {
            style
        }
    }

    pub(super) fn danger(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.color {
            style.fg(tone_color(Tone::Bad))
        } else {
            style
        }
    }

    pub(super) fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
}

/// The terminal colour of a tone.
fn tone_color(tone: Tone) -> Color {
    match tone {
        Tone::Good => Color::Green,
        Tone::Warn => Color::Yellow,
        Tone::Bad => Color::Red,
    }
}
