//! Drawing: `view(state) -> frame`. Reads the state, never changes it, never
//! touches the system; only the visible rows are turned into widgets.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table, Wrap};

use super::app::{App, Button, Level, Mode};
use super::keys::{KEYMAP, footer_hints};
use super::layout::{self, MIN_SIZE};
use crate::act::delete::needs_second_confirmation;
use crate::act::signal::{MENU, signal_label};
use crate::display::{
    Tone, clock, display_path, escape_controls, lock_kind_name, short_age, short_bytes,
    status_bold, status_tone, tail, timestamp,
};
use crate::verdict::{Entry, Status};

/// Styles, with or without colour. Without it, problems are bold and the selection reversed.
struct Theme {
    color: bool,
}

impl Theme {
    fn status(&self, status: Status) -> Style {
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

    fn accent(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.color {
            style.fg(Color::Cyan)
        } else {
            style
        }
    }

    fn danger(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.color {
            style.fg(tone_color(Tone::Bad))
        } else {
            style
        }
    }

    fn dim(&self) -> Style {
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
    draw_header(app, &theme, frame, header);
    draw_table(app, &theme, frame, table);
    draw_detail(app, &theme, frame, detail);
    draw_footer(app, &theme, frame, footer);
    match &app.mode {
        Mode::Help => draw_help(&theme, frame, area),
        Mode::ConfirmDelete { targets, focus } => {
            draw_confirm_delete(&theme, frame, area, targets, *focus)
        }
        Mode::ConfirmDeleteInUse {
            plain,
            in_use,
            focus,
        } => draw_confirm_in_use(&theme, frame, area, plain.len(), in_use, *focus),
        Mode::SignalPicker {
            targets,
            skipped,
            index,
        } => draw_signal_picker(&theme, frame, area, targets.len(), skipped.len(), *index),
        Mode::ConfirmSignal {
            targets,
            signal,
            focus,
        } => draw_confirm_signal(&theme, frame, area, targets, *signal, *focus),
        Mode::ConfirmSignalUntrusted {
            targets,
            signal,
            focus,
        } => draw_confirm_untrusted(&theme, frame, area, targets, *signal, *focus),
        Mode::Normal | Mode::FilterInput => {}
    }
}

fn draw_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let roots: Vec<String> = app.roots.iter().map(|r| display_path(r)).collect();
    let mut first = vec![
        Span::styled("pidscope ", theme.accent()),
        Span::raw(roots.join(", ")),
    ];
    match &app.report {
        Some(report) => first.push(Span::raw(format!(
            "  scanned {}",
            clock(report.started_at, app.utc_offset)
        ))),
        None => first.push(Span::raw("  scanning…")),
    }
    if app.read_only {
        first.push(Span::raw("  "));
        first.push(Span::styled(
            "READ-ONLY",
            theme.danger().add_modifier(Modifier::REVERSED),
        ));
    }
    let mut second = Vec::new();
    if let Some(report) = &app.report {
        let summary = report.summary();
        for status in Status::ALL {
            let n = summary.count(status);
            let style = if n > 0 {
                theme.status(status)
            } else {
                theme.dim()
            };
            second.push(Span::styled(format!("{status} {n}"), style));
            second.push(Span::raw("  "));
        }
        if !report.errors.is_empty() {
            second.push(Span::styled(
                format!("errors {}", report.errors.len()),
                theme.danger(),
            ));
            second.push(Span::raw("  "));
        }
    }
    let mut view = format!(
        "  │ show {}  sort {}{}",
        app.status_filter.label(),
        app.sort.label(),
        if app.reverse { "↑" } else { "" }
    );
    if !app.filter.is_empty() || app.mode == Mode::FilterInput {
        view.push_str(&format!("  filter \"{}\"", app.filter));
    }
    first.push(Span::raw(view));
    if !app.tagged.is_empty() {
        second.push(Span::styled(
            format!("tagged {}", app.tagged.len()),
            theme.accent(),
        ));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn draw_table(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let widths = [
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    let header = Row::new([
        " STATUS", "PID", "PATH", "PROCESS", "USER", "CPU%", "MEM", "UP", "AGE",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let Some(report) = &app.report else {
        frame.render_widget(Table::new(Vec::<Row>::new(), widths).header(header), area);
        return;
    };
    if app.rows.is_empty() {
        let why = if report.entries.is_empty() {
            let roots: Vec<String> = app.roots.iter().map(|r| display_path(r)).collect();
            format!(
                "No pidfiles found under {} matching {}.",
                roots.join(", "),
                app.patterns.join(", ")
            )
        } else {
            format!(
                "No pidfile matches the filter ({} hidden). Tab or / changes it.",
                report.entries.len()
            )
        };
        frame.render_widget(Table::new(Vec::<Row>::new(), widths).header(header), area);
        let inner = Rect {
            y: area.y + 2,
            height: area.height.saturating_sub(2),
            ..area
        };
        frame.render_widget(
            Paragraph::new(why)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let path_width = usize::from(area.width.saturating_sub(11 + 7 + 10 + 8 + 5 * 4 + 8)).max(8);
    let page = layout::rows_in(area);
    let rows: Vec<Row> = app
        .rows
        .iter()
        .enumerate()
        .skip(app.offset)
        .take(page)
        .map(|(index, &i)| {
            let e = &report.entries[i];
            let tag = if app.tagged.contains(&e.path) {
                "*"
            } else {
                " "
            };
            let process = e.process.as_ref();
            let mut row = Row::new(vec![
                Span::styled(format!("{tag}{}", e.status), theme.status(e.status)),
                Span::raw(e.pid.map_or_else(|| "-".into(), |p| p.to_string())),
                Span::raw(tail(&display_path(&e.path), path_width)),
                Span::raw(process.map_or_else(|| "-".into(), |p| escape_controls(&p.name))),
                Span::raw(
                    process
                        .and_then(|p| p.user.clone())
                        .unwrap_or_else(|| "-".into()),
                ),
                Span::raw(process.map_or_else(|| "-".into(), |p| format!("{:.1}", p.cpu_percent))),
                Span::raw(process.map_or_else(|| "-".into(), |p| short_bytes(p.memory_bytes))),
                Span::raw(
                    process
                        .and_then(|p| p.start_time)
                        .map_or_else(|| "-".into(), |s| short_age(app.now, s)),
                ),
                Span::raw(
                    e.file
                        .as_ref()
                        .map_or_else(|| "-".into(), |f| short_age(app.now, f.mtime)),
                ),
            ]);
            if index == app.selected {
                row = row.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            row
        })
        .collect();
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        area,
    );
}

fn draw_detail(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::new().borders(Borders::TOP).title(" Details ");
    let Some(e) = app.selected_entry() else {
        frame.render_widget(block, area);
        return;
    };
    let label = |s: &'static str| {
        Span::styled(format!("{s:<9}"), Style::new().add_modifier(Modifier::BOLD))
    };
    let mut lines = vec![Line::from(vec![
        label("Path"),
        Span::raw(display_path(&e.path)),
    ])];
    lines.push(Line::from(vec![
        label("Verdict"),
        Span::styled(e.status.to_string(), theme.status(e.status)),
        Span::raw(format!(": {}", escape_controls(&e.reason))),
    ]));
    if !e.warnings.is_empty() {
        let codes: Vec<&str> = e.warnings.iter().map(|w| w.as_str()).collect();
        lines.push(Line::from(vec![
            label("Warnings"),
            Span::styled(codes.join(", "), theme.danger()),
        ]));
    }
    if let Some(f) = &e.file {
        let owner = f.owner.clone().unwrap_or_else(|| f.uid.to_string());
        let content = e.first_line.as_deref().map_or_else(String::new, |l| {
            format!("  first line {:?}", escape_controls(l))
        });
        lines.push(Line::from(vec![
            label("File"),
            Span::raw(format!(
                "owner {owner}  mode {:04o}  {} bytes  modified {}{content}",
                f.mode,
                f.size,
                timestamp(f.mtime, app.utc_offset)
            )),
        ]));
    }
    match &e.process {
        Some(p) => {
            let user = p
                .user
                .clone()
                .or_else(|| p.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| "?".into());
            let parent = p
                .parent_pid
                .map_or_else(String::new, |pp| format!("  parent {pp}"));
            lines.push(Line::from(vec![
                label("Process"),
                Span::raw(format!(
                    "{} (PID {})  user {user}  {}{parent}",
                    escape_controls(&p.name),
                    e.pid.unwrap_or_default(),
                    p.state
                )),
            ]));
            let cmd = if p.cmdline.is_empty() {
                format!("[{}]", p.name)
            } else {
                p.cmdline.join(" ")
            };
            lines.push(Line::from(vec![
                label("Command"),
                Span::raw(escape_controls(&cmd)),
            ]));
            let exe = p
                .exe
                .as_ref()
                .map_or_else(|| "-".into(), |x| display_path(x));
            lines.push(Line::from(vec![label("Exe"), Span::raw(exe)]));
            if let Some(start) = p.start_time {
                lines.push(Line::from(vec![
                    label("Started"),
                    Span::raw(format!(
                        "{} ({} ago)",
                        timestamp(start, app.utc_offset),
                        short_age(app.now, start)
                    )),
                ]));
            }
        }
        None => lines.push(Line::from(vec![label("Process"), Span::raw("none")])),
    }
    let lock = match &e.lock {
        Some(l) => {
            let holders: Vec<String> = l.holders.iter().map(i32::to_string).collect();
            let kind = lock_kind_name(l.kind);
            format!(
                "{kind} held by PID {}",
                if holders.is_empty() {
                    "?".into()
                } else {
                    holders.join(", ")
                }
            )
        }
        None => "not locked".into(),
    };
    lines.push(Line::from(vec![label("Lock"), Span::raw(lock)]));
    // Long paths and command lines wrap rather than vanish at the edge.
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn draw_footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let message = match (&app.mode, &app.message) {
        (Mode::FilterInput, _) => Line::from(format!(
            "/{}▏ Enter keeps the filter, Esc clears it",
            app.filter
        )),
        (_, Some((Level::Error, text))) => Line::styled(escape_controls(text), theme.danger()),
        (_, Some((Level::Info, text))) => Line::raw(escape_controls(text)),
        (_, None) => Line::raw(""),
    };
    // What can be done now: the keys of the open dialog, else of the table.
    let hints: String = match &app.mode {
        Mode::ConfirmDelete { .. }
        | Mode::ConfirmDeleteInUse { .. }
        | Mode::ConfirmSignal { .. }
        | Mode::ConfirmSignalUntrusted { .. } => {
            "y confirm  n/Esc cancel  ←→ move focus  Enter activate the focused button".into()
        }
        Mode::SignalPicker { .. } => "↑↓ choose a signal  Enter pick  Esc cancel".into(),
        Mode::Help => "any key closes the help".into(),
        Mode::FilterInput => "type to filter  Backspace erase  Enter keep  Esc clear".into(),
        Mode::Normal => footer_hints(app.read_only),
    };
    frame.render_widget(
        Paragraph::new(vec![message, Line::styled(hints, theme.dim())]),
        area,
    );
}

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

fn dialog(frame: &mut Frame, area: Rect, title: &str, style: Style, lines: Vec<Line>) {
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, 76, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(format!(" {title} "))
        .border_style(style);
    // No wrapping: the height is the line count, so the buttons always show.
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

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

/// Up to `room` lines naming targets, then "... and N more".
fn listing<'a>(items: impl ExactSizeIterator<Item = Line<'a>>, room: usize) -> Vec<Line<'a>> {
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

fn draw_confirm_delete(
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

fn draw_confirm_in_use(
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

fn draw_signal_picker(
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    targets: usize,
    skipped: usize,
    index: usize,
) {
    let mut lines = vec![Line::raw(format!(
        "Signal for {targets} process{}{}:",
        if targets == 1 { "" } else { "es" },
        if skipped > 0 {
            format!(
                " ({skipped} row{} cannot be signalled)",
                if skipped == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    ))];
    for (i, signal) in MENU.iter().enumerate() {
        let marker = if i == index { "> " } else { "  " };
        let style = if i == index {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::styled(
            format!("{marker}{:<12}", signal_label(*signal)),
            style,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw("↑↓ choose   Enter pick   Esc cancel").alignment(Alignment::Center));
    dialog(frame, area, "Send a signal", theme.accent(), lines);
}

fn draw_confirm_signal(
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

fn draw_confirm_untrusted(
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

fn draw_help(theme: &Theme, frame: &mut Frame, area: Rect) {
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
