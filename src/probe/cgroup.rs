//! Which unit a process runs in, and which processes run in a unit, from
//! `/proc/PID/cgroup` and the cgroup file systems alone.
//!
//! On a unified host the `0::` line is the cgroup. On a hybrid host systemd
//! tracks processes in the v1 `name=systemd` hierarchy and `0::` may still
//! say `/`: the `name=systemd` line is read then, and whenever there is no
//! `0::` line (a legacy host).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The cgroup path of a process from the text of `/proc/PID/cgroup`.
pub fn parse_proc_cgroup(text: &str) -> Option<String> {
    let mut unified = None;
    let mut named = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !path.starts_with('/') {
            continue;
        }
        if id == "0" && controllers.is_empty() {
            unified = Some(path);
        } else if controllers.split(',').any(|c| c == "name=systemd") {
            named = Some(path);
        }
    }
    match (unified, named) {
        (Some("/"), Some(named)) => Some(named.to_owned()),
        (Some(unified), _) => Some(unified.to_owned()),
        (None, named) => named.map(str::to_owned),
    }
}

/// The unit of a cgroup path: its innermost component that names a service
/// or a scope; `None` for the root cgroup or a slice.
pub fn unit_of(cgroup: &str) -> Option<&str> {
    cgroup.split('/').rev().find(|c| {
        c.strip_suffix(".service")
            .or_else(|| c.strip_suffix(".scope"))
            .is_some_and(|stem| !stem.is_empty())
    })
}

/// The cgroup hierarchies systemd places units in, from a mount table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchies {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host).
    pub unified: Option<PathBuf>,
    /// Where the v1 `name=systemd` hierarchy is mounted.
    pub named: Option<PathBuf>,
}

impl Hierarchies {
    /// The hierarchies of this host, from `/proc/self/mountinfo`.
    pub fn detect() -> Hierarchies {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| Hierarchies::from_mountinfo(&t))
            .unwrap_or_default()
    }

    /// Read them from the text of a `mountinfo` file: the first cgroup2 mount,
    /// and the first cgroup mount whose super options hold `name=systemd`.
    pub fn from_mountinfo(text: &str) -> Hierarchies {
        let mut out = Hierarchies::default();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut right = right.split(' ');
            let (Some(fstype), _, Some(options)) = (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let mount_point = PathBuf::from(unescape_mount(mount_point));
            if fstype == "cgroup2" && out.unified.is_none() {
                out.unified = Some(mount_point);
            } else if fstype == "cgroup"
                && out.named.is_none()
                && options.split(',').any(|o| o == "name=systemd")
            {
                out.named = Some(mount_point);
            }
        }
        out
    }

    /// Both roots, the v1 `name=systemd` one first when there is one.
    fn roots(&self) -> impl Iterator<Item = &PathBuf> {
        self.named.iter().chain(self.unified.iter())
    }
}

/// `\040` and friends in mount points.
fn unescape_mount(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where each service's cgroup is, found by walking the hierarchies once;
/// the live processes of a unit are read on demand.
#[derive(Debug, Default)]
pub struct CgroupIndex {
    units: HashMap<String, Vec<PathBuf>>,
}

/// How deep to look for a unit's cgroup below a hierarchy's root
/// (`/system.slice/a-b.slice/x.service` is 3 deep).
const MAX_DEPTH: usize = 8;

impl CgroupIndex {
    /// Walk the hierarchies of `roots` for service cgroups.
    pub fn build(hierarchies: &Hierarchies) -> CgroupIndex {
        let mut index = CgroupIndex::default();
        for root in hierarchies.roots() {
            let walk = walkdir::WalkDir::new(root)
                .min_depth(1)
                .max_depth(MAX_DEPTH)
                .follow_links(false)
                .same_file_system(true);
            let mut it = walk.into_iter();
            while let Some(Ok(entry)) = it.next() {
                if !entry.file_type().is_dir() {
                    continue;
                }
                let Some(name) = entry.file_name().to_str() else {
                    continue;
                };
                if name.ends_with(".service") {
                    index
                        .units
                        .entry(name.to_owned())
                        .or_default()
                        .push(entry.path().to_path_buf());
                    // A unit's sub-cgroups belong to it: no other unit starts below.
                    it.skip_current_dir();
                }
            }
        }
        index
    }

    /// The live processes of `unit` (in its cgroup and the cgroups below it),
    /// sorted, in every hierarchy; empty when it has none or they cannot be read.
    pub fn unit_pids(&self, unit: &str) -> Vec<i32> {
        let mut pids = Vec::new();
        for dir in self.units.get(unit).into_iter().flatten() {
            collect_procs(dir, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

fn collect_procs(dir: &Path, pids: &mut Vec<i32>) {
    for entry in walkdir::WalkDir::new(dir)
        .max_depth(MAX_DEPTH)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir()
            && let Ok(text) = std::fs::read_to_string(entry.path().join("cgroup.procs"))
        {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup_is_the_unified_line_unless_systemd_tracks_elsewhere() {
        let unified = "0::/system.slice/nginx.service\n";
        assert_eq!(
            parse_proc_cgroup(unified).as_deref(),
            Some("/system.slice/nginx.service")
        );
        let hybrid = "9:name=systemd:/system.slice/redis-server.service\n4:memory:/x\n0::/\n";
        assert_eq!(
            parse_proc_cgroup(hybrid).as_deref(),
            Some("/system.slice/redis-server.service")
        );
        let agree = "1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n";
        assert_eq!(
            parse_proc_cgroup(agree).as_deref(),
            Some("/system.slice/b.service")
        );
        let legacy = "2:cpu,cpuacct:/\n1:name=systemd:/user.slice/user-0.slice/session-4.scope\n";
        assert_eq!(
            parse_proc_cgroup(legacy).as_deref(),
            Some("/user.slice/user-0.slice/session-4.scope")
        );
        assert_eq!(parse_proc_cgroup("0::/\n").as_deref(), Some("/"));
        assert_eq!(parse_proc_cgroup("garbage\n3:cpu\n"), None);
    }

    #[test]
    fn the_unit_is_the_innermost_service_or_scope() {
        for (path, unit) in [
            ("/system.slice/nginx.service", Some("nginx.service")),
            (
                "/system.slice/postgresql@15-main.service/sub",
                Some("postgresql@15-main.service"),
            ),
            (
                "/user.slice/user-0.slice/session-4.scope",
                Some("session-4.scope"),
            ),
            ("/system.slice/a.service/b.scope", Some("b.scope")),
            ("/system.slice", None),
            ("/", None),
            ("/.service", None),
        ] {
            assert_eq!(unit_of(path), unit, "{path}");
        }
    }

    #[test]
    fn hierarchies_come_from_mountinfo() {
        let text = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
34 30 0:30 / /mnt/with\\040space rw - cgroup2 cgroup2 rw
";
        let h = Hierarchies::from_mountinfo(text);
        assert_eq!(
            h.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            h.named.as_deref(),
            Some(Path::new("/sys/fs/cgroup/systemd"))
        );
        assert_eq!(unescape_mount("/mnt/with\\040space"), "/mnt/with space");
        assert_eq!(
            Hierarchies::from_mountinfo("junk\n"),
            Hierarchies::default()
        );
    }
}
