//! Compact holders of what a scan keeps for every pidfile: its first line,
//! most often a few digits, kept in place ([`Line`]), and its other paths,
//! most often none ([`Aliases`]).

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// Bytes a [`Line`] holds in place.
const INLINE: usize = 14;

/// A string held inside the value when it fits in 14 bytes (a PID, a short
/// word), else behind one pointer: 16 bytes either way, as many as a
/// `Box<str>` alone. Reads as a `&str`.
#[derive(Clone, PartialEq, Eq)]
pub struct Line(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<Box<str>>),
}

impl From<&str> for Line {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Line(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            Line(Repr::Heap(Box::new(text.into())))
        }
    }
}

impl From<String> for Line {
    fn from(text: String) -> Self {
        if text.len() <= INLINE {
            Line::from(text.as_str())
        } else {
            Line(Repr::Heap(Box::new(text.into_boxed_str())))
        }
    }
}

impl Deref for Line {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // Copied whole from a `&str` (see `From`): always UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(text) => text,
        }
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_was_made_of_in_place_or_not() {
        for text in [
            "",
            "812",
            "é∂ multi-byte",
            "exactly twenty-two by",
            "a line longer than twenty-two bytes",
        ] {
            let line = Line::from(text);
            assert_eq!(&*line, text);
            assert_eq!(Line::from(text.to_string()), line);
            assert_eq!(
                serde_json::to_string(&line).unwrap(),
                serde_json::to_string(text).unwrap()
            );
            assert_eq!(format!("{line:?}"), format!("{text:?}"));
        }
        assert!(matches!(Line::from("1234567").0, Repr::Inline { .. }));
        assert!(matches!(Line::from("x".repeat(15)).0, Repr::Heap(_)));
        assert_eq!(std::mem::size_of::<Option<Line>>(), 16);
    }

    #[test]
    fn aliases_read_as_the_paths_pushed_in_order_and_none_is_one_word() {
        let mut aliases = Aliases::default();
        assert!(aliases.is_empty());
        assert_eq!(serde_json::to_string(&aliases).unwrap(), "[]");
        aliases.push("/run/a.pid".into());
        aliases.push("/run/b.pid".into());
        assert_eq!(
            &*aliases,
            [PathBuf::from("/run/a.pid"), PathBuf::from("/run/b.pid")]
        );
        assert_eq!(
            serde_json::to_string(&aliases).unwrap(),
            r#"["/run/a.pid","/run/b.pid"]"#
        );
        let collected: Aliases = aliases.iter().cloned().collect();
        assert_eq!(collected, aliases);
        assert_eq!(
            Vec::<PathBuf>::new().into_iter().collect::<Aliases>(),
            Aliases::default()
        );
        assert_eq!(std::mem::size_of::<Aliases>(), 8);
    }
}

/// The other paths of a file, in the order met: most files have none, and
/// then this is one null pointer, where a list would take two or three
/// words. Reads as a slice.
#[derive(Clone, Default, PartialEq, Eq)]
// The box is the point: one word in every entry, where a `Vec` takes three.
#[allow(clippy::box_collection)]
pub struct Aliases(Option<Box<Vec<PathBuf>>>);

impl Aliases {
    /// Add a path after the others.
    pub fn push(&mut self, path: PathBuf) {
        self.0.get_or_insert_with(Box::default).push(path);
    }
}

impl Deref for Aliases {
    type Target = [PathBuf];

    fn deref(&self) -> &[PathBuf] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl FromIterator<PathBuf> for Aliases {
    fn from_iter<I: IntoIterator<Item = PathBuf>>(paths: I) -> Self {
        let paths: Vec<PathBuf> = paths.into_iter().collect();
        Aliases((!paths.is_empty()).then(|| Box::new(paths)))
    }
}

impl<'a> IntoIterator for &'a Aliases {
    type Item = &'a PathBuf;
    type IntoIter = std::slice::Iter<'a, PathBuf>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Aliases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Aliases {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::serial::lossy_paths(self, s)
    }
}
