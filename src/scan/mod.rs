//! Finding and reading pidfiles: discovery, the bounded reader and the PID parser.

pub mod discover;
pub mod parse;
pub mod read;

use std::path::PathBuf;

use serde::Serialize;

/// A problem met during a scan that is not about one pidfile's verdict:
/// an unreadable directory, a root that does not exist, an entry that vanished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanError {
    /// Where it happened.
    #[serde(serialize_with = "crate::report::json::lossy_path")]
    pub path: PathBuf,
    /// What went wrong, as a short phrase.
    pub error: String,
}
