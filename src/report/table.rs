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
/// the column widths, a second builds each row again and writes it: a few
/// slices of rows are held at a time, not the whole table. From two slices
/// on, this thread and one more share both passes (see
/// [`crate::cores::in_order`]); the rows are written in order.
pub fn write(report: &Report, color: bool, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let now = SystemTime::now();
    let slices: Vec<&[Entry]> = report.entries.chunks(SLICE).collect();
    let helpers = usize::from(slices.len() >= 2 && crate::cores::spare());
    let mut widths = HEADERS.map(str::len);
    let widths_of = |_: &mut (), slice: &[Entry]| {
        let mut widths = [0; 8];
        for entry in slice {
            for (w, cell) in widths.iter_mut().zip(&cells(entry, now)) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths
    };
    crate::cores::in_order(
        ("pidscope-table", None),
        slices.clone(),
        helpers,
        2,
        || (),
        widths_of,
        |found| {
            for (w, f) in widths.iter_mut().zip(found) {
                *w = (*w).max(f);
            }
        },
    );
    if !report.entries.is_empty() {
        line(&mut out, &widths, &HEADERS.map(Cow::Borrowed), None)?;
        let style = |status| color.then(|| status_style(status));
        let rows = |slice: &[Entry]| -> io::Result<Vec<u8>> {
            let mut text = Vec::with_capacity(slice.len() * 160);
            for entry in slice {
                line(&mut text, &widths, &cells(entry, now), style(entry.status))?;
            }
            Ok(text)
        };
        super::write_in_order("pidscope-table", slices, &mut out, rows)?;
    }
    out.write_all(summary_line(report).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Rows built in one go by one thread.
const SLICE: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    /// The table as one thread writes it, row after row.
    fn one_thread(report: &Report, color: bool) -> String {
        let now = SystemTime::now();
        let mut widths = HEADERS.map(str::len);
        for entry in &report.entries {
            for (w, cell) in widths.iter_mut().zip(&cells(entry, now)) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = Vec::new();
        if !report.entries.is_empty() {
            line(&mut out, &widths, &HEADERS.map(Cow::Borrowed), None).unwrap();
            for entry in &report.entries {
                let style = color.then(|| status_style(entry.status));
                line(&mut out, &widths, &cells(entry, now), style).unwrap();
            }
        }
        out.extend_from_slice(summary_line(report).as_bytes());
        out.push(b'\n');
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_built_by_slices_on_two_threads_are_the_tables_bytes() {
        // The widest cells in the last, short slice: every row before it
        // is padded to them.
        let entries: Vec<Entry> = (0..2 * SLICE + 9)
            .map(|i| {
                let path = format!("/run/{}/{i}.pid", "d".repeat(i / 20));
                let status = [Status::Alive, Status::Stale, Status::Invalid][i % 3];
                fixture::entry(path, status)
                    .pid(i as i32 + 1)
                    .reason(&"why ".repeat(i % 7))
                    .build()
            })
            .collect();
        let report = Report {
            roots: vec!["/run".into()],
            entries,
            errors: Vec::new(),
            started_at: SystemTime::now(),
            duration: std::time::Duration::ZERO,
            pid_namespace: crate::probe::namespace::PidNamespace::Initial,
        };
        for color in [false, true] {
            assert_eq!(render(&report, color), one_thread(&report, color));
        }
        let few = Report {
            entries: report.entries[..3].to_vec(),
            ..report.clone()
        };
        assert_eq!(render(&few, false), one_thread(&few, false));
    }
}
