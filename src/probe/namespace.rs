//! Which PID namespace pidscope runs in, and so whether it sees every
//! process that could have written a pidfile.
//!
//! Evidence, strongest first:
//! 1. `/proc/self/ns/pid` names the kernel's initial PID namespace by its
//!    fixed inode number (`PROC_PID_INIT_INO`, 0xEFFFFFFC, since Linux 3.8):
//!    `pid:[4026531836]`. Any other number is a nested namespace.
//! 2. When that link cannot be read, the initial namespace is the one where
//!    PID 2 is the kernel's `kthreadd` with parent 0; a nested namespace's
//!    PID 2 is an ordinary process, or nothing.
//!
//! Without either, the view counts as nested: pidscope never deletes on a
//! view it cannot vouch for.

use std::path::Path;

use serde::Serialize;

/// The inode number of the initial PID namespace (`PROC_PID_INIT_INO`).
const INITIAL_PID_NS_INODE: u64 = 0xEFFF_FFFC;

/// Which PID namespace a process runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PidNamespace {
    /// The host's: every process on the machine is visible.
    Initial,
    /// A container's (or unknown): processes outside it are invisible, so a
    /// PID that is not seen proves nothing.
    Nested,
}

impl PidNamespace {
    /// The namespace this process runs in.
    pub fn current() -> Self {
        Self::detect(Path::new("/proc"))
    }

    /// The namespace of a process whose `/proc` is mounted at `proc`.
    pub fn detect(proc: &Path) -> Self {
        if let Ok(link) = std::fs::read_link(proc.join("self/ns/pid")) {
            return Self::from_ns_link(&link.to_string_lossy());
        }
        let kthreadd = std::fs::read(proc.join("2/stat"))
            .ok()
            .and_then(|stat| super::identity::parse_stat(&stat))
            .is_some_and(|id| id.comm == "kthreadd" && id.ppid == 0 && id.kernel_thread);
        if kthreadd {
            PidNamespace::Initial
        } else {
            PidNamespace::Nested
        }
    }

    /// Read `pid:[4026531836]`, the target of a `/proc/PID/ns/pid` link.
    pub fn from_ns_link(link: &str) -> Self {
        let inode = link
            .strip_prefix("pid:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse::<u64>().ok());
        if inode == Some(INITIAL_PID_NS_INODE) {
            PidNamespace::Initial
        } else {
            PidNamespace::Nested
        }
    }

    /// `initial` or `nested`.
    pub fn as_str(self) -> &'static str {
        match self {
            PidNamespace::Initial => "initial",
            PidNamespace::Nested => "nested",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_namespace_link() {
        assert_eq!(
            PidNamespace::from_ns_link("pid:[4026531836]"),
            PidNamespace::Initial
        );
        assert_eq!(
            PidNamespace::from_ns_link("pid:[4026532178]"),
            PidNamespace::Nested
        );
        assert_eq!(PidNamespace::from_ns_link("garbage"), PidNamespace::Nested);
    }

    #[test]
    fn without_the_link_kthreadd_decides() {
        let proc = tempfile::tempdir().unwrap();
        assert_eq!(PidNamespace::detect(proc.path()), PidNamespace::Nested);
        std::fs::create_dir(proc.path().join("2")).unwrap();
        std::fs::write(
            proc.path().join("2/stat"),
            "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0",
        )
        .unwrap();
        assert_eq!(PidNamespace::detect(proc.path()), PidNamespace::Initial);
        std::fs::write(
            proc.path().join("2/stat"),
            "2 (sh) S 1 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0",
        )
        .unwrap();
        assert_eq!(PidNamespace::detect(proc.path()), PidNamespace::Nested);
    }
}
