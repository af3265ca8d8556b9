//! Where each part of the screen goes: the header, the table, the detail
//! pane and the footer.
//!
//! Both the state (paging, mouse clicks) and the drawing need these sizes, so
//! they live here, below both, rather than in either.

use ratatui::layout::{Constraint, Layout, Rect};

/// The smallest terminal the full screen fits in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Lines of the header (title, then counts).
const HEADER: u16 = 2;
/// Lines of the detail pane, its top border included.
const DETAIL: u16 = 12;
/// Lines of the footer (message, then key hints).
const FOOTER: u16 = 2;
/// Lines of the table above its first row (the column titles).
const TABLE_TITLES: u16 = 1;

/// Whether a terminal of `size` (width, height) fits the full screen.
pub fn fits(size: (u16, u16)) -> bool {
    size.0 >= MIN_SIZE.0 && size.1 >= MIN_SIZE.1
}

/// The header, table, detail and footer areas of a terminal of `area`, top to bottom.
pub fn areas(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(HEADER),
        Constraint::Min(3),
        Constraint::Length(DETAIL),
        Constraint::Length(FOOTER),
    ])
    .areas(area)
}

/// Where the table (with its column titles) is drawn in a terminal of `area`.
pub fn table_area(area: Rect) -> Rect {
    areas(area)[1]
}

/// How many rows of a table drawn in `table` are visible (below its titles).
pub fn rows_in(table: Rect) -> usize {
    usize::from(table.height.saturating_sub(TABLE_TITLES))
}

/// Rows of the table that fit in a terminal of `size` (width, height); at least one.
pub fn page_height(size: (u16, u16)) -> usize {
    rows_in(table_area(screen(size))).max(1)
}

/// Which visible row of the table (0 = the first below the titles) the cell
/// at `column`, `row` of a terminal of `size` falls on, if any.
pub fn table_row_at(size: (u16, u16), column: u16, row: u16) -> Option<usize> {
    let table = table_area(screen(size));
    let first_row = table.y + TABLE_TITLES;
    let inside = column >= table.x && column < table.x + table.width;
    (inside && row >= first_row && row < table.y + table.height)
        .then(|| usize::from(row - first_row))
}

fn screen(size: (u16, u16)) -> Rect {
    Rect::new(0, 0, size.0, size.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gets_what_the_fixed_parts_leave() {
        let [header, table, detail, footer] = areas(screen((100, 30)));
        assert_eq!((header.y, header.height), (0, 2));
        assert_eq!((table.y, table.height), (2, 14));
        assert_eq!((detail.y, detail.height), (16, 12));
        assert_eq!((footer.y, footer.height), (28, 2));
        assert_eq!(page_height((100, 30)), 13);
        assert_eq!(page_height((80, 24)), 7);
        assert!(page_height((10, 3)) >= 1, "never zero");
    }

    #[test]
    fn clicks_map_to_rows_below_the_titles() {
        assert_eq!(table_row_at((100, 30), 20, 2), None, "the titles");
        assert_eq!(table_row_at((100, 30), 20, 3), Some(0));
        assert_eq!(table_row_at((100, 30), 0, 15), Some(12));
        assert_eq!(table_row_at((100, 30), 20, 16), None, "the detail pane");
        assert_eq!(table_row_at((100, 30), 100, 5), None, "right of the screen");
    }

    #[test]
    fn the_minimum_size_fits() {
        assert!(fits(MIN_SIZE));
        assert!(!fits((79, 24)));
        assert!(!fits((80, 23)));
    }
}
