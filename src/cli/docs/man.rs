//! The man pages: `pidscope(1)` and one page per subcommand
//! (`pidscope-audit(1)`...), each generated from the command-line definition
//! by clap_mangen, then the sections clap knows nothing of, written once here:
//! EXIT STATUS (a table keyed by subcommand name), STATUSES AND WARNINGS (from
//! `pidscope::display::meaning`), FILES, ENVIRONMENT, EXAMPLES (README.md's,
//! which `tests/readme.rs` runs) and SEE ALSO.

use clap::Command;
use pidscope::display::meaning::{status_meaning, warning_advice, warning_meaning};
use pidscope::verdict::{Status, Warning};

/// The name of the top-level page, and the prefix of every other.
const ROOT: &str = "pidscope";

/// The README, whose `$ pidscope ...` examples become the EXAMPLES sections.
const README: &str = include_str!("../../../README.md");

/// The audit service, whose `--output` is the textfile collector's file.
const AUDIT_SERVICE: &str = include_str!("../../../assets/systemd/pidscope-audit.service");

/// The exit statuses of each command, by subcommand name (`tui` is also what
/// `pidscope` alone runs). A subcommand with no entry here has no EXIT
/// STATUS section; `tests/cli_docs.rs` checks that every one has an entry.
pub(super) const EXIT_STATUS: &[(&str, &[(&str, &str)])] = &[
    (
        "tui",
        &[
            ("0", "the inspector was quit"),
            (
                "2",
                "stdout is not a terminal (use `pidscope audit`), the terminal failed, or a usage or configuration error",
            ),
        ],
    ),
    (
        "audit",
        &[
            (
                "0",
                "every pidfile is alive and the scan met no error (no pidfiles is fine)",
            ),
            ("1", "some pidfile is not alive, or an error was recorded"),
            (
                "2",
                "usage or configuration error (unknown flag, unreadable or malformed config)",
            ),
        ],
    ),
    (
        "clean",
        &[
            (
                "0",
                "everything it meant to remove was removed (or, with `--dry-run`, listed)",
            ),
            (
                "1",
                "a removal was refused (\"changed since scan\") or failed, or the audit trail could not be written",
            ),
            (
                "2",
                "usage or configuration error, or no terminal to ask on without `--yes` or `--dry-run` (nothing is removed)",
            ),
        ],
    ),
    (
        "run",
        &[
            ("N", "COMMAND exited with status N"),
            (
                "128+N",
                "COMMAND died of signal N (143 for SIGTERM, 137 for SIGKILL)",
            ),
            (
                "75",
                "another live instance holds FILE (`EX_TEMPFAIL`: try later), also after `--wait`",
            ),
            (
                "125",
                "pidscope could not take FILE (cannot create or lock it, or it holds something that is not a PID)",
            ),
            ("126", "COMMAND was found but cannot be executed"),
            ("127", "COMMAND was not found"),
            ("2", "usage error"),
        ],
    ),
    (
        "watch",
        &[
            ("0", "after SIGTERM or SIGINT (output flushed)"),
            (
                "1",
                "it cannot watch (no epoll set or pipe: out of descriptors)",
            ),
            ("2", "on usage errors"),
        ],
    ),
    (
        "man",
        &[
            ("0", "the page was written"),
            ("1", "it could not be written"),
            ("2", "no such page, or a usage error"),
        ],
    ),
    (
        "completions",
        &[
            ("0", "the script was written"),
            ("1", "it could not be written"),
            ("2", "an unknown shell, or a usage error"),
        ],
    ),
];

/// The pages of other programs worth reading alongside.
const SEE_ALSO: &[(&str, &str)] = &[
    ("kill", "1"),
    ("flock", "1"),
    ("pidfile", "3"),
    ("systemd.service", "5"),
    ("start-stop-daemon", "8"),
];

/// The command line as the pages describe it: no `help` subcommand.
pub(super) fn command(root: Command) -> Command {
    let mut command = root.disable_help_subcommand(true);
    command.build();
    command
}

/// Every page's name: `pidscope`, then `pidscope-SUB` for each subcommand.
pub(super) fn pages(root: &Command) -> Vec<String> {
    std::iter::once(ROOT.to_string())
        .chain(subcommands(root).map(|sub| format!("{ROOT}-{}", sub.get_name())))
        .collect()
}

fn subcommands(root: &Command) -> impl Iterator<Item = &Command> {
    root.get_subcommands().filter(|sub| !sub.is_hide_set())
}

/// The subcommand a page name means (`audit` or `pidscope-audit`), `None`
/// for the top-level page; `Err` names an unknown page.
fn resolve<'a>(root: &'a Command, page: &str) -> Result<Option<&'a Command>, String> {
    if page == ROOT {
        return Ok(None);
    }
    let name = page
        .strip_prefix(ROOT)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(page);
    subcommands(root)
        .find(|sub| sub.get_name() == name)
        .map(Some)
        .ok_or_else(|| format!("no man page {page:?} (pages: {})", pages(root).join(", ")))
}

/// The page named `page` (see [`resolve`]), in roff.
pub(super) fn render(root: &Command, page: &str) -> Result<Vec<u8>, String> {
    let sub = resolve(root, page)?;
    let man = clap_mangen::Man::new(sub.unwrap_or(root).clone())
        .source(format!("{ROOT} {}", env!("CARGO_PKG_VERSION")))
        .manual("pidscope manual");
    let mut out = Vec::new();
    let clap_sections = man
        .render_title(&mut out)
        .and_then(|()| man.render_name_section(&mut out))
        .and_then(|()| man.render_synopsis_section(&mut out))
        .and_then(|()| man.render_description_section(&mut out))
        .and_then(|()| man.render_options_section(&mut out))
        .and_then(|()| match sub {
            None => man.render_subcommands_section(&mut out),
            Some(_) => Ok(()),
        })
        .and_then(|()| match sub {
            None => man.render_version_section(&mut out),
            Some(_) => Ok(()),
        });
    clap_sections.map_err(|e| format!("cannot render the man page: {e}"))?;
    let mut roff = String::new();
    exit_status(&mut roff, root, sub);
    if sub.is_none_or(scans_pidfiles) {
        statuses_and_warnings(&mut roff);
    }
    files(&mut roff);
    environment(&mut roff);
    examples(&mut roff, sub.map(Command::get_name));
    see_also(&mut roff, root, sub);
    out.extend_from_slice(roff.as_bytes());
    Ok(out)
}

/// Whether a command scans pidfiles, and so shows verdicts: it takes PATHs.
fn scans_pidfiles(command: &Command) -> bool {
    command.get_arguments().any(|arg| arg.get_id() == "paths")
}

fn exit_status(roff: &mut String, root: &Command, sub: Option<&Command>) {
    let table = |name: &str| {
        EXIT_STATUS
            .iter()
            .find(|(command, _)| *command == name)
            .map(|(_, rows)| *rows)
    };
    match sub {
        Some(sub) => {
            if let Some(rows) = table(sub.get_name()) {
                roff.push_str(".SH \"EXIT STATUS\"\n");
                tagged_rows(roff, rows);
            }
        }
        None => {
            roff.push_str(".SH \"EXIT STATUS\"\n");
            for sub in subcommands(root) {
                if let Some(rows) = table(sub.get_name()) {
                    let title = match sub.get_name() {
                        "tui" => format!("{ROOT}, {ROOT} tui"),
                        name => format!("{ROOT} {name}"),
                    };
                    roff.push_str(&format!(".SS \"{title}\"\n"));
                    tagged_rows(roff, rows);
                }
            }
        }
    }
}

fn tagged_rows(roff: &mut String, rows: &[(&str, &str)]) {
    for (tag, text) in rows {
        tagged(roff, &format!("`{tag}`"), text);
    }
}

/// One `.TP` paragraph: a tag in bold, then its text.
fn tagged(roff: &mut String, tag: &str, text: &str) {
    roff.push_str(".TP\n");
    roff.push_str(&inline(tag));
    roff.push('\n');
    roff.push_str(&inline(text));
    roff.push('\n');
}

fn statuses_and_warnings(roff: &mut String) {
    roff.push_str(".SH \"STATUSES AND WARNINGS\"\n");
    roff.push_str(&inline(
        "Every pidfile gets exactly one status, in every output (the inspector, `audit` in each format, `clean`):",
    ));
    roff.push('\n');
    for status in Status::ALL {
        tagged(roff, &format!("`{status}`"), status_meaning(status));
    }
    roff.push_str(".PP\n");
    roff.push_str(&inline(
        "and any of these warnings, each followed by what to do about it:",
    ));
    roff.push('\n');
    for warning in Warning::ALL {
        tagged(roff, &format!("`{warning}`"), warning_meaning(warning));
        roff.push_str(".br\n");
        roff.push_str(&inline(&format!(
            "What to do: {}.",
            warning_advice(warning)
        )));
        roff.push('\n');
    }
}

fn files(roff: &mut String) {
    use pidscope::act::log::{ROOT_LOG, USER_LOG};
    use pidscope::config::{SYSTEM_CONFIG, USER_CONFIG};
    roff.push_str(".SH FILES\n");
    let user_config = format!(
        "`$XDG_CONFIG_HOME/{USER_CONFIG}` (`~/.config/{USER_CONFIG}` when XDG_CONFIG_HOME is unset)"
    );
    tagged(
        roff,
        &user_config,
        "The user's configuration, read first by every command but `run` (`--config FILE` or PIDSCOPE_CONFIG replaces both files).",
    );
    tagged(
        roff,
        &format!("`{SYSTEM_CONFIG}`"),
        "The system's configuration, read when the user has none; else built-in defaults.",
    );
    tagged(
        roff,
        "`/usr/share/doc/pidscope/examples/config.toml`",
        "An example configuration that documents every key.",
    );
    tagged(
        roff,
        &format!("`{ROOT_LOG}`"),
        "root's audit trail: every delete and signal, from the inspector or `clean`, one JSON line each (the configuration's `action_log` moves it).",
    );
    tagged(
        roff,
        &format!("`$XDG_STATE_HOME/{USER_LOG}` (`~/.local/state/{USER_LOG}`)"),
        "The audit trail of users other than root.",
    );
    if let Some(output) = textfile_output() {
        tagged(
            roff,
            &format!("`{output}`"),
            "The metrics `pidscope-audit.service` (run every minute by `pidscope-audit.timer`) writes for node_exporter's textfile collector, with `pidscope audit --format prometheus --output FILE`.",
        );
    }
}

/// The file `pidscope-audit.service` writes its metrics to.
fn textfile_output() -> Option<&'static str> {
    let (_, rest) = AUDIT_SERVICE.split_once("--output ")?;
    rest.split_whitespace().next()
}

fn environment(roff: &mut String) {
    roff.push_str(".SH ENVIRONMENT\n");
    for (name, text) in [
        (
            "PIDSCOPE_CONFIG",
            "The configuration file, as `--config FILE` names it.",
        ),
        (
            "PIDSCOPE_BPF",
            "When `0`, no BPF program is ever loaded: the holders of a lock that /proc/locks cannot name (a flock whose taker exited, an OFD lock) are found by walking every process's descriptors in /proc instead of with a task_file iterator, which only root (CAP_BPF and CAP_PERFMON) can use; and a scan made once reads /proc/locks even when a look at the lock lists of its open pidfiles would have shown that none is locked.",
        ),
        (
            "PIDSCOPE_TIMINGS",
            "When `1`, `audit` prints on stderr how long each phase of its scan took, in milliseconds: walk, read, units, probe, locks, classify and render.",
        ),
        (
            "NO_COLOR",
            "When set, even empty: no colour. Statuses are always written as words; the inspector uses bold and reverse video only.",
        ),
        (
            "XDG_CONFIG_HOME",
            "Where the user's configuration is looked for (default `~/.config`).",
        ),
        (
            "XDG_STATE_HOME",
            "Where the audit trail of users other than root goes (default `~/.local/state`).",
        ),
        (
            "SUDO_USER",
            "Recorded as `sudo_user` in each audit trail line, so an action taken through sudo names who took it.",
        ),
    ] {
        tagged(roff, &format!("`{name}`"), text);
    }
}

/// README.md's examples: each `$ pidscope ...` line with the output under it,
/// those of one subcommand on its page, all of them on the top-level page.
fn examples(roff: &mut String, sub: Option<&str>) {
    let chosen: Vec<Vec<&str>> = readme_examples()
        .into_iter()
        .filter(|lines| {
            let command = lines[0].trim_start_matches("$ pidscope ");
            sub.is_none_or(|name| command.split_whitespace().next() == Some(name))
        })
        .collect();
    if chosen.is_empty() {
        return;
    }
    roff.push_str(".SH EXAMPLES\n");
    for lines in chosen {
        roff.push_str(".PP\n.nf\n.RS 4\n");
        for line in lines {
            roff.push_str(&literal(line));
            roff.push('\n');
        }
        roff.push_str(".RE\n.fi\n");
    }
}

/// The README's examples: a `$ pidscope ` line and the lines under it, up to
/// a blank line, with their common indentation removed.
pub(super) fn readme_examples() -> Vec<Vec<&'static str>> {
    let mut examples = Vec::new();
    let mut lines = README.lines();
    while let Some(line) = lines.next() {
        let text = line.trim_start();
        if !text.starts_with("$ pidscope ") {
            continue;
        }
        let indent = line.len() - text.len();
        let mut example = vec![text];
        for next in lines.by_ref() {
            if next.trim().is_empty() {
                break;
            }
            example.push(next.get(indent..).unwrap_or(next.trim_start()));
        }
        examples.push(example);
    }
    examples
}

fn see_also(roff: &mut String, root: &Command, sub: Option<&Command>) {
    roff.push_str(".SH \"SEE ALSO\"\n");
    let own = pages(root)
        .into_iter()
        .filter(|page| sub.is_none_or(|sub| page != &format!("{ROOT}-{}", sub.get_name())))
        .filter(|page| sub.is_some() || page != ROOT)
        .map(|page| (page, "1".to_string()));
    let others = SEE_ALSO
        .iter()
        .map(|(name, section)| (name.to_string(), section.to_string()));
    let refs: Vec<String> = own
        .chain(others)
        .map(|(name, section)| format!("\\fB{}\\fR({section})", escape(&name, true)))
        .collect();
    roff.push_str(&refs.join(",\n"));
    roff.push('\n');
}

/// Text for a roff text line: backslashes escaped, `` `code` `` in bold with
/// real minus signs (so an option can be copied), a leading `.` or `'`
/// neutralised.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("\\fB");
            out.push_str(&escape(part, true));
            out.push_str("\\fR");
        } else {
            out.push_str(&escape(part, false));
        }
    }
    guard_line(out)
}

/// A line of a literal block (`.nf`): every `-` a minus sign, as typed.
fn literal(line: &str) -> String {
    guard_line(escape(line, true))
}

fn escape(text: &str, minus: bool) -> String {
    let text = text.replace('\\', "\\e");
    if minus {
        text.replace('-', "\\-")
    } else {
        text
    }
}

/// A line that starts with `.` or `'` would be taken for a request.
fn guard_line(line: String) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_bold_with_minus_signs_and_requests_are_neutralised() {
        assert_eq!(
            inline("run `--same-namespace` now"),
            "run \\fB\\-\\-same\\-namespace\\fR now"
        );
        assert_eq!(inline(".hidden"), "\\&.hidden");
        assert_eq!(literal("'quoted' a\\b"), "\\&'quoted' a\\eb");
    }

    #[test]
    fn the_audit_service_names_its_textfile() {
        assert_eq!(
            textfile_output(),
            Some("/var/lib/prometheus/node-exporter/pidscope.prom")
        );
    }

    #[test]
    fn readme_examples_keep_their_output_and_lose_their_indent() {
        let examples = readme_examples();
        let audit = examples
            .iter()
            .find(|e| e[0] == "$ pidscope audit /run")
            .expect("the audit example");
        assert!(audit.len() > 2, "{audit:?}");
        assert!(audit[1].starts_with("STATUS"), "{audit:?}");
    }
}
