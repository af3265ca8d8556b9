//! Serde helpers shared by every serialised type: paths written lossily
//! (non-UTF-8 bytes become U+FFFD), times as epoch seconds, modes in octal.
//!
//! At the bottom of the crate: scan, probe, verdict, act and report all use
//! it, and it uses nothing of theirs.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serializer;

/// A time as fractional seconds since the Unix epoch.
pub fn epoch_seconds<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    s.serialize_f64(secs)
}

/// Permission bits as a four-digit octal string, as `stat -c %04a` prints them.
pub fn octal_mode<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    // Written in place, digit by digit from the last (a scan writes one per
    // pidfile): what `format!("{mode:04o}")` gives, without its allocation.
    let mut digits = [b'0'; 11];
    let mut at = digits.len();
    let mut rest = *mode;
    while rest > 0 || digits.len() - at < 4 {
        at -= 1;
        digits[at] = b'0' + (rest & 7) as u8;
        rest >>= 3;
    }
    s.serialize_str(std::str::from_utf8(&digits[at..]).unwrap_or("0000"))
}

/// An optional time as epoch seconds or null.
pub fn epoch_seconds_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => epoch_seconds(t, s),
        None => s.serialize_none(),
    }
}

/// A path as a string; bytes that are not UTF-8 become U+FFFD.
pub fn lossy_path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// An optional path, lossily.
pub fn lossy_path_opt<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => lossy_path(p, s),
        None => s.serialize_none(),
    }
}

/// A list of paths, lossily.
pub fn lossy_paths<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_written_as_format_writes_them() {
        for mode in (0..0o10000).chain([0o100644, u32::MAX]) {
            let mut out = Vec::new();
            octal_mode(&mode, &mut serde_json::Serializer::new(&mut out)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), format!("\"{mode:04o}\""));
        }
    }
}
