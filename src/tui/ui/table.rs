//! The table of pidfiles, one row per visible entry, or why there is none.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use super::theme::Theme;
use crate::display::{display_path, escape_controls, short_age, short_bytes, tail};
use crate::report::Report;
use crate::tui::app::App;
use crate::tui::layout;
use crate::verdict::{Entry, entry_unit};

/// Column widths: the path takes what the others leave.
const WIDTHS: [Constraint; 9] = [
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

/// Width of every column but the path, plus the 8 one-cell gaps between columns.
const NOT_PATH: u16 = 11 + 7 + 10 + 8 + 5 * 4 + 8;

/// The UNIT column, shown after USER when the terminal is wide enough to
/// keep at least this much for the path.
const UNIT_WIDTH: u16 = 14;
const PATH_WITH_UNIT: u16 = 16;

/// The column widths for a table `width` cells wide, and whether the UNIT column is in.
fn widths(width: u16) -> (Vec<Constraint>, bool) {
    let mut widths = WIDTHS.to_vec();
    let unit = width >= NOT_PATH + UNIT_WIDTH + 1 + PATH_WITH_UNIT;
    if unit {
        widths.insert(5, Constraint::Length(UNIT_WIDTH));
    }
    (widths, unit)
}

/// Draw the table into `area`: the visible rows from `app.offset` on.
pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let (widths, unit) = widths(area.width);
    let Some(report) = &app.report else {
        frame.render_widget(
            Table::new(Vec::<Row>::new(), widths).header(titles(unit)),
            area,
        );
        return;
    };
    if app.rows.is_empty() {
        draw_empty(app, report, frame, area, unit);
        return;
    }
    let not_path = NOT_PATH + if unit { UNIT_WIDTH + 1 } else { 0 };
    let path_width = usize::from(area.width.saturating_sub(not_path)).max(8);
    let rows: Vec<Row> = app
        .rows
        .iter()
        .enumerate()
        .skip(app.offset)
        .take(layout::rows_in(area))
        .map(|(index, &i)| {
            let row = row(app, theme, &report.entries[i], path_width, unit);
            if index == app.selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    frame.render_widget(
        Table::new(rows, widths)
            .header(titles(unit))
            .column_spacing(1),
        area,
    );
}

/// The column titles.
fn titles(unit: bool) -> Row<'static> {
    let mut titles = vec![
        " STATUS", "PID", "PATH", "PROCESS", "USER", "CPU%", "MEM", "UP", "AGE",
    ];
    if unit {
        titles.insert(5, "UNIT");
    }
    Row::new(titles).style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

/// No row to show: say whether nothing was found or the filters hide it all.
fn draw_empty(app: &App, report: &Report, frame: &mut Frame, area: Rect, unit: bool) {
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
    let (widths, _) = widths(area.width);
    frame.render_widget(
        Table::new(Vec::<Row>::new(), widths).header(titles(unit)),
        area,
    );
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
}

/// One pidfile's row; `*` before the status marks a tagged row.
fn row<'a>(app: &App, theme: &Theme, e: &Entry, path_width: usize, unit: bool) -> Row<'a> {
    let tag = if app.tagged.contains(&e.path) {
        "*"
    } else {
        " "
    };
    let process = e.process.as_ref();
    let mut cells = vec![
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
    ];
    if unit {
        let name = entry_unit(e).map_or_else(|| "-".into(), escape_controls);
        cells.insert(5, Span::raw(tail(&name, usize::from(UNIT_WIDTH))));
    }
    Row::new(cells)
}
