//! How long each phase of a scan took (`PIDSCOPE_TIMINGS=1`).

use std::time::Duration;

/// How long each phase of the last scan took: what `PIDSCOPE_TIMINGS=1`
/// prints. A refresh updates the phases it goes through (probe, locks,
/// classify). Measuring costs a few clock reads per scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Walking the roots.
    pub walk: Duration,
    /// Reading and parsing the pidfiles (or finding them unchanged).
    pub read: Duration,
    /// Loading systemd's units (or checking they are unchanged).
    pub units: Duration,
    /// Probing the named PIDs.
    pub probe: Duration,
    /// Resolving lock holders.
    pub locks: Duration,
    /// Giving each entry its verdict.
    pub classify: Duration,
}

impl Phases {
    /// One line naming each phase with its time in milliseconds, `render`
    /// (the report's rendering, timed by the caller) last.
    pub fn line(&self, render: Duration) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "timings: walk={:.3}ms read={:.3}ms units={:.3}ms probe={:.3}ms locks={:.3}ms classify={:.3}ms render={:.3}ms",
            ms(self.walk),
            ms(self.read),
            ms(self.units),
            ms(self.probe),
            ms(self.locks),
            ms(self.classify),
            ms(render)
        )
    }
}
