//! The human-readable table of `pidscope audit`.

use std::time::SystemTime;

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::display::{Tone, display_path, escape_controls, file_age, status_bold, status_tone};
use crate::verdict::{Status, entry_unit};

// `clean` and `audit` name these here; the display module owns them.

/// The terminal style of a status word: its tone as an ANSI colour, bold for problems.
pub fn status_style(status: Status) -> Style {
    let color = match status_tone(status) {
        Tone::Good => AnsiColor::Green,
        Tone::Warn => AnsiColor::Yellow,
        Tone::Bad => AnsiColor::Red,
    };
    let style = Style::new().fg_color(Some(color.into()));
    if status_bold(status) {
        style.bold()
    } else {
        style
    }
}

/// Render the report as an aligned table followed by a one-line summary.
/// `color` adds ANSI styles to the status words; the words are always there.
pub fn render(report: &Report, color: bool) -> String {
    const HEADERS: [&str; 8] = [
        "STATUS", "PID", "PROCESS", "USER", "UNIT", "AGE", "PATH", "REASON",
    ];
    let now = SystemTime::now();
    let rows: Vec<[String; 8]> = report
        .entries
        .iter()
        .map(|e| {
            let process = e.process.as_ref();
            let mut reason = escape_controls(&e.reason);
            if !e.warnings.is_empty() {
                let codes: Vec<&str> = e.warnings.iter().map(|w| w.as_str()).collect();
                reason.push_str(&format!(" [{}]", codes.join(", ")));
            }
            [
                e.status.to_string(),
                e.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                process.map_or_else(|| "-".into(), |p| escape_controls(&p.name)),
                process
                    .and_then(|p| p.user.clone().or_else(|| p.uid.map(|u| u.to_string())))
                    .unwrap_or_else(|| "-".into()),
                entry_unit(e).map_or_else(|| "-".into(), escape_controls),
                file_age(e.file.as_ref().map(|f| f.mtime), now),
                display_path(&e.path),
                reason,
            ]
        })
        .collect();

    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String; 8], status: Option<Status>| {
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let text = match (i, status) {
                (0, Some(s)) if color => {
                    let style = status_style(s);
                    format!("{style}{cell}{style:#}")
                }
                _ => cell.clone(),
            };
            if i == 7 {
                out.push_str(&text);
            } else if i == 1 {
                out.push_str(&format!("{}{text}  ", " ".repeat(pad)));
            } else {
                out.push_str(&format!("{text}{}  ", " ".repeat(pad)));
            }
        }
        out.push('\n');
    };
    if !rows.is_empty() {
        line(&HEADERS.map(String::from), None);
        for (row, entry) in rows.iter().zip(&report.entries) {
            line(row, Some(entry.status));
        }
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// `5 pidfiles: 3 alive, 1 stale, 1 invalid; 1 error`.
pub fn summary_line(report: &Report) -> String {
    let summary = report.summary();
    let counts: Vec<String> = Status::ALL
        .iter()
        .filter(|s| summary.count(**s) > 0)
        .map(|s| format!("{} {s}", summary.count(*s)))
        .collect();
    let total = report.entries.len();
    let mut text = match total {
        0 => "no pidfiles found".to_string(),
        1 => format!("1 pidfile: {}", counts.join(", ")),
        n => format!("{n} pidfiles: {}", counts.join(", ")),
    };
    match report.errors.len() {
        0 => {}
        1 => text.push_str("; 1 error"),
        n => text.push_str(&format!("; {n} errors")),
    }
    text
}
