//! The two header lines: what is scanned and when, the counts per status, the view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::display::{clock, display_path};
use crate::live::LiveStatus;
use crate::probe::namespace::PidNamespace;
use crate::tui::app::{App, Mode};
use crate::verdict::Status;

/// Draw the header into `area`.
pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
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
    // Whether changes show as they happen; the footer says why not.
    match &app.live {
        Some(LiveStatus::Live) => first.push(Span::styled("  live", theme.dim())),
        Some(LiveStatus::Polling(_)) => {
            first.push(Span::raw("  "));
            first.push(Span::styled("polling", theme.danger()));
        }
        None => {}
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
        if report.pid_namespace == PidNamespace::Nested && !app.same_namespace {
            // Stale and reused rows are unverifiable here, and never deleted.
            second.push(Span::styled(
                "nested PID namespace: unverifiable",
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
