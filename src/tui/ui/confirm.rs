//! The confirmation dialog. Every question shares the frame, the key line's
//! place and the button row; what differs per kind (title, body, key line,
//! the confirm button's label) is a small function each.

use nix::sys::signal::Signal;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::popup::{dialog, listing};
use super::theme::Theme;
use crate::act::signal_label;
use crate::display::{display_path, tail};
use crate::policy::delete::needs_second_confirmation;
use crate::tui::app::needs_untrusted_confirmation;
use crate::tui::app::{Button, Confirm, ConfirmKind};
use crate::verdict::{Entry, Warning};

/// Draw `confirm` over `area`.
pub(super) fn draw(theme: &Theme, frame: &mut Frame, area: Rect, confirm: &Confirm) {
    let kind = &confirm.kind;
    let mut lines = body(theme, kind);
    lines.push(Line::raw(""));
    lines.push(Line::raw(key_line(kind)).alignment(Alignment::Center));
    lines.push(buttons(confirm.focus, confirm_label(kind)));
    dialog(frame, area, title(kind), theme.danger(), lines);
}

/// The dialog's title.
fn title(kind: &ConfirmKind) -> &'static str {
    match kind {
        ConfirmKind::Delete { .. } => "Delete pidfiles",
        ConfirmKind::DeleteInUse { .. } => "Really delete pidfiles in use?",
        ConfirmKind::Signal { .. } => "Confirm signal",
        ConfirmKind::SignalUntrusted { .. } => "Untrusted pidfiles",
    }
}

/// The label of the confirm button.
fn confirm_label(kind: &ConfirmKind) -> &'static str {
    match kind {
        ConfirmKind::Delete { .. } => "Delete",
        ConfirmKind::DeleteInUse { .. } => "Delete anyway",
        ConfirmKind::Signal { .. } => "Send",
        ConfirmKind::SignalUntrusted { .. } => "Send anyway",
    }
}

/// The keys that answer, above the buttons.
fn key_line(kind: &ConfirmKind) -> String {
    match kind {
        ConfirmKind::Delete { .. } => "y delete   n/Esc cancel   Enter the focused button".into(),
        ConfirmKind::DeleteInUse { plain, .. } => {
            let others = kind.third_key().map_or_else(String::new, |key| {
                let n = plain.len();
                format!(
                    "   {key} only the {n} other{}",
                    if n == 1 { "" } else { "s" }
                )
            });
            format!("y delete them too{others}   n/Esc delete nothing")
        }
        ConfirmKind::Signal { .. } => "y send   n/Esc cancel   Enter the focused button".into(),
        ConfirmKind::SignalUntrusted { signal, .. } => {
            format!("y send {} anyway   n/Esc cancel", signal_label(*signal))
        }
    }
}

/// The question and what it is about.
fn body(theme: &Theme, kind: &ConfirmKind) -> Vec<Line<'static>> {
    match kind {
        ConfirmKind::Delete { targets } => delete_body(theme, targets),
        ConfirmKind::DeleteInUse { in_use, .. } => in_use_body(theme, in_use),
        ConfirmKind::Signal { targets, signal } => signal_body(targets, *signal),
        ConfirmKind::SignalUntrusted { targets, .. } => untrusted_body(theme, targets),
    }
}

/// The button row; the focused one is reversed.
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

/// A pidfile in the delete dialog: status, then the end of its path.
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

/// "Delete N pidfiles?", the list, and a warning when a second question follows.
fn delete_body(theme: &Theme, targets: &[Entry]) -> Vec<Line<'static>> {
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
    lines.extend(elsewhere_lines(theme, targets));
    lines
}

/// The targets whose daemon runs under another PID: deleting the file and
/// starting the service would start a second instance.
fn elsewhere_lines(theme: &Theme, targets: &[Entry]) -> Vec<Line<'static>> {
    let elsewhere: Vec<&Entry> = targets
        .iter()
        .filter(|e| e.warnings.contains(Warning::DaemonElsewhere))
        .collect();
    if elsewhere.is_empty() {
        return Vec::new();
    }
    let loud = theme.danger().add_modifier(Modifier::UNDERLINED);
    let mut lines = vec![Line::styled(
        format!(
            "{}: their daemon still runs under another PID:",
            Warning::DaemonElsewhere
        ),
        loud,
    )];
    lines.extend(listing(
        elsewhere
            .iter()
            .map(|e| Line::styled(format!("  {}", tail(&display_path(&e.path), 60)), loud)),
        4,
    ));
    lines.push(Line::styled(
        "Starting the service again would start a second instance.",
        loud,
    ));
    lines
}

/// The pidfiles whose processes still exist, and what deleting them breaks.
fn in_use_body(theme: &Theme, in_use: &[Entry]) -> Vec<Line<'static>> {
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
    lines
}

/// "Send SIGTERM to:" and each process: name, PID, user, pidfile.
fn signal_body(targets: &[Entry], signal: Signal) -> Vec<Line<'static>> {
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
    lines
}

/// The pidfiles others can write, with owner and mode, and why that matters.
fn untrusted_body(theme: &Theme, targets: &[Entry]) -> Vec<Line<'static>> {
    let untrusted: Vec<&Entry> = targets
        .iter()
        .filter(|e| needs_untrusted_confirmation(e))
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
                .and_then(|f| f.owner.as_deref())
                .unwrap_or("?");
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
    lines
}
