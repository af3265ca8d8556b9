//! Property tests over the real reader and parser: arbitrary file contents and
//! sizes, written to real files. Runs 256 cases by default; set PROPTEST_CASES
//! for a longer run (for example 100000 before a release).

use std::fs;

use pidscope::scan::parse::{MAX_READ, parse_pid};
use pidscope::scan::read::{EntryKind, ReadOutcome, read_pidfile};
use proptest::prelude::*;

fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Anything at all, around the 4 KiB boundary too.
        proptest::collection::vec(any::<u8>(), 0..(MAX_READ * 2)),
        // Almost-PIDs: digits, signs, blanks and newlines in any order.
        proptest::collection::vec(
            prop::sample::select(b"0123456789 \t\r\n-+x".to_vec()),
            0..64
        ),
        // Long runs of digits.
        (1usize..(MAX_READ * 3)).prop_map(|n| vec![b'7'; n]),
    ]
}

proptest! {
    #[test]
    fn reading_and_parsing_any_file_never_panics_and_stays_bounded(bytes in contents(), kind in prop::sample::select(vec![EntryKind::Regular, EntryKind::Unknown])) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(&path, &bytes).unwrap();
        match read_pidfile(&path, kind) {
            ReadOutcome::Read { file, content, truncated } => {
                prop_assert!(content.len() <= MAX_READ);
                prop_assert_eq!(file.size, bytes.len() as u64);
                prop_assert_eq!(truncated, bytes.len() > MAX_READ);
                prop_assert_eq!(&content[..], &bytes[..bytes.len().min(MAX_READ)]);
                if let Ok(pid) = parse_pid(&content, truncated, 4_194_304) {
                    prop_assert!(pid >= 1);
                    // What was accepted is exactly the first line's number.
                    let line = bytes.split(|&b| b == b'\n').next().unwrap();
                    let text = String::from_utf8_lossy(line);
                    prop_assert_eq!(text.trim_matches([' ', '\t', '\r']).parse::<u64>().ok(), Some(pid as u64));
                }
            }
            other => prop_assert!(false, "a regular file must be read: {:?}", other),
        }
    }
}
