//! The key map of the main screen: one table drives dispatch, the help overlay
//! and the footer's hints.

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
    /// How the footer advertises it; `None`: only the help lists it.
    pub hint: Option<Hint>,
}

/// A binding's entry in the footer's one line of hints.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    /// Place in the footer, left to right: the footer puts what is used most
    /// first, while the help overlay keeps the key map's order.
    pub order: u8,
    /// Key and a word or two: `d delete`.
    pub label: &'static str,
    /// Shown in read-only mode too (false for what only serves an action).
    pub read_only: bool,
}

impl Hint {
    /// A hint shown in every mode.
    const fn always(order: u8, label: &'static str) -> Option<Hint> {
        Some(Hint {
            order,
            label,
            read_only: true,
        })
    }

    /// A hint hidden in read-only mode.
    const fn acting(order: u8, label: &'static str) -> Option<Hint> {
        Some(Hint {
            order,
            label,
            read_only: false,
        })
    }
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
        hint: Hint::always(1, "↑↓ move"),
    },
    Binding {
        codes: &[KeyCode::Down, KeyCode::Char('j')],
        ctrl: &['n'],
        keys: "Down j ^N",
        help: "next row",
        action: Action::Down,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::PageUp],
        ctrl: &[],
        keys: "PgUp",
        help: "page up",
        action: Action::PageUp,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::PageDown],
        ctrl: &[],
        keys: "PgDn",
        help: "page down",
        action: Action::PageDown,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::Home, KeyCode::Char('g')],
        ctrl: &[],
        keys: "Home g",
        help: "first row",
        action: Action::First,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::End, KeyCode::Char('G')],
        ctrl: &[],
        keys: "End G",
        help: "last row",
        action: Action::Last,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::Char('/')],
        ctrl: &[],
        keys: "/",
        help: "filter by text (path, process, user)",
        action: Action::Filter,
        acts: false,
        hint: Hint::always(5, "/ filter"),
    },
    Binding {
        codes: &[KeyCode::Tab],
        ctrl: &[],
        keys: "Tab",
        help: "status filter: all, problems, each status",
        action: Action::StatusFilter,
        acts: false,
        hint: Hint::always(6, "Tab status"),
    },
    Binding {
        codes: &[KeyCode::Char('s')],
        ctrl: &[],
        keys: "s",
        help: "sort by the next column",
        action: Action::Sort,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::Char('S')],
        ctrl: &[],
        keys: "S",
        help: "reverse the sort order",
        action: Action::ReverseSort,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::Char('r')],
        ctrl: &[],
        keys: "r",
        help: "rescan now",
        action: Action::Rescan,
        acts: false,
        hint: None,
    },
    Binding {
        codes: &[KeyCode::Char(' ')],
        ctrl: &[],
        keys: "Space",
        help: "tag/untag the row for a batch action",
        action: Action::Tag,
        acts: false,
        hint: Hint::acting(2, "Space tag"),
    },
    Binding {
        codes: &[KeyCode::Char('d'), KeyCode::Delete],
        ctrl: &[],
        keys: "d Del",
        help: "delete the selected or tagged pidfiles",
        action: Action::Delete,
        acts: true,
        hint: Hint::acting(3, "d delete"),
    },
    Binding {
        codes: &[KeyCode::Char('k')],
        ctrl: &[],
        keys: "k",
        help: "signal the owners of the selected or tagged rows",
        action: Action::Signal,
        acts: true,
        hint: Hint::acting(4, "k signal"),
    },
    Binding {
        codes: &[KeyCode::Char('?')],
        ctrl: &[],
        keys: "?",
        help: "this help",
        action: Action::Help,
        acts: false,
        hint: Hint::always(7, "? help"),
    },
    Binding {
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        ctrl: &['c'],
        keys: "q Esc ^C",
        help: "quit",
        action: Action::Quit,
        acts: false,
        hint: Hint::always(8, "q quit"),
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

/// The footer's line of hints for the main screen, from the key map:
/// `↑↓ move  Space tag  d delete ...`. In read-only mode the hints for actions
/// give way to a note naming the disabled keys.
pub fn footer_hints(read_only: bool) -> String {
    let mut hints: Vec<Hint> = KEYMAP
        .iter()
        .filter_map(|b| b.hint)
        .filter(|h| h.read_only || !read_only)
        .collect();
    hints.sort_by_key(|h| h.order);
    let labels: Vec<&str> = hints.iter().map(|h| h.label).collect();
    let mut line = labels.join("  ");
    if read_only {
        // Each acting binding by its first key: `d Del` -> `d`.
        let disabled: Vec<&str> = KEYMAP
            .iter()
            .filter(|b| b.acts)
            .filter_map(|b| b.keys.split(' ').next())
            .collect();
        line.push_str(&format!(
            "    read-only: {} are disabled",
            disabled.join(" and ")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_footer_hints_come_from_the_key_map() {
        assert_eq!(
            footer_hints(false),
            "↑↓ move  Space tag  d delete  k signal  / filter  Tab status  ? help  q quit"
        );
        assert_eq!(
            footer_hints(true),
            "↑↓ move  / filter  Tab status  ? help  q quit    read-only: d and k are disabled"
        );
    }

    #[test]
    fn every_acting_binding_is_hidden_in_read_only_mode() {
        for binding in KEYMAP.iter().filter(|b| b.acts) {
            assert!(binding.hint.is_none_or(|h| !h.read_only), "{binding:?}");
        }
    }
}
