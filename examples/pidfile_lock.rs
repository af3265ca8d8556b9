//! Hold a pidfile the careful way with `pidscope::lock`.
//!
//! ```sh
//! cargo run --example pidfile_lock -- /tmp/demo.pid 30 &
//! cargo run --example pidfile_lock -- /tmp/demo.pid      # refused: names the first one's PID, exit 75
//! kill -9 %1                                             # leaves a stale /tmp/demo.pid behind...
//! cargo run --example pidfile_lock -- /tmp/demo.pid 1    # ...which the next run recovers
//! ```
//!
//! Usage: `pidfile_lock PIDFILE [SECONDS [WAIT_SECONDS]]`: lock PIDFILE (waiting up
//! to WAIT_SECONDS for its holder, if given), hold it for SECONDS (default 5), release it.

use std::process::ExitCode;
use std::time::Duration;

use pidscope::lock::{LockError, PidFile};

/// Exit status when another process holds the pidfile (EX_TEMPFAIL, as `pidscope run`).
const BUSY: u8 = 75;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = |i: usize, default: Option<f64>| match args.get(i) {
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0),
        None => default,
    };
    let (Some(path), Some(hold), wait) = (args.first(), seconds(1, Some(5.0)), seconds(2, None))
    else {
        eprintln!("usage: pidfile_lock PIDFILE [SECONDS [WAIT_SECONDS]]");
        return ExitCode::from(2);
    };

    let pidfile = PidFile::new(path.as_str());
    let locked = match wait {
        Some(wait) => pidfile.lock_timeout(Duration::from_secs_f64(wait)),
        None => pidfile.try_lock(),
    };
    let guard = match locked {
        Ok(guard) => guard,
        Err(err @ LockError::Busy { .. }) => {
            eprintln!("pidfile_lock: {err}");
            return ExitCode::from(BUSY);
        }
        Err(err) => {
            eprintln!("pidfile_lock: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("locked {} as PID {}", guard.path().display(), guard.pid());
    std::thread::sleep(Duration::from_secs_f64(hold));
    match guard.unlock() {
        Ok(outcome) => {
            println!("released {}: {outcome}", pidfile.path().display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("pidfile_lock: {err}");
            ExitCode::FAILURE
        }
    }
}
