//! `pidscope man` and `pidscope completions SHELL`: generated from the
//! command-line definition itself, so they never drift from it.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, exit, warn};

/// Print the man page (roff): the top-level page clap_mangen makes, then a
/// section per subcommand with its full help, so `man pidscope` tells everything.
pub(super) fn man() -> ExitCode {
    let mut command = Cli::command();
    command.build();
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(command.clone()).render(&mut out) {
        warn(&format!("cannot render the man page: {e}"));
        return ExitCode::from(exit::PROBLEMS);
    }
    out.extend_from_slice(b".SH \"COMMANDS IN DETAIL\"\n");
    for sub in command
        .get_subcommands_mut()
        .filter(|s| s.get_name() != "help")
    {
        let help = sub.render_long_help().to_string();
        out.extend_from_slice(format!(".SS \"pidscope {}\"\n.nf\n", sub.get_name()).as_bytes());
        for line in help.lines() {
            out.extend_from_slice(roff_line(line).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b".fi\n");
    }
    print(&out)
}

/// A line of text made safe for roff: backslashes escaped, and a leading `.`
/// or `'` (which roff would take for a request) neutralised.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Print the completion script for `shell`.
pub(super) fn completions(shell: Shell) -> ExitCode {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pidscope", &mut out);
    print(&out)
}

fn print(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::from(exit::HEALTHY),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(exit::HEALTHY),
        Err(e) => {
            warn(&format!("cannot write: {e}"));
            ExitCode::from(exit::PROBLEMS)
        }
    }
}
