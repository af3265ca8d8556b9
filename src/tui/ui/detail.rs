//! The detail pane: everything known about the selected pidfile.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::display::{display_path, escape_controls, lock_kind_name, short_age, timestamp};
use crate::probe::locks::LockInfo;
use crate::probe::process::ProcessInfo;
use crate::scan::read::FileInfo;
use crate::tui::app::App;
use crate::verdict::{Entry, SystemdInfo};

/// Draw the details of the selected pidfile into `area`.
pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::new().borders(Borders::TOP).title(" Details ");
    let Some(e) = app.selected_entry() else {
        frame.render_widget(block, area);
        return;
    };
    let mut lines = vec![field("Path", vec![Span::raw(display_path(&e.path))])];
    lines.push(field(
        "Verdict",
        vec![
            Span::styled(e.status.to_string(), theme.status(e.status)),
            Span::raw(format!(": {}", escape_controls(&e.reason))),
        ],
    ));
    if !e.warnings.is_empty() {
        let codes: Vec<&str> = e.warnings.iter().map(|w| w.as_str()).collect();
        lines.push(field(
            "Warnings",
            vec![Span::styled(codes.join(", "), theme.danger())],
        ));
    }
    if let Some(f) = &e.file {
        lines.push(field(
            "File",
            vec![Span::raw(file_text(e, f, app.utc_offset))],
        ));
    }
    match &e.process {
        Some(p) => lines.extend(process_lines(app, e, p)),
        None => lines.push(field("Process", vec![Span::raw("none")])),
    }
    lines.push(field("Lock", vec![Span::raw(lock_text(e.lock.as_deref()))]));
    if let Some(sd) = &e.systemd {
        lines.extend(systemd_lines(theme, sd));
    }
    // Long paths and command lines wrap rather than vanish at the edge.
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// One line of the pane: the bold name in a column of its own, then the value.
fn field(name: &'static str, value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{name:<9}"),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    spans.extend(value);
    Line::from(spans)
}

/// Owner, mode, size and time of the file, and its first line.
fn file_text(e: &Entry, f: &FileInfo, utc_offset: i32) -> String {
    let owner = f
        .owner
        .as_deref()
        .map_or_else(|| f.uid.to_string(), str::to_owned);
    let content = e.first_line.as_deref().map_or_else(String::new, |l| {
        format!("  first line {:?}", escape_controls(l))
    });
    format!(
        "owner {owner}  mode {:04o}  {} bytes  modified {}{content}",
        f.mode,
        f.size,
        timestamp(f.mtime, utc_offset)
    )
}

/// The process the PID names: who and what it is, how it was started, since when.
fn process_lines(app: &App, e: &Entry, p: &ProcessInfo) -> Vec<Line<'static>> {
    let user = p
        .user
        .clone()
        .or_else(|| p.uid.map(|u| u.to_string()))
        .unwrap_or_else(|| "?".into());
    let parent = p
        .parent_pid
        .map_or_else(String::new, |pp| format!("  parent {pp}"));
    let cmd = if p.cmdline.is_empty() {
        format!("[{}]", p.name)
    } else {
        p.cmdline.join(" ")
    };
    let exe = p
        .exe
        .as_ref()
        .map_or_else(|| "-".into(), |x| display_path(x));
    let mut lines = vec![
        field(
            "Process",
            vec![Span::raw(format!(
                "{} (PID {})  user {user}  {}{parent}",
                escape_controls(&p.name),
                e.pid.unwrap_or_default(),
                p.state
            ))],
        ),
        field("Command", vec![Span::raw(escape_controls(&cmd))]),
        field("Exe", vec![Span::raw(exe)]),
    ];
    if let Some(start) = p.start_time {
        lines.push(field(
            "Started",
            vec![Span::raw(format!(
                "{} ({} ago)",
                timestamp(start, app.utc_offset),
                short_age(app.now, start)
            ))],
        ));
    }
    lines
}

/// The declaring units and their `PIDFile=`, the process's unit, and
/// systemd's answer with its rule.
fn systemd_lines(theme: &Theme, sd: &SystemdInfo) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for d in &sd.declarations {
        lines.push(field(
            "Unit",
            vec![Span::raw(format!(
                "{} declares it (PIDFile={}, in {})",
                escape_controls(&d.unit),
                escape_controls(&d.setting),
                display_path(&d.source)
            ))],
        ));
    }
    let runs_in = sd.process_unit.as_deref().map_or_else(
        || "the process runs in no unit".to_string(),
        |u| format!("the process runs in {}", escape_controls(u)),
    );
    let pids = if sd.unit_pids.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = sd.unit_pids.iter().map(i32::to_string).collect();
        format!("; the unit's processes: {}", list.join(", "))
    };
    lines.push(field(
        "In unit",
        vec![Span::raw(format!("{runs_in}{pids}"))],
    ));
    if let Some(answer) = &sd.answer {
        let style = match sd.systemd_accepts {
            Some(false) => theme.danger(),
            _ => Style::new(),
        };
        lines.push(field(
            "systemd",
            vec![Span::styled(escape_controls(answer), style)],
        ));
    }
    lines
}

/// Who holds a lock on the file, and what kind.
fn lock_text(lock: Option<&LockInfo>) -> String {
    let Some(l) = lock else {
        return "not locked".into();
    };
    let holders: Vec<String> = l.holders.iter().map(i32::to_string).collect();
    format!(
        "{} held by PID {}",
        lock_kind_name(l.kind),
        if holders.is_empty() {
            "?".into()
        } else {
            holders.join(", ")
        }
    )
}
