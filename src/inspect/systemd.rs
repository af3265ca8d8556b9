//! The systemd facts about one pidfile, gathered before its verdict: the
//! units that declare it, the live processes of the first, and the path to
//! it as systemd's safe chase walks it.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::probe::process::ProcessProbe;
use crate::systemd::SystemdView;
use crate::systemd::chase::{Chase, chase};
use crate::systemd::index::Declaration;
use crate::verdict::Entry;

/// The systemd facts about one pidfile, gathered before its verdict.
pub(super) struct SystemdGathered {
    pub(super) declarations: Vec<Declaration>,
    pub(super) unit_pids: Vec<i32>,
    pub(super) chase: Option<Chase>,
}

impl SystemdGathered {
    /// `cwd`: the working directory, looked up once per scan for the
    /// relative paths (not once per file).
    pub(super) fn of(
        view: &SystemdView,
        entry: &Entry,
        probe: Option<&ProcessProbe>,
        cwd: &OnceLock<Option<PathBuf>>,
    ) -> SystemdGathered {
        let declarations = std::iter::once(&entry.path)
            .chain(&entry.aliases)
            .map(|p| {
                if p.is_absolute() {
                    view.units().declaring(p)
                } else {
                    cwd.get_or_init(|| std::env::current_dir().ok())
                        .as_ref()
                        .and_then(|cwd| std::path::absolute(cwd.join(p)).ok())
                        .map(|p| view.units().declaring(&p))
                        .unwrap_or_default()
                }
            })
            .find(|d| !d.is_empty())
            .unwrap_or_default();
        let first = declarations.first();
        let unit_pids = first.map(|d| view.unit_pids(&d.unit)).unwrap_or_default();
        // The path matters only for a live process outside the unit.
        let live = probe.is_some_and(|p| p.info.is_some());
        let chase = first.filter(|_| live).and_then(|d| chase(&d.path).ok());
        SystemdGathered {
            declarations,
            unit_pids,
            chase,
        }
    }
}
