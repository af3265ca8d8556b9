//! `pidscope man [PAGE]` and `pidscope completions SHELL`: generated from the
//! command-line definition itself, so they never drift from it.

mod man;

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap::builder::PossibleValuesParser;
use clap_complete::Shell;

use super::{Cli, exit, fail, warn};

/// The arguments of `pidscope man`.
#[derive(Debug, clap::Args)]
pub(super) struct ManArgs {
    /// The page: pidscope (the default), a command's (pidscope-audit), or just the command (audit).
    #[arg(value_name = "PAGE")]
    page: Option<String>,

    /// List the pages' names, one a line, instead of printing one.
    #[arg(long, conflicts_with = "page")]
    list: bool,
}

/// Print one man page (roff), or with `--list` the names of all of them.
pub(super) fn man(args: ManArgs) -> ExitCode {
    let command = man::command(Cli::command());
    if args.list {
        return print(man::pages(&command).join("\n").as_bytes(), true);
    }
    match man::render(&command, args.page.as_deref().unwrap_or("pidscope")) {
        Ok(page) => print(&page, false),
        Err(message) => fail(&message),
    }
}

/// Print the completion script for `shell`. It completes `man`'s PAGE with
/// the pages' names, which the command line's definition cannot list itself.
pub(super) fn completions(shell: Shell) -> ExitCode {
    let pages = man::pages(&man::command(Cli::command()));
    let mut command = Cli::command().mut_subcommand("man", |man| {
        man.mut_arg("page", |page| {
            page.value_parser(PossibleValuesParser::new(pages))
        })
    });
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "pidscope", &mut out);
    if shell == Shell::Fish {
        fish_positionals(&command, &mut out);
    }
    print(&out, false)
}

/// clap_complete's fish script completes options only: add the values of
/// each subcommand's positional arguments that have a closed set (a shell,
/// a man page).
fn fish_positionals(command: &clap::Command, out: &mut Vec<u8>) {
    for sub in command.get_subcommands() {
        for arg in sub.get_positionals() {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|value| !value.is_hide_set())
                .map(|value| value.get_name().to_string())
                .collect();
            if !values.is_empty() {
                out.extend_from_slice(
                    format!(
                        "complete -c pidscope -n \"__fish_pidscope_using_subcommand {}\" -f -a \"{}\"\n",
                        sub.get_name(),
                        values.join(" ")
                    )
                    .as_bytes(),
                );
            }
        }
    }
}

/// Write `bytes` to stdout, with a final newline when `newline`.
fn print(bytes: &[u8], newline: bool) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(bytes)
        .and_then(|()| match newline {
            true => stdout.write_all(b"\n"),
            false => Ok(()),
        })
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::from(exit::HEALTHY),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(exit::HEALTHY),
        Err(e) => {
            warn(&format!("cannot write: {e}"));
            ExitCode::from(exit::PROBLEMS)
        }
    }
}
