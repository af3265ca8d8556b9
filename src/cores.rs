//! How many processors this process may use, asked once: a scan shares its
//! reads, its verdicts and its JSON with another thread only when there is
//! a processor to spare.
//!
//! `std::thread::available_parallelism` reads the process's cgroup CPU
//! quota from `/proc` and `/sys` on every call (about 40 µs): one scan asks
//! four times.

use std::sync::OnceLock;

/// How many processors this process may use (at least 1), as the standard
/// library counts them: the affinity mask, capped by a cgroup CPU quota.
pub fn processors() -> usize {
    static PROCESSORS: OnceLock<usize> = OnceLock::new();
    *PROCESSORS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether another thread would get a processor of its own.
pub fn spare() -> bool {
    processors() > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_standard_library_counts() {
        let std = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(processors(), std);
        assert_eq!(processors(), std, "the second call gives the same");
        assert_eq!(spare(), std > 1);
    }
}
