//! How pidscope writes things for people: durations, ages, sizes, times,
//! paths, lock kinds and the tone of each status.
//!
//! Pure text, shared by the audit table and the inspector so both say the same
//! thing the same way. No terminal here: the renderers turn a [`Tone`] into
//! their own styles. Depends on nothing of the crate but the [`Status`] and
//! [`LockKind`] it names.

pub mod meaning;

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::probe::locks::LockKind;
use crate::verdict::Status;

/// How a status should strike the eye, whatever the renderer makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// All is well (green).
    Good,
    /// Worth a look, nothing is broken yet (yellow).
    Warn,
    /// Broken or unknown (red).
    Bad,
}

/// The tone of a status word.
pub fn status_tone(status: Status) -> Tone {
    match status {
        Status::Alive => Tone::Good,
        Status::Stale | Status::Reused => Tone::Warn,
        Status::Zombie | Status::Invalid | Status::Unreadable => Tone::Bad,
    }
}

/// Whether a status word is set in bold: every problem is, so that it stands
/// out even without colour.
pub fn status_bold(status: Status) -> bool {
    status != Status::Alive
}

/// A duration as an operator reads it: `45s`, `12m5s`, `3h5m`, `2d4h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Time since `mtime` (a pidfile's last write); `None` when there is no
/// file or it was written in the future.
pub fn age(mtime: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    mtime.and_then(|m| now.duration_since(m).ok())
}

/// The age of a pidfile (time since its last write, `mtime`), or `-` when
/// there is no file or it was written in the future.
pub fn file_age(mtime: Option<SystemTime>, now: SystemTime) -> String {
    age(mtime, now).map_or_else(|| "-".into(), human_duration)
}

/// PIDs as a list: `5, 6`.
pub fn pid_numbers(pids: &[i32]) -> String {
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    list.join(", ")
}

/// PIDs with their noun: `PID 5`, `PIDs 5, 6`.
pub fn pid_list(pids: &[i32]) -> String {
    match pids {
        [one] => format!("PID {one}"),
        _ => format!("PIDs {}", pid_numbers(pids)),
    }
}

/// Time since `then` in at most 5 characters, one unit: `45s`, `12m`, `3h`, `210d`.
pub fn short_age(now: SystemTime, then: SystemTime) -> String {
    let s = now.duration_since(then).map_or(0, |d| d.as_secs());
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Bytes in at most 5 characters: `812K`, `12M`, `1.5G`.
pub fn short_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && unit > 0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// Keep the end of `text` (the file name matters most) within `width` characters.
pub fn tail(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let skip = count - width + 1;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

/// Seconds east of UTC now, from the C library's view of the local time zone.
pub fn local_utc_offset() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as nix::libc::time_t);
    // SAFETY: tm is plain old data (all-zero is valid); localtime_r only writes into it.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&now, &mut tm).is_null() };
    if ok { tm.tm_gmtoff as i32 } else { 0 }
}

/// `HH:MM:SS` of `t` at `utc_offset` seconds east of UTC.
pub fn clock(t: SystemTime, utc_offset: i32) -> String {
    let (_, _, _, h, m, s) = civil(local_secs(t, utc_offset));
    format!("{h:02}:{m:02}:{s:02}")
}

/// `YYYY-MM-DD HH:MM:SS` of `t` at `utc_offset` seconds east of UTC.
pub fn timestamp(t: SystemTime, utc_offset: i32) -> String {
    let (y, mo, d, h, m, s) = civil(local_secs(t, utc_offset));
    format!("{y}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}")
}

/// Seconds since the epoch of `t`, shifted into the time zone `utc_offset`.
fn local_secs(t: SystemTime, utc_offset: i32) -> i64 {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    secs + i64::from(utc_offset)
}

/// Split seconds since the epoch into a civil date and time (proleptic Gregorian).
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// A path as it can be shown on one line: lossy UTF-8, control characters escaped.
pub fn display_path(path: &Path) -> String {
    escape_controls(&path.to_string_lossy())
}

/// Replace control characters (a newline in a file name would break a table) with escapes.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The name of a kind of lock, as `/proc/locks` users and the JSON output know it.
pub fn lock_kind_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Flock => "flock",
        LockKind::Posix => "posix",
        LockKind::Ofd => "ofd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_795_671_805), (2026, 11, 26, 5, 43, 25));
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_671_805);
        assert_eq!(timestamp(t, 3600), "2026-11-26 06:43:25");
        assert_eq!(clock(t, -7200), "03:43:25");
    }

    #[test]
    fn compact_cells() {
        assert_eq!(short_bytes(812 * 1024), "812K");
        assert_eq!(short_bytes(1536 * 1024 * 1024), "1.5G");
        assert_eq!(tail("/run/very/long/path/nginx.pid", 12), "…h/nginx.pid");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(short_age(now, now - Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn pid_lists() {
        assert_eq!(pid_list(&[5]), "PID 5");
        assert_eq!(pid_list(&[5, 6]), "PIDs 5, 6");
        assert_eq!(pid_numbers(&[5, 6, 7]), "5, 6, 7");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m5s");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600 + 300)), "3h5m");
        assert_eq!(
            human_duration(Duration::from_secs(2 * 86400 + 4 * 3600)),
            "2d4h"
        );
    }

    #[test]
    fn file_ages_need_a_file_written_in_the_past() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(file_age(Some(now - Duration::from_secs(90)), now), "1m30s");
        assert_eq!(file_age(None, now), "-");
        assert_eq!(file_age(Some(now + Duration::from_secs(5)), now), "-");
    }

    #[test]
    fn short_cells_stay_short_at_the_edges() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(short_age(now, now + Duration::from_secs(5)), "0s");
        assert_eq!(short_age(now, now - Duration::from_secs(59)), "59s");
        assert_eq!(
            short_age(now, now - Duration::from_secs(210 * 86400)),
            "210d"
        );
        assert_eq!(short_bytes(0), "0B");
        assert_eq!(short_bytes(1023), "1023B");
        assert_eq!(short_bytes(12 << 20), "12M");
        assert_eq!(tail("abc", 3), "abc");
    }

    #[test]
    fn times_before_the_epoch_and_across_midnight() {
        let t = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(timestamp(t, 0), "1969-12-31 23:59:59");
        assert_eq!(clock(SystemTime::UNIX_EPOCH, 3600), "01:00:00");
    }

    #[test]
    fn paths_and_text_lose_their_control_characters() {
        assert_eq!(display_path(Path::new("/run/a\nb.pid")), "/run/a\\nb.pid");
        assert_eq!(escape_controls("tab\there"), "tab\\there");
        assert_eq!(escape_controls("plain"), "plain");
    }

    #[test]
    fn lock_kinds_are_named_as_the_json_names_them() {
        for kind in [LockKind::Flock, LockKind::Posix, LockKind::Ofd] {
            let json = serde_json::to_value(kind).expect("serialises");
            assert_eq!(json.as_str(), Some(lock_kind_name(kind)));
        }
    }

    #[test]
    fn problems_are_bold_and_toned_by_severity() {
        assert_eq!(status_tone(Status::Alive), Tone::Good);
        assert!(!status_bold(Status::Alive));
        for status in [Status::Stale, Status::Reused] {
            assert_eq!(status_tone(status), Tone::Warn);
            assert!(status_bold(status));
        }
        for status in [Status::Zombie, Status::Invalid, Status::Unreadable] {
            assert_eq!(status_tone(status), Tone::Bad);
            assert!(status_bold(status));
        }
    }
}
