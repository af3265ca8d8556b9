//! Content -> PID: the strict rules a pidfile's first line must follow.
//!
//! Bad input is the normal case in `/run`: empty files written by daemons that
//! are still starting, garbage, negative numbers, hexadecimal. Every rejection
//! carries a precise reason so an operator can see what is wrong at a glance.

use std::fmt;

/// The largest number of bytes of a pidfile that is ever read.
pub const MAX_READ: usize = 4096;

/// The kernel's default `pid_max` on 64-bit systems, used if `/proc/sys/kernel/pid_max` is unreadable.
const FALLBACK_PID_MAX: u32 = 4_194_304;

/// `/proc/sys/kernel/pid_max`: the bound on valid PIDs, read fresh (it can be changed at run time).
pub fn read_pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(FALLBACK_PID_MAX)
}

/// Why the content of a pidfile is not a valid PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidPid {
    /// The file has no bytes at all (often a daemon that has not written its PID yet).
    Empty,
    /// The first line holds nothing but spaces, tabs or CR.
    BlankLine,
    /// No newline in the first [`MAX_READ`] bytes of a larger file.
    LineTooLong,
    /// A leading minus sign.
    Negative(String),
    /// Zero is the kernel's idle task, never a process that writes a pidfile.
    Zero,
    /// Two or more values separated by spaces or tabs.
    SeveralValues(String),
    /// Anything that is not a run of decimal digits (hex, letters, signs, NUL bytes).
    NotDecimal(String),
    /// A number above the kernel's `pid_max`.
    TooLarge {
        /// The number as written (shortened when very long).
        text: String,
        /// `/proc/sys/kernel/pid_max` at the time of the scan.
        pid_max: u32,
    },
}

impl fmt::Display for InvalidPid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidPid::Empty => write!(f, "the file is empty"),
            InvalidPid::BlankLine => write!(f, "the first line is blank"),
            InvalidPid::LineTooLong => {
                write!(f, "the first line is longer than {MAX_READ} bytes")
            }
            InvalidPid::Negative(t) => write!(f, "{t:?} is negative, not a PID"),
            InvalidPid::Zero => write!(f, "0 is not a process ID"),
            InvalidPid::SeveralValues(t) => {
                write!(f, "the first line holds several values: {t:?}")
            }
            InvalidPid::NotDecimal(t) => write!(f, "{t:?} is not a decimal number"),
            InvalidPid::TooLarge { text, pid_max } => {
                write!(f, "{text} is above the largest PID ({pid_max})")
            }
        }
    }
}

/// Parse the first line of a pidfile into a PID.
///
/// `content` is at most the first [`MAX_READ`] bytes of the file; `truncated`
/// says whether the file holds more than that. The first line (up to `\n`),
/// trimmed of spaces, tabs and CR, must be a decimal integer from 1 to `pid_max`.
/// Later lines are ignored: several daemons (PostgreSQL's `postmaster.pid`)
/// store more data after the PID.
pub fn parse_pid(content: &[u8], truncated: bool, pid_max: u32) -> Result<i32, InvalidPid> {
    if content.is_empty() {
        return Err(InvalidPid::Empty);
    }
    let line = match content.iter().position(|&b| b == b'\n') {
        Some(end) => &content[..end],
        None if truncated => return Err(InvalidPid::LineTooLong),
        None => content,
    };
    let line = trim(line);
    if line.is_empty() {
        return Err(InvalidPid::BlankLine);
    }
    // Shown only in an error: a valid PID, what most files hold, copies nothing.
    let text = || shown(line);
    if line.iter().any(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Err(InvalidPid::SeveralValues(text()));
    }
    if line[0] == b'-' && line.len() > 1 && line[1..].iter().all(u8::is_ascii_digit) {
        return Err(InvalidPid::Negative(text()));
    }
    if !line.iter().all(u8::is_ascii_digit) {
        return Err(InvalidPid::NotDecimal(text()));
    }
    // Saturate instead of overflowing: a 10 MB run of digits is simply "too large".
    let value = line.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    if value == 0 {
        return Err(InvalidPid::Zero);
    }
    if value > u64::from(pid_max) {
        return Err(InvalidPid::TooLarge {
            text: text(),
            pid_max,
        });
    }
    i32::try_from(value).map_err(|_| InvalidPid::TooLarge {
        text: text(),
        pid_max,
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    while let Some((first, rest)) = s.split_first() {
        if !blank(first) {
            break;
        }
        s = rest;
    }
    while let Some((last, rest)) = s.split_last() {
        if !blank(last) {
            break;
        }
        s = rest;
    }
    s
}

/// The offending text as it can be shown in one line: lossy UTF-8, at most 40 characters.
fn shown(line: &[u8]) -> String {
    const LIMIT: usize = 40;
    let text = String::from_utf8_lossy(line);
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(LIMIT).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u32 = 4_194_304;

    fn parse(s: &str) -> Result<i32, InvalidPid> {
        parse_pid(s.as_bytes(), false, MAX)
    }

    #[test]
    fn accepts_plain_and_padded_pids() {
        assert_eq!(parse("1234"), Ok(1234));
        assert_eq!(parse("1234\n"), Ok(1234));
        assert_eq!(parse(" \t42\r\n"), Ok(42));
        assert_eq!(parse("0042\n"), Ok(42));
        assert_eq!(parse("1"), Ok(1));
        assert_eq!(parse("4194304"), Ok(4_194_304));
    }

    #[test]
    fn ignores_later_lines() {
        assert_eq!(
            parse("812\n/var/lib/postgresql/15/main\n1700000000\n"),
            Ok(812)
        );
        assert_eq!(parse("812\ngarbage\0\u{1}"), Ok(812));
    }

    #[test]
    fn rejects_every_invalid_form_with_a_precise_reason() {
        assert_eq!(parse(""), Err(InvalidPid::Empty));
        assert_eq!(parse("\n"), Err(InvalidPid::BlankLine));
        assert_eq!(parse("  \t\r\n1234\n"), Err(InvalidPid::BlankLine));
        assert_eq!(parse("abc"), Err(InvalidPid::NotDecimal("abc".into())));
        assert_eq!(parse("0"), Err(InvalidPid::Zero));
        assert_eq!(parse("000\n"), Err(InvalidPid::Zero));
        assert_eq!(parse("-5"), Err(InvalidPid::Negative("-5".into())));
        assert_eq!(parse("0x1f"), Err(InvalidPid::NotDecimal("0x1f".into())));
        assert_eq!(parse("+5"), Err(InvalidPid::NotDecimal("+5".into())));
        assert_eq!(
            parse("12 34"),
            Err(InvalidPid::SeveralValues("12 34".into()))
        );
        assert_eq!(
            parse("12\t34\n"),
            Err(InvalidPid::SeveralValues("12\t34".into()))
        );
        assert_eq!(
            parse("4194305"),
            Err(InvalidPid::TooLarge {
                text: "4194305".into(),
                pid_max: MAX
            })
        );
        assert_eq!(
            parse_pid(b"40000", false, 32768),
            Err(InvalidPid::TooLarge {
                text: "40000".into(),
                pid_max: 32768
            })
        );
        assert_eq!(parse("12\0"), Err(InvalidPid::NotDecimal("12\0".into())));
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(InvalidPid::Empty.to_string(), "the file is empty");
        assert_eq!(
            parse("0x1f").unwrap_err().to_string(),
            "\"0x1f\" is not a decimal number"
        );
        assert_eq!(
            parse("99999999").unwrap_err().to_string(),
            "99999999 is above the largest PID (4194304)"
        );
    }

    #[test]
    fn a_huge_line_of_digits_is_too_long_or_too_large_never_a_panic() {
        let digits = vec![b'9'; MAX_READ];
        assert_eq!(parse_pid(&digits, true, MAX), Err(InvalidPid::LineTooLong));
        let err = parse_pid(&digits, false, MAX).unwrap_err();
        assert!(matches!(err, InvalidPid::TooLarge { .. }), "{err:?}");
        assert!(
            err.to_string().chars().count() < 100,
            "reason stays one short line"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..MAX_READ), truncated: bool) {
            let _ = parse_pid(&bytes, truncated, MAX);
        }

        #[test]
        fn every_valid_pid_round_trips(pid in 1..=MAX, pad in "[ \t]{0,3}", tail in "(\n.*)?") {
            let text = format!("{pad}{pid}{pad}{tail}");
            prop_assert_eq!(parse_pid(text.as_bytes(), false, MAX), Ok(pid as i32));
        }

        #[test]
        fn an_accepted_pid_is_always_in_range(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(pid) = parse_pid(&bytes, false, 32768) {
                prop_assert!((1..=32768).contains(&pid));
            }
        }
    }
}
