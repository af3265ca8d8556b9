//! pidscope: tell live pidfiles from stale, reused, zombie, invalid and unreadable ones.
//!
//! The library holds the inspection engine shared by the `pidscope` binary's
//! `audit` command and its interactive inspector:
//!
//! - [`scan`]: find pidfiles ([`scan::discover`]), read them without ever
//!   blocking ([`scan::read`]) and parse the PID strictly ([`scan::parse`]);
//! - [`probe`]: ask the system whether the PID lives ([`probe::process`]), who it
//!   really is ([`probe::identity`]), who holds a lock on the file ([`probe::locks`])
//!   and which PID namespace it is seen from ([`probe::namespace`]);
//! - [`verdict`]: the words of a verdict ([`verdict::Status`], [`verdict::Warning`]);
//! - [`policy`]: every rule, pure: who owns a pidfile, its verdict, whether it
//!   may be deleted, whether its owner may be signalled;
//! - [`display`]: how durations, ages, paths and statuses read;
//! - [`inspect::Scanner`]: all of the above in one call, producing a [`report::Report`];
//! - [`act`]: the one gate for deleting and signalling, on confirmed actions only;
//! - [`lock`]: take a pidfile the careful way ([`lock::PidFile::try_lock`]), so that
//!   applications stop leaving the stale pidfiles the inspector finds.
//!
//! ```no_run
//! use pidscope::config::Config;
//! use pidscope::inspect::Scanner;
//!
//! let config = Config::default();
//! let rules = config.rules().expect("built-in patterns are valid");
//! let mut scanner = Scanner::new(config.default_roots(), rules);
//! let report = scanner.scan();
//! for entry in &report.entries {
//!     println!("{} {} {}", entry.status, entry.path.display(), entry.reason);
//! }
//! ```

pub mod act;
pub mod config;
pub mod cores;
pub mod display;
#[doc(hidden)]
pub mod fixture;
pub mod inspect;
mod kept;
pub mod live;
pub mod lock;
pub mod policy;
pub mod probe;
pub mod report;
pub mod scan;
pub mod serial;
pub mod systemd;
pub mod text;
#[cfg(feature = "cli")]
pub mod tui;
pub mod verdict;
