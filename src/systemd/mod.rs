//! What systemd's own files say about pidfiles, read without systemd: no
//! `systemctl`, no D-Bus, no running manager. So it works the same in a
//! container, on a host without systemd, and in CI.
//!
//! - [`index`]: which service units declare which pidfiles (`PIDFile=`);
//! - a unit's live processes, from [`crate::probe::cgroup`];
//! - [`chase`]: the path to a pidfile as systemd's safe chase walks it.

pub mod chase;
pub mod index;
mod kept;
pub mod name;
mod search;
mod stamp;
pub mod unit_file;

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::probe::cgroup::{CgroupIndex, Hierarchies};
use index::{UnitError, UnitIndex};

/// The systemd view one scan uses: the unit index, and the service cgroups,
/// walked the first time a unit's processes are asked for.
#[derive(Debug)]
pub struct SystemdView {
    dirs: Vec<PathBuf>,
    units: UnitIndex,
    hierarchies: Hierarchies,
    cgroups: OnceLock<CgroupIndex>,
}

impl SystemdView {
    /// Read the units under `dirs` (systemd's search path by default: see
    /// [`index::system_unit_dirs`]) and find this host's cgroup hierarchies.
    pub fn load(dirs: Vec<PathBuf>) -> (SystemdView, Vec<UnitError>) {
        let (units, errors) = kept::index(&dirs);
        let view = SystemdView {
            dirs,
            units,
            hierarchies: Hierarchies::detect(),
            cgroups: OnceLock::new(),
        };
        (view, errors)
    }

    /// The same view for the next scan: the unit index is rebuilt only when
    /// one of its directories changed; the cgroups are walked again when asked.
    pub fn refresh(self) -> (SystemdView, Vec<UnitError>) {
        if self.units.is_outdated() {
            return SystemdView::load(self.dirs);
        }
        let view = SystemdView {
            cgroups: OnceLock::new(),
            ..self
        };
        (view, Vec::new())
    }

    /// The unit index.
    pub fn units(&self) -> &UnitIndex {
        &self.units
    }

    /// The live processes of `unit`, sorted.
    pub fn unit_pids(&self, unit: &str) -> Vec<i32> {
        self.cgroups
            .get_or_init(|| CgroupIndex::build(&self.hierarchies))
            .unit_pids(unit)
    }
}
