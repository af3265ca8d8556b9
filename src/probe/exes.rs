//! Which live processes run an executable of a given name: the base name of
//! each `/proc/PID/exe` link, read once per scan and only when a rule asks.

use std::ops::Range;

/// The executable name of every process this user may look at.
#[derive(Debug, Default)]
pub struct ExeNames {
    /// Each process, in the order `/proc` lists them, with its name's
    /// place in `text`.
    procs: Vec<(i32, Range<u32>)>,
    /// Every name, one after the other.
    text: String,
    /// Whether `procs` is in strictly increasing PID order (as `/proc` lists them):
    /// a parent is then found by bisection.
    sorted: bool,
    /// The indexes of `procs` in the order of their names (in `/proc`'s
    /// order for one name): the processes of a name are found by bisection,
    /// for each stale pidfile of a scan that asks.
    by_name: Vec<u32>,
}

impl ExeNames {
    /// Read every `/proc/PID/exe` link (kernel threads and other users'
    /// processes, when not root, have none to read).
    ///
    /// Each link is read relative to one descriptor of `/proc`, into one
    /// buffer: no path is built or looked up from `/` per process, which
    /// counts on a host of thousands of processes. The names go into one
    /// text, so a process costs no allocation of its own.
    pub fn read() -> ExeNames {
        use rustix::fs::{Mode, OFlags, RawDir, open, readlinkat_raw};
        use std::mem::MaybeUninit;
        let mut names = ExeNames::default();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let Ok(proc) = open("/proc", flags, Mode::empty()) else {
            return names;
        };
        let mut listing = [MaybeUninit::<u8>::uninit(); 8192];
        let mut dir = RawDir::new(&proc, &mut listing);
        // PATH_MAX bytes and one more: a link that fills it all was cut short.
        let mut target = [0u8; 4097];
        let mut link = [0u8; 32];
        while let Some(entry) = dir.next() {
            let Ok(entry) = entry else { break };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Some(link) = exe_link(pid, &mut link) else {
                continue;
            };
            let Ok(len) = readlinkat_raw(&proc, link, &mut target[..]) else {
                continue;
            };
            if len >= target.len() {
                continue;
            }
            let text = String::from_utf8_lossy(&target[..len]);
            if let Some(name) = exe_base_name(&text) {
                names.push(pid, name);
            }
        }
        names.index();
        names
    }

    /// Index the processes read, by PID and by name.
    fn index(&mut self) {
        self.sorted = self.procs.windows(2).all(|w| w[0].0 < w[1].0);
        let mut by_name: Vec<u32> = (0..self.procs.len() as u32).collect();
        // Stable: one name's processes stay in the order read.
        by_name.sort_by(|&a, &b| {
            self.name(&self.procs[a as usize].1)
                .cmp(self.name(&self.procs[b as usize].1))
        });
        self.by_name = by_name;
    }

    fn push(&mut self, pid: i32, name: &str) {
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.text.len() + name.len()),
        ) else {
            return;
        };
        self.text.push_str(name);
        self.procs.push((pid, start..end));
    }

    fn name(&self, span: &Range<u32>) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// The executable name of process `pid`, if it was read.
    fn of_pid(&self, pid: i32) -> Option<&str> {
        let found = if self.sorted {
            self.procs
                .binary_search_by_key(&pid, |(p, _)| *p)
                .ok()
                .map(|i| &self.procs[i])
        } else {
            self.procs.iter().rev().find(|(p, _)| *p == pid)
        };
        found.map(|(_, span)| self.name(span))
    }

    /// The PIDs read with the executable name `name`, in `/proc`'s order.
    fn pids_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = i32> + 'a {
        let name_at = |k: u32| self.name(&self.procs[k as usize].1);
        let first = self.by_name.partition_point(|&k| name_at(k) < name);
        self.by_name[first..]
            .iter()
            .take_while(move |&&k| name_at(k) == name)
            .map(|&k| self.procs[k as usize].0)
    }

    /// The live processes whose executable is called `name`, each with
    /// whether its parent's executable is called `name` too.
    pub fn named(&self, name: &str) -> Vec<(i32, bool)> {
        self.pids_named(name)
            .filter_map(|pid| {
                let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
                let id = super::identity::parse_stat(&stat)?;
                if id.state.has_exited() {
                    return None;
                }
                let parent_same = self.of_pid(id.ppid).is_some_and(|n| n == name);
                Some((pid, parent_same))
            })
            .collect()
    }
}

/// `PID/exe`, NUL-terminated, in `buf`.
fn exe_link(pid: i32, buf: &mut [u8; 32]) -> Option<&std::ffi::CStr> {
    use std::io::Write;
    let mut rest = &mut buf[..];
    write!(rest, "{pid}/exe\0").ok()?;
    let len = 32 - rest.len();
    std::ffi::CStr::from_bytes_with_nul(&buf[..len]).ok()
}

/// `/usr/sbin/nginx (deleted)` is `nginx`.
fn exe_base_name(target: &str) -> Option<&str> {
    let target = target.strip_suffix(" (deleted)").unwrap_or(target);
    let base = target.rsplit('/').next()?;
    (!base.is_empty()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_drop_the_directory_and_the_deleted_mark() {
        assert_eq!(exe_base_name("/usr/sbin/nginx"), Some("nginx"));
        assert_eq!(
            exe_base_name("/usr/bin/redis-server (deleted)"),
            Some("redis-server")
        );
        assert_eq!(exe_base_name("/"), None);
    }

    #[test]
    fn the_processes_of_a_name_come_in_the_order_read() {
        let mut names = ExeNames::default();
        for (pid, name) in [
            (30, "nginx"),
            (10, "sshd"),
            (20, "nginx"),
            (5, "cron"),
            (40, "nginx"),
        ] {
            names.push(pid, name);
        }
        names.index();
        let named = |name: &str| names.pids_named(name).collect::<Vec<_>>();
        assert_eq!(named("nginx"), [30, 20, 40]);
        assert_eq!(named("sshd"), [10]);
        assert_eq!(named("cron"), [5]);
        assert_eq!(named("ngin"), [] as [i32; 0]);
        assert_eq!(named("zz"), [] as [i32; 0]);
        assert_eq!(names.of_pid(20), Some("nginx"));
        assert_eq!(names.of_pid(7), None);
    }

    #[test]
    fn finds_this_test_binary_by_its_name() {
        let me = std::env::current_exe().unwrap();
        let name = me.file_name().unwrap().to_string_lossy().into_owned();
        let found = ExeNames::read().named(&name);
        assert!(
            found
                .iter()
                .any(|&(pid, _)| pid == std::process::id() as i32),
            "{found:?}"
        );
    }
}
