//! Short text kept in place: a scan keeps one first line per pidfile, and
//! most are a few digits, which a heap allocation of their own would
//! quadruple.

use std::fmt;
use std::ops::Deref;

use serde::{Serialize, Serializer};

/// Bytes a [`Line`] holds in place.
const INLINE: usize = 22;

/// A string held inside the value when it fits in 22 bytes, else on the
/// heap: 24 bytes either way. Reads as a `&str`.
#[derive(Clone, PartialEq, Eq)]
pub struct Line(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
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
            Line(Repr::Heap(text.into()))
        }
    }
}

impl From<String> for Line {
    fn from(text: String) -> Self {
        if text.len() <= INLINE {
            Line::from(text.as_str())
        } else {
            Line(Repr::Heap(text.into_boxed_str()))
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
        assert!(matches!(Line::from("x".repeat(23)).0, Repr::Heap(_)));
        assert_eq!(std::mem::size_of::<Option<Line>>(), 24);
    }
}
