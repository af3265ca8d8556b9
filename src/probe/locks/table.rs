//! The system's lock table: parsing `/proc/locks`, and reading it until two
//! reads agree (the kernel does not produce it atomically).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::Path;

use super::{FileKey, LockKind, LockRecord};

/// Parse one line of `/proc/locks` (or the part of an fdinfo `lock:` line after the tab).
///
/// `1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF`; `2: -> POSIX ...` is a waiter
/// and yields `None`, as does anything unparseable.
pub fn parse_lock_line(line: &str) -> Option<LockRecord> {
    let mut fields = line.split_ascii_whitespace();
    fields.next()?; // "N:"
    let kind = match fields.next()? {
        "FLOCK" => LockKind::Flock,
        "POSIX" => LockKind::Posix,
        "OFDLCK" => LockKind::Ofd,
        _ => return None, // a waiter ("->"), LEASE, DELEG...
    };
    let _advisory = fields.next()?;
    let _mode = fields.next()?;
    let pid = fields.next()?.parse().ok()?;
    let mut dev = fields.next()?.split(':');
    let major = u32::from_str_radix(dev.next()?, 16).ok()?;
    let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
    let ino = dev.next()?.parse().ok()?;
    Some(LockRecord {
        kind,
        pid,
        key: FileKey { major, minor, ino },
    })
}

/// The locks of the whole system at one moment, indexed by file.
#[derive(Debug, Default)]
pub struct LockTable {
    by_file: HashMap<FileKey, Vec<LockRecord>>,
}

impl LockTable {
    /// Read `/proc/locks`. An unreadable table is empty: lock details are then unknown.
    ///
    /// The kernel produces the file one page per `read(2)`, and each read
    /// starts over at the next *position* of a list that may have changed
    /// since the previous read: a lock can be missed or seen twice. (Even a
    /// short first read can end early, before a lock with many waiters,
    /// which is one long record.) So the table is read until two full reads
    /// agree. If they never do (after a few
    /// attempts), the result is every lock any attempt saw, which can only
    /// keep a lock released during the reads: `clean` then errs on the safe side.
    pub fn read() -> Self {
        read_settled(Path::new(PROC_LOCKS))
            .map(|t| Self::parse(&t))
            .unwrap_or_default()
    }

    /// Build from the text of `/proc/locks`.
    pub fn parse(text: &str) -> Self {
        let mut by_file: HashMap<FileKey, Vec<LockRecord>> = HashMap::new();
        for record in text.lines().filter_map(parse_lock_line) {
            by_file.entry(record.key).or_default().push(record);
        }
        LockTable { by_file }
    }

    /// The granted locks on one file.
    pub fn on(&self, key: FileKey) -> &[LockRecord] {
        self.by_file.get(&key).map_or(&[], Vec::as_slice)
    }
}

/// Where the kernel lists every file lock.
const PROC_LOCKS: &str = "/proc/locks";

/// Read buffer: one read(2) of a seq_file returns at most one page (or one record).
const READ_BUF: usize = 64 * 1024;

/// Room kept free for each read(2); the buffer doubles below it.
const MIN_SPARE: usize = 16 * 1024;

/// Full reads of a table that changes under the reader before settling for their union.
const MAX_ATTEMPTS: usize = 4;

/// One full read of `path` on one descriptor, reusing `buf`. Even a short
/// first read(2) may stop early: a page ends before the first record that does
/// not fit, and a lock with many waiters is one long record.
fn read_snapshot(path: &Path, buf: &mut Vec<u8>) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut len = 0;
    if buf.len() < READ_BUF {
        buf.resize(READ_BUF, 0);
    }
    loop {
        if buf.len() - len < MIN_SPARE {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// The lock table at `path` as one consistent text, or the union of several reads.
fn read_settled(path: &Path) -> io::Result<String> {
    let mut buf = Vec::new();
    settle(|| read_snapshot(path, &mut buf))
}

/// Picks the text to trust among successive full reads taken from `attempt`.
///
/// Reads are taken until two in a row list the same locks, at most
/// [`MAX_ATTEMPTS`]; then the union of every read's locks. Only an error on
/// the first read is returned (a later one settles for what was read).
fn settle(mut attempt: impl FnMut() -> io::Result<String>) -> io::Result<String> {
    let mut texts = vec![attempt()?];
    while texts.len() < MAX_ATTEMPTS {
        let Ok(next) = attempt() else { break };
        if texts.last().is_some_and(|last| same_locks(last, &next)) {
            return Ok(next);
        }
        texts.push(next);
    }
    Ok(merge_snapshots(texts.iter().map(String::as_str)))
}

/// A line of `/proc/locks` without its leading `N:`, a position in the listing.
fn without_ordinal(line: &str) -> &str {
    match line.split_once(':') {
        Some((n, rest)) if is_ordinal(n) => rest.trim_start(),
        _ => line.trim_start(),
    }
}

fn is_ordinal(field: &str) -> bool {
    let field = field.trim();
    !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit())
}

/// Whether two texts of `/proc/locks` list the same lines in the same order, ordinals aside.
fn same_locks(a: &str, b: &str) -> bool {
    a.lines()
        .map(without_ordinal)
        .eq(b.lines().map(without_ordinal))
}

/// Every line of any of `texts` (ordinals aside), each as many times as the
/// text that has it most often, renumbered in order of first appearance.
/// Waiter lines (`->`) keep the number of the line before them.
fn merge_snapshots<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut most: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for text in texts {
        let mut here: HashMap<&str, usize> = HashMap::new();
        for line in text.lines().map(without_ordinal).filter(|l| !l.is_empty()) {
            let count = here.entry(line).or_default();
            *count += 1;
            let best = most.entry(line).or_default();
            if *count > *best {
                *best = *count;
                order.push(line);
            }
        }
    }
    let mut merged = String::new();
    let mut ordinal = 0;
    for line in order {
        if !line.starts_with("->") || ordinal == 0 {
            ordinal += 1;
        }
        let _ = writeln!(merged, "{ordinal}: {line}");
    }
    merged
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn parses_every_kind_and_skips_waiters() {
        let text = "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 99 fd:01:42 0 EOF\n\
                    2: -> POSIX  ADVISORY  WRITE 100 fd:01:42 0 EOF\n\
                    3: OFDLCK ADVISORY  READ  -1 00:1a:77 0 EOF\n\
                    4: LEASE  ACTIVE    READ  5 00:1a:78 0 EOF\n";
        let table = LockTable::parse(text);
        let flock = table.on(FileKey {
            major: 0,
            minor: 0x1a,
            ino: 5678,
        });
        assert_eq!(flock.len(), 1);
        assert_eq!((flock[0].kind, flock[0].pid), (LockKind::Flock, 1234));
        let posix = table.on(FileKey {
            major: 0xfd,
            minor: 1,
            ino: 42,
        });
        assert_eq!(posix.len(), 1, "the waiter is not a holder");
        assert_eq!(posix[0].pid, 99);
        let ofd = table.on(FileKey {
            major: 0,
            minor: 0x1a,
            ino: 77,
        });
        assert_eq!((ofd[0].kind, ofd[0].pid), (LockKind::Ofd, -1));
        assert!(
            table
                .on(FileKey {
                    major: 0,
                    minor: 0x1a,
                    ino: 78
                })
                .is_empty()
        );
    }

    /// Feeds `settle` the given reads in order and counts how many it took.
    fn settle_over(reads: Vec<io::Result<String>>) -> (io::Result<String>, usize) {
        let mut reads = reads.into_iter();
        let mut taken = 0;
        let result = settle(|| {
            taken += 1;
            reads.next().expect("settle asked for one read too many")
        });
        (result, taken)
    }

    const A: &str = "1: FLOCK  ADVISORY  WRITE 10 00:1a:1 0 EOF\n";
    const B: &str = "2: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n";
    const STEADY: &str = "3: FLOCK  ADVISORY  WRITE 12 00:1a:3 0 EOF\n";

    #[test]
    fn ordinals_are_positions_not_part_of_the_lock() {
        assert_eq!(
            without_ordinal("12: FLOCK  ADVISORY  WRITE 1 00:1a:2 0 EOF"),
            "FLOCK  ADVISORY  WRITE 1 00:1a:2 0 EOF"
        );
        assert_eq!(
            without_ordinal("7: -> POSIX  ADVISORY  WRITE 1 00:1a:2 0 EOF"),
            "-> POSIX  ADVISORY  WRITE 1 00:1a:2 0 EOF"
        );
        assert_eq!(without_ordinal("no ordinal"), "no ordinal");
        let shifted = "1: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n\
                       2: FLOCK  ADVISORY  WRITE 12 00:1a:3 0 EOF\n";
        let same = "5: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n\
                    6: FLOCK  ADVISORY  WRITE 12 00:1a:3 0 EOF\n";
        assert!(same_locks(shifted, same));
        assert!(!same_locks(shifted, B));
        assert!(
            !same_locks(shifted, &format!("{STEADY}{B}")),
            "order counts"
        );
        assert!(same_locks("", ""));
    }

    #[test]
    fn the_union_keeps_every_lock_once_and_parses() {
        // The first read skipped the steady lock, the second skipped A and saw B twice.
        let first = format!("{A}{B}");
        let second = format!("{B}{B}{STEADY}");
        let merged = merge_snapshots([first.as_str(), second.as_str()]);
        assert_eq!(
            merged,
            "1: FLOCK  ADVISORY  WRITE 10 00:1a:1 0 EOF\n\
             2: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n\
             3: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n\
             4: FLOCK  ADVISORY  WRITE 12 00:1a:3 0 EOF\n"
        );
        let table = LockTable::parse(&merged);
        for ino in 1..=3 {
            let key = FileKey {
                major: 0,
                minor: 0x1a,
                ino,
            };
            assert!(!table.on(key).is_empty(), "inode {ino} lost");
        }
        assert_eq!(merge_snapshots([]), "");
    }

    #[test]
    fn the_union_keeps_a_lock_as_often_as_one_read_had_it() {
        let twice = "1: FLOCK  ADVISORY  READ  10 00:1a:1 0 EOF\n\
                     2: FLOCK  ADVISORY  READ  10 00:1a:1 0 EOF\n";
        let once = "1: FLOCK  ADVISORY  READ  10 00:1a:1 0 EOF\n";
        let merged = merge_snapshots([once, twice, once]);
        assert_eq!(merged.lines().count(), 2);
    }

    #[test]
    fn waiters_keep_the_number_of_their_blocker() {
        let text = "1: POSIX  ADVISORY  WRITE 10 00:1a:1 0 EOF\n\
                    1: -> POSIX  ADVISORY  WRITE 11 00:1a:1 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 12 00:1a:3 0 EOF\n";
        let merged = merge_snapshots([text]);
        assert!(same_locks(&merged, text));
        assert_eq!(merged, text);
    }

    #[test]
    fn even_one_short_read_is_checked_by_a_second() {
        // A short first page can end before a long record (a lock with many
        // waiters), and the list can shrink before the next read: never
        // trust one read alone.
        let (text, taken) = settle_over(vec![Ok(A.to_owned()), Ok(A.to_owned())]);
        assert_eq!(text.expect("text"), A);
        assert_eq!(taken, 2);
        let (text, taken) = settle_over(vec![Ok("".to_owned()), Ok("".to_owned())]);
        assert_eq!(text.expect("text"), "");
        assert_eq!(taken, 2);
    }

    #[test]
    fn two_agreeing_reads_settle_it() {
        let renumbered = "7: FLOCK  ADVISORY  WRITE 10 00:1a:1 0 EOF\n\
                          8: FLOCK  ADVISORY  WRITE 11 00:1a:2 0 EOF\n";
        let (text, taken) = settle_over(vec![Ok(format!("{A}{B}")), Ok(renumbered.to_owned())]);
        assert_eq!(text.expect("text"), renumbered);
        assert_eq!(taken, 2);
    }

    #[test]
    fn reads_that_never_agree_give_their_union() {
        let reads = vec![
            Ok(format!("{A}{B}")),
            Ok(format!("{A}{STEADY}")),
            Ok(B.to_owned()),
            Ok(A.to_owned()),
        ];
        let (text, taken) = settle_over(reads);
        assert_eq!(taken, MAX_ATTEMPTS);
        let text = text.expect("text");
        assert!(same_locks(&text, &format!("{A}{B}{STEADY}")), "{text}");
    }

    #[test]
    fn a_failed_reread_keeps_what_was_read() {
        let reads = vec![
            Ok(format!("{A}{STEADY}")),
            Ok(B.to_owned()),
            Err(io::Error::other("gone")),
        ];
        let (text, taken) = settle_over(reads);
        assert_eq!(taken, 3);
        assert!(same_locks(&text.expect("text"), &format!("{A}{STEADY}{B}")));
        let (text, taken) = settle_over(vec![Err(io::Error::from(ErrorKind::PermissionDenied))]);
        assert!(text.is_err());
        assert_eq!(taken, 1);
    }

    #[test]
    fn a_file_is_read_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("locks");
        let line = "1: FLOCK  ADVISORY  WRITE 10 00:1a:1 0 EOF\n";
        // Larger than the first buffer: it has to grow.
        let text = line.repeat(2 * READ_BUF / line.len());
        fs::write(&path, &text).expect("write");
        let mut buf = Vec::new();
        let snap = read_snapshot(&path, &mut buf).expect("read");
        assert_eq!(snap, text);
        assert_eq!(read_settled(&path).expect("settled"), text);
        fs::write(&path, line).expect("write");
        assert_eq!(read_settled(&path).expect("settled"), line);
        assert!(read_settled(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn the_live_table_shows_a_lock_we_hold() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("held.pid");
        let file = File::create(&path).expect("create");
        // SAFETY: flock(2) on a descriptor we own.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
        let meta = file.metadata().expect("stat");
        let key = FileKey::from_dev_ino(meta.dev(), meta.ino());
        let records = LockTable::read().on(key).to_vec();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].kind, LockKind::Flock);
        assert_eq!(records[0].pid, std::process::id() as i32);
    }
}
