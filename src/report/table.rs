//! The human-readable table of `pidscope audit`.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::SystemTime;

use anstyle::{AnsiColor, Style};

use super::Report;
use crate::display::{Tone, display_path, escape_controls, file_age, status_bold, status_tone};
use crate::verdict::{Entry, Status, entry_unit};

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

const HEADERS: [&str; 8] = [
    "STATUS", "PID", "PROCESS", "USER", "UNIT", "AGE", "PATH", "REASON",
];

/// Render the report as an aligned table followed by a one-line summary.
/// `color` adds ANSI styles to the status words; the words are always there.
pub fn render(report: &Report, color: bool) -> String {
    let mut out = Vec::new();
    // Writing plain text into memory cannot fail.
    let _ = write(report, color, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Stream [`render`]'s text to `out`. A first pass over the entries finds
/// the column widths, a second builds each row again and writes it: one row
/// is held at a time, not the whole table.
pub fn write(report: &Report, color: bool, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let now = SystemTime::now();
    let mut widths = HEADERS.map(str::len);
    for entry in &report.entries {
        for (w, cell) in widths.iter_mut().zip(&cells(entry, now)) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if !report.entries.is_empty() {
        line(&mut out, &widths, &HEADERS.map(Cow::Borrowed), None)?;
        let style = |status| color.then(|| status_style(status));
        for entry in &report.entries {
            line(&mut out, &widths, &cells(entry, now), style(entry.status))?;
        }
    }
    out.write_all(summary_line(report).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// One entry's cells, in the order of [`HEADERS`].
fn cells(e: &Entry, now: SystemTime) -> [Cow<'static, str>; 8] {
    let process = e.process.as_ref();
    let mut reason = escape_controls(&e.reason);
    if !e.warnings.is_empty() {
        let codes: Vec<&str> = e.warnings.iter().map(|w| w.as_str()).collect();
        reason.push_str(&format!(" [{}]", codes.join(", ")));
    }
    let dash = || Cow::Borrowed("-");
    [
        Cow::Owned(e.status.to_string()),
        e.pid.map_or_else(dash, |p| Cow::Owned(p.to_string())),
        process.map_or_else(dash, |p| Cow::Owned(escape_controls(&p.name))),
        process
            .and_then(|p| p.user.clone().or_else(|| p.uid.map(|u| u.to_string())))
            .map_or_else(dash, Cow::Owned),
        entry_unit(e).map_or_else(dash, |u| Cow::Owned(escape_controls(u))),
        Cow::Owned(file_age(e.file.as_ref().map(|f| f.mtime), now)),
        Cow::Owned(display_path(&e.path)),
        Cow::Owned(reason),
    ]
}

/// Write one row padded to `widths`, the status word (the first cell) in
/// `style` when there is one.
fn line(
    out: &mut impl Write,
    widths: &[usize; 8],
    cells: &[Cow<'_, str>; 8],
    style: Option<Style>,
) -> io::Result<()> {
    const SPACES: &[u8] = &[b' '; 64];
    let pad = |out: &mut dyn Write, mut n: usize| -> io::Result<()> {
        while n > 0 {
            let step = n.min(SPACES.len());
            out.write_all(&SPACES[..step])?;
            n -= step;
        }
        Ok(())
    };
    for (i, cell) in cells.iter().enumerate() {
        let fill = widths[i].saturating_sub(cell.chars().count());
        if i == 1 {
            pad(out, fill)?;
        }
        match (i, style) {
            (0, Some(style)) => write!(out, "{style}{cell}{style:#}")?,
            _ => out.write_all(cell.as_bytes())?,
        }
        match i {
            7 => {}
            1 => out.write_all(b"  ")?,
            _ => {
                pad(out, fill)?;
                out.write_all(b"  ")?;
            }
        }
    }
    out.write_all(b"\n")
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
