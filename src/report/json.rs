//! The JSON document of `pidscope audit --json`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::{Report, Summary};
use crate::probe::namespace::PidNamespace;
use crate::scan::ScanError;
use crate::verdict::Entry;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(serialize_with = "lossy_root_paths")]
    roots: &'a [PathBuf],
    #[serde(serialize_with = "crate::serial::epoch_seconds")]
    scanned_at: SystemTime,
    duration_seconds: f64,
    pid_namespace: PidNamespace,
    entries: &'a [Entry],
    errors: &'a [ScanError],
    summary: Summary,
}

/// Render the report as one pretty-printed JSON document.
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    // Writing plain data into memory cannot fail.
    let _ = write(report, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Stream the report as one pretty-printed JSON document (and a newline) to
/// `out`, without building the whole text in memory first.
///
/// The document around the entries is serialised with no entries, and the
/// entries are written into the hole their empty array leaves, in slices of
/// 64: from two slices on, this thread and one more serialise them as each
/// is free (at most two slices ahead, so the memory stays bounded, see
/// [`crate::cores::in_order`]), and this one writes them in order. The bytes are those of serialising the whole
/// document at once (the golden tests hold it to that).
pub fn write(report: &Report, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let doc = Document {
        roots: &report.roots,
        scanned_at: report.started_at,
        duration_seconds: report.duration.as_secs_f64(),
        pid_namespace: report.pid_namespace,
        entries: &[],
        errors: &report.errors,
        summary: report.summary(),
    };
    let skeleton = serde_json::to_string_pretty(&doc)?;
    // Only the key can hold these quotes unescaped: a string value escapes them.
    let Some(hole) = skeleton.find(EMPTY_ENTRIES) else {
        let whole = Document {
            entries: &report.entries,
            ..doc
        };
        serde_json::to_writer_pretty(&mut out, &whole)?;
        out.write_all(b"\n")?;
        return out.flush();
    };
    let (head, tail) = skeleton.split_at(hole + EMPTY_ENTRIES.len() - 1);
    out.write_all(head.as_bytes())?;
    if !report.entries.is_empty() {
        write_entries(&report.entries, &mut out)?;
        out.write_all(b"\n  ")?;
    }
    out.write_all(tail.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The document's empty entries, as the pretty printer writes them.
const EMPTY_ENTRIES: &str = "\n  \"entries\": []";

/// Entries serialised in one go by one thread.
const SLICE: usize = 64;

/// Write `entries` as the elements of an array two levels deep.
fn write_entries(entries: &[Entry], out: &mut impl Write) -> io::Result<()> {
    let slices: Vec<(usize, &[Entry])> = entries.chunks(SLICE).enumerate().collect();
    super::write_in_order("pidscope-json", slices, out, |(k, slice)| {
        render_slice(slice, k == 0)
    })
}

/// The text of `entries` as array elements two levels deep, each after its
/// separator (none before the array's `first`).
fn render_slice(entries: &[Entry], first: bool) -> io::Result<Vec<u8>> {
    let mut text = Vec::with_capacity(entries.len() * 1024);
    for (i, entry) in entries.iter().enumerate() {
        text.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
        text.extend_from_slice(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, Nested::at(2));
        entry.serialize(&mut serializer)?;
    }
    Ok(text)
}

/// serde_json's pretty printer (two spaces a level), started `depth`
/// levels in: an entry written where the whole document would write it,
/// without writing the document around it.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    fn at(depth: usize) -> Nested {
        Nested {
            depth,
            has_value: false,
        }
    }

    fn new_line<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(writer)
    }

    fn indent<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        for _ in 0..self.depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            writer.write_all(b"\n")?;
            self.indent(writer)?;
        }
        writer.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

fn lossy_root_paths<S: Serializer>(paths: &&[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    crate::serial::lossy_paths(paths, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Scanner;
    use crate::scan::discover::Rules;

    /// The document as serialising it whole, at once, gives it.
    fn whole(report: &Report) -> String {
        let doc = Document {
            roots: &report.roots,
            scanned_at: report.started_at,
            duration_seconds: report.duration.as_secs_f64(),
            pid_namespace: report.pid_namespace,
            entries: &report.entries,
            errors: &report.errors,
            summary: report.summary(),
        };
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    }

    #[test]
    fn entries_written_by_slices_on_two_threads_are_the_whole_documents_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // Live, stale, garbage and empty files: every shape of entry, over
        // more than two slices (the last one short).
        for i in 0..(2 * SLICE + 37) {
            let text = match i % 4 {
                0 => format!("{me}\n"),
                1 => "4194000\n".to_string(),
                2 => format!("not-a-pid {i}\n"),
                _ => String::new(),
            };
            std::fs::write(dir.path().join(format!("f{i:04}.pid")), text).unwrap();
        }
        let mut patterns = globset::GlobSetBuilder::new();
        patterns.add(globset::Glob::new("*.pid").unwrap());
        let rules = Rules {
            patterns: patterns.build().unwrap(),
            exclude: globset::GlobSet::empty(),
            max_depth: 2,
        };
        let mut scanner = Scanner::new(
            vec![dir.path().to_path_buf(), dir.path().join("missing")],
            rules,
        );
        let report = scanner.scan();
        assert_eq!(report.entries.len(), 2 * SLICE + 37);
        assert!(!report.errors.is_empty(), "the missing root is an error");
        assert_eq!(render(&report), whole(&report));

        let few = Report {
            entries: report.entries[..3].to_vec(),
            ..report.clone()
        };
        assert_eq!(render(&few), whole(&few));
        let none = Report {
            entries: Vec::new(),
            errors: Vec::new(),
            ..report
        };
        assert_eq!(render(&none), whole(&none));
        assert!(render(&none).contains("\"entries\": []"));
    }
}
