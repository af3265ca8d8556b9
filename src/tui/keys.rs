//! The key map of the main screen: one table drives both dispatch and the help overlay.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key on the main screen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Select the previous row.
    Up,
    /// Select the next row.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// First row.
    First,
    /// Last row.
    Last,
    /// Start typing a text filter.
    Filter,
    /// Cycle the status filter.
    StatusFilter,
    /// Sort by the next column.
    Sort,
    /// Reverse the sort order.
    ReverseSort,
    /// Rescan now.
    Rescan,
    /// Tag or untag the selected row for a batch action.
    Tag,
    /// Delete the selected or tagged pidfiles.
    Delete,
    /// Signal the owners of the selected or tagged pidfiles.
    Signal,
    /// Show the help overlay.
    Help,
    /// Quit.
    Quit,
}

/// One line of the key map: the keys, how the help shows them, and the action.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys that trigger it (with no modifier but Shift, unless listed in `ctrl`).
    pub codes: &'static [KeyCode],
    /// Keys that trigger it with Ctrl held.
    pub ctrl: &'static [char],
    /// How the help overlay names the keys.
    pub keys: &'static str,
    /// What the help overlay says it does.
    pub help: &'static str,
    /// The action.
    pub action: Action,
    /// Whether it changes the system (disabled in read-only mode).
    pub acts: bool,
}

/// The main screen's key map.
pub const KEYMAP: &[Binding] = &[
    // `k` is kill, as in top and htop: moving up is Up or Ctrl-P.
    Binding {
        codes: &[KeyCode::Up],
        ctrl: &['p'],
        keys: "Up ^P",
        help: "previous row",
        action: Action::Up,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Down, KeyCode::Char('j')],
        ctrl: &['n'],
        keys: "Down j ^N",
        help: "next row",
        action: Action::Down,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::PageUp],
        ctrl: &[],
        keys: "PgUp",
        help: "page up",
        action: Action::PageUp,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::PageDown],
        ctrl: &[],
        keys: "PgDn",
        help: "page down",
        action: Action::PageDown,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Home, KeyCode::Char('g')],
        ctrl: &[],
        keys: "Home g",
        help: "first row",
        action: Action::First,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::End, KeyCode::Char('G')],
        ctrl: &[],
        keys: "End G",
        help: "last row",
        action: Action::Last,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('/')],
        ctrl: &[],
        keys: "/",
        help: "filter by text (path, process, user)",
        action: Action::Filter,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Tab],
        ctrl: &[],
        keys: "Tab",
        help: "status filter: all, problems, each status",
        action: Action::StatusFilter,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('s')],
        ctrl: &[],
        keys: "s",
        help: "sort by the next column",
        action: Action::Sort,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('S')],
        ctrl: &[],
        keys: "S",
        help: "reverse the sort order",
        action: Action::ReverseSort,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('r')],
        ctrl: &[],
        keys: "r",
        help: "rescan now",
        action: Action::Rescan,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char(' ')],
        ctrl: &[],
        keys: "Space",
        help: "tag/untag the row for a batch action",
        action: Action::Tag,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('d'), KeyCode::Delete],
        ctrl: &[],
        keys: "d Del",
        help: "delete the selected or tagged pidfiles",
        action: Action::Delete,
        acts: true,
    },
    Binding {
        codes: &[KeyCode::Char('k')],
        ctrl: &[],
        keys: "k",
        help: "signal the owners of the selected or tagged rows",
        action: Action::Signal,
        acts: true,
    },
    Binding {
        codes: &[KeyCode::Char('?')],
        ctrl: &[],
        keys: "?",
        help: "this help",
        action: Action::Help,
        acts: false,
    },
    Binding {
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        ctrl: &['c'],
        keys: "q Esc ^C",
        help: "quit",
        action: Action::Quit,
        acts: false,
    },
];

/// The action a key press asks for on the main screen.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    KEYMAP.iter().find_map(|b| {
        let hit = if ctrl {
            matches!(key.code, KeyCode::Char(c) if b.ctrl.contains(&c.to_ascii_lowercase()))
        } else {
            b.codes.contains(&key.code)
        };
        hit.then_some(b.action)
    })
}

/// Is this key press Ctrl-C (quits from anywhere)?
pub fn is_ctrl_c(key: KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c' | 'C'))
}
