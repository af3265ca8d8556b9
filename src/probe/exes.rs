//! Which live processes run an executable of a given name: the base name of
//! each `/proc/PID/exe` link, read once per scan and only when a rule asks.

use std::collections::HashMap;

/// The executable name of every process this user may look at.
#[derive(Debug, Default)]
pub struct ExeNames {
    by_name: HashMap<String, Vec<i32>>,
    of_pid: HashMap<i32, String>,
}

impl ExeNames {
    /// Read every `/proc/PID/exe` link (kernel threads and other users'
    /// processes, when not root, have none to read).
    ///
    /// Each link is read relative to one descriptor of `/proc`, into one
    /// buffer: no path is built or looked up from `/` per process, which
    /// counts on a host of thousands of processes.
    pub fn read() -> ExeNames {
        use rustix::fs::{Dir, Mode, OFlags, open, readlinkat_raw};
        let mut names = ExeNames::default();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let Ok(proc) = open("/proc", flags, Mode::empty()) else {
            return names;
        };
        let Ok(dir) = Dir::read_from(&proc) else {
            return names;
        };
        // PATH_MAX bytes and one more: a link that fills it all was cut short.
        let mut target = vec![0u8; 4097];
        let mut link = String::new();
        for entry in dir {
            let Ok(entry) = entry else { break };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            link.clear();
            link.push_str(&pid.to_string());
            link.push_str("/exe");
            let Ok(len) = readlinkat_raw(&proc, link.as_str(), &mut target[..]) else {
                continue;
            };
            if len >= target.len() {
                continue;
            }
            let Some(name) = exe_base_name(&String::from_utf8_lossy(&target[..len])) else {
                continue;
            };
            names.by_name.entry(name.clone()).or_default().push(pid);
            names.of_pid.insert(pid, name);
        }
        names
    }

    /// The live processes whose executable is called `name`, each with
    /// whether its parent's executable is called `name` too.
    pub fn named(&self, name: &str) -> Vec<(i32, bool)> {
        let Some(pids) = self.by_name.get(name) else {
            return Vec::new();
        };
        pids.iter()
            .filter_map(|&pid| {
                let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
                let id = super::identity::parse_stat(&stat)?;
                if id.state.has_exited() {
                    return None;
                }
                let parent_same = self.of_pid.get(&id.ppid).is_some_and(|n| n == name);
                Some((pid, parent_same))
            })
            .collect()
    }
}

/// `/usr/sbin/nginx (deleted)` is `nginx`.
fn exe_base_name(target: &str) -> Option<String> {
    let target = target.strip_suffix(" (deleted)").unwrap_or(target);
    let base = target.rsplit('/').next()?;
    (!base.is_empty()).then(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_drop_the_directory_and_the_deleted_mark() {
        assert_eq!(exe_base_name("/usr/sbin/nginx").as_deref(), Some("nginx"));
        assert_eq!(
            exe_base_name("/usr/bin/redis-server (deleted)").as_deref(),
            Some("redis-server")
        );
        assert_eq!(exe_base_name("/"), None);
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
