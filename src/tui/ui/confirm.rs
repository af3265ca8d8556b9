//! The confirmation dialogs before a deletion or a signal.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::popup::{dialog, listing};
use super::theme::Theme;
use crate::act::delete::needs_second_confirmation;
use crate::act::signal::signal_label;
use crate::display::{display_path, tail};
use crate::tui::app::Button;
use crate::verdict::Entry;

fn buttons(focus: Button, confirm: &str) -> Line<'static> {
    let style = |on: bool| {
        if on {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new()
        }
    };
    Line::from(vec![
        Span::styled("[ Cancel ]".to_string(), style(focus == Button::Cancel)),
        Span::raw("   "),
        Span::styled(format!("[ {confirm} ]"), style(focus == Button::Confirm)),
    ])
    .alignment(Alignment::Center)
}

fn target_line<'a>(theme: &Theme, e: &Entry) -> Line<'a> {
    Line::from(vec![
        Span::raw("  "),
        Span::styled(
            format!("{:<10}", e.status.to_string()),
            theme.status(e.status),
        ),
        Span::raw(tail(&display_path(&e.path), 60)),
    ])
}

pub(super) fn draw_delete(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    targets: &[Entry],
    focus: Button,
) {
    let n = targets.len();
    let mut lines = vec![Line::raw(format!(
        "Delete {n} pidfile{}?",
        if n == 1 { "" } else { "s" }
    ))];
    lines.extend(listing(targets.iter().map(|e| target_line(theme, e)), 10));
    if targets.iter().any(|e| needs_second_confirmation(e.status)) {
        lines.push(Line::styled(
            "Some belong to live processes: a second confirmation follows.",
            theme.danger(),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(
        Line::raw("y delete   n/Esc cancel   Enter the focused button")
            .alignment(Alignment::Center),
    );
    lines.push(buttons(focus, "Delete"));
    dialog(frame, area, "Delete pidfiles", theme.danger(), lines);
}

pub(super) fn draw_in_use(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    plain: usize,
    in_use: &[Entry],
    focus: Button,
) {
    let mut lines = vec![Line::styled(
        format!(
            "{} {} still exist{}:",
            in_use.len(),
            if in_use.len() == 1 {
                "pidfile belongs to a process that"
            } else {
                "pidfiles belong to processes that"
            },
            if in_use.len() == 1 { "s" } else { "" }
        ),
        theme.danger(),
    )];
    lines.extend(listing(
        in_use.iter().map(|e| {
            let who = e.process.as_ref().map_or_else(String::new, |p| {
                format!("  ({} PID {})", p.name, e.pid.unwrap_or_default())
            });
            Line::from(vec![
                Span::raw("  "),
                Span::styled(
                    format!("{:<10}", e.status.to_string()),
                    theme.status(e.status),
                ),
                Span::raw(tail(&display_path(&e.path), 40)),
                Span::raw(who),
            ])
        }),
        8,
    ));
    lines.push(Line::raw(
        "Without its pidfile a running daemon looks stopped: `stop` and",
    ));
    lines.push(Line::raw(
        "`status` no longer find it, and a second instance can start.",
    ));
    lines.push(Line::raw(""));
    let others = if plain > 0 {
        format!(
            "   o only the {plain} other{}",
            if plain == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    lines.push(
        Line::raw(format!("y delete them too{others}   n/Esc delete nothing"))
            .alignment(Alignment::Center),
    );
    lines.push(buttons(focus, "Delete anyway"));
    dialog(
        frame,
        area,
        "Really delete pidfiles in use?",
        theme.danger(),
        lines,
    );
}

pub(super) fn draw_signal(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    targets: &[Entry],
    signal: nix::sys::signal::Signal,
    focus: Button,
) {
    let mut lines = vec![Line::raw(format!("Send {} to:", signal_label(signal)))];
    lines.extend(listing(
        targets.iter().map(|e| {
            let p = e.process.as_ref();
            Line::raw(format!(
                "  {} PID {}  user {}  ({})",
                p.map_or("?", |p| p.name.as_str()),
                e.pid.unwrap_or_default(),
                p.and_then(|p| p.user.clone()).unwrap_or_else(|| "?".into()),
                tail(&display_path(&e.path), 32)
            ))
        }),
        10,
    ));
    lines.push(Line::raw(""));
    lines.push(
        Line::raw("y send   n/Esc cancel   Enter the focused button").alignment(Alignment::Center),
    );
    lines.push(buttons(focus, "Send"));
    dialog(frame, area, "Confirm signal", theme.danger(), lines);
}

pub(super) fn draw_untrusted(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    targets: &[Entry],
    signal: nix::sys::signal::Signal,
    focus: Button,
) {
    let untrusted: Vec<&Entry> = targets
        .iter()
        .filter(|e| crate::act::signal::needs_second_confirmation(e))
        .collect();
    let mut lines = vec![Line::styled(
        "These pidfiles can be written by users other than the process's owner:",
        theme.danger(),
    )];
    lines.extend(listing(
        untrusted.iter().map(|e| {
            let mode = e.file.as_ref().map_or(0, |f| f.mode);
            let owner = e
                .file
                .as_ref()
                .and_then(|f| f.owner.clone())
                .unwrap_or_else(|| "?".into());
            Line::raw(format!(
                "  {}  (owner {owner}, mode {mode:04o})",
                tail(&display_path(&e.path), 44)
            ))
        }),
        8,
    ));
    lines.push(Line::raw(
        "Whoever can write them chooses which process receives the signal.",
    ));
    lines.push(Line::raw(""));
    lines.push(
        Line::raw(format!(
            "y send {} anyway   n/Esc cancel",
            signal_label(signal)
        ))
        .alignment(Alignment::Center),
    );
    lines.push(buttons(focus, "Send anyway"));
    dialog(frame, area, "Untrusted pidfiles", theme.danger(), lines);
}
