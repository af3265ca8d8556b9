//! Help, version, man page and completions: produced, complete, and in step
//! with the command-line definition.

mod common;

use common::{bin, run};

const SUBCOMMANDS: [&str; 7] = [
    "tui",
    "audit",
    "clean",
    "run",
    "watch",
    "man",
    "completions",
];

fn stdout(args: &[&str]) -> String {
    let out = run(bin().args(args));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn help_and_version() {
    let help = stdout(&["--help"]);
    for sub in SUBCOMMANDS {
        assert!(help.contains(sub), "--help lacks {sub}");
        let sub_help = stdout(&[sub, "--help"]);
        assert!(
            sub_help.contains("Usage: pidscope"),
            "{sub} --help: {sub_help}"
        );
    }
    assert_eq!(
        stdout(&["--version"]).trim(),
        format!("pidscope {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The roff requests the pages may use (a line of text taken for one would vanish).
const REQUESTS: [&str; 15] = [
    ".ie", ".el", ".TH", ".SH", ".SS", ".TP", ".PP", ".RS", ".RE", ".nf", ".fi", ".br", ".IP",
    ".B", ".I",
];

fn pages() -> Vec<String> {
    stdout(&["man", "--list"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn there_is_a_page_per_subcommand_and_each_has_every_section() {
    let pages = pages();
    let mut expected = vec!["pidscope".to_string()];
    expected.extend(SUBCOMMANDS.iter().map(|sub| format!("pidscope-{sub}")));
    for page in &expected {
        assert!(pages.contains(page), "no page {page}: {pages:?}");
    }
    for page in &pages {
        let man = stdout(&["man", page]);
        assert!(
            man.contains(&format!(".TH {page} 1 ")),
            "{page}: {}",
            &man[..200.min(man.len())]
        );
        // Every subcommand has its exit statuses; the top-level page has them all.
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH \"EXIT STATUS\"",
            ".SH FILES",
            ".SH ENVIRONMENT",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(man.contains(section), "{page} lacks {section}");
        }
        for line in man.lines().filter(|l| l.starts_with('.')) {
            let request = line.split_whitespace().next().unwrap_or("");
            assert!(
                REQUESTS.contains(&request),
                "{page}: unexpected roff request: {line}"
            );
        }
        for other in [
            "kill",
            "flock",
            "pidfile",
            "systemd.service",
            "start\\-stop\\-daemon",
        ] {
            assert!(
                man.contains(&format!("\\fB{other}\\fR(")),
                "{page} does not refer to {other}"
            );
        }
    }
}

#[test]
fn the_top_page_lists_every_command_and_its_exit_statuses() {
    let man = stdout(&["man"]);
    assert_eq!(man, stdout(&["man", "pidscope"]));
    for sub in ["audit", "clean", "run", "man", "completions"] {
        assert!(
            man.contains(&format!(".SS \"pidscope {sub}\"")),
            "EXIT STATUS lacks {sub}"
        );
        assert!(
            man.contains(&format!("pidscope\\-{sub}\\fR(1)")),
            "SEE ALSO lacks pidscope-{sub}"
        );
    }
    assert!(man.contains(".SS \"pidscope, pidscope tui\""));
    // Every option of audit is described on its page.
    let audit = stdout(&["man", "audit"]);
    for option in ["\\-\\-json", "\\-\\-format", "\\-\\-output"] {
        assert!(audit.contains(option), "pidscope-audit(1) lacks {option}");
    }
    assert!(!audit.contains("\\fB75\\fR"), "audit shows run's statuses");
    let run = stdout(&["man", "pidscope-run"]);
    assert!(
        run.contains("\\fB75\\fR") && run.contains("\\fB128+N\\fR"),
        "run's statuses"
    );
}

#[test]
fn a_page_is_named_by_its_command_or_its_own_name_and_unknown_ones_are_refused() {
    assert_eq!(
        stdout(&["man", "audit"]),
        stdout(&["man", "pidscope-audit"])
    );
    let out = run(bin().args(["man", "pidscope-frobnicate"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("\"pidscope-frobnicate\""), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// The rows of the README table whose header starts with `| {first} |`:
/// each row's cells, trimmed, with the first one's backticks removed.
fn readme_table(first: &str) -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut lines = readme.lines().skip_while(|l| {
        !l.starts_with('|')
            || l.trim_start_matches('|').split('|').next().map(str::trim) != Some(first)
    });
    lines.next();
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let mut cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('|').trim().to_string())
                .collect();
            cells[0] = cells[0].trim_matches('`').to_string();
            cells
        })
        .collect()
}

#[test]
fn readme_and_man_page_say_the_same_of_every_status_and_warning() {
    use pidscope::display::meaning::{status_meaning, warning_advice, warning_meaning};
    use pidscope::verdict::{Status, Warning};
    let man = stdout(&["man"]);
    let statuses = readme_table("status");
    assert_eq!(statuses.len(), Status::ALL.len(), "{statuses:?}");
    for (row, status) in statuses.iter().zip(Status::ALL) {
        assert_eq!(row[0], status.as_str());
        assert_eq!(row[1], status_meaning(status), "README's {status}");
        assert!(
            man.contains(&format!("\\fB{status}\\fR")),
            "man lacks {status}"
        );
    }
    let warnings = readme_table("warning");
    assert_eq!(warnings.len(), Warning::ALL.len(), "{warnings:?}");
    for (row, warning) in warnings.iter().zip(Warning::ALL) {
        assert_eq!(row[0], warning.as_str());
        assert_eq!(row[1], warning_meaning(warning), "README's {warning}");
        assert_eq!(
            row[2],
            warning_advice(warning),
            "README's advice on {warning}"
        );
        let code = warning.as_str().replace('-', "\\-");
        assert!(
            man.contains(&format!("\\fB{code}\\fR")),
            "man lacks {warning}"
        );
    }
}

#[test]
fn the_examples_are_the_readmes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let man = stdout(&["man"]);
    let mut seen = 0;
    for line in readme
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("$ pidscope "))
    {
        let roff = line.replace('\\', "\\e").replace('-', "\\-");
        assert!(man.contains(&roff), "EXAMPLES lacks {line}");
        let sub = line.split_whitespace().nth(2).expect("a subcommand");
        assert!(
            stdout(&["man", sub]).contains(&roff),
            "pidscope-{sub}(1) lacks {line}"
        );
        seen += 1;
    }
    assert!(seen >= 3);
}

#[test]
fn completions_for_every_shell_mention_every_subcommand() {
    let pages = pages();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&["completions", shell]);
        assert!(script.len() > 500, "{shell}: too short");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
        // The closed sets: formats, shells, man pages.
        for word in ["table json prometheus", "powershell"]
            .into_iter()
            .chain(pages.iter().map(String::as_str))
        {
            let word = word.split(' ').next_back().unwrap_or(word);
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    // PATH, FILE and COMMAND arguments complete as such.
    let zsh = stdout(&["completions", "zsh"]);
    assert!(zsh.contains("*::paths -- Directories to walk or files to inspect (default\\: the config'\\''s `dirs`, else /run):_files"), "{zsh}");
    assert!(zsh.contains("]:FILE:_files"));
    assert!(zsh.contains(":_cmdambivalent"));
    assert!(stdout(&["completions", "fish"]).contains("-l output -d 'Write the report"));
    assert!(stdout(&["completions", "bash"]).contains("compgen -f"));
    let out = run(bin().args(["completions", "tcsh"]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_bash_completion_loads() {
    let script = stdout(&["completions", "bash"]);
    let dir = common::tempdir();
    let file = dir.path().join("pidscope");
    std::fs::write(&file, script).expect("write");
    let out = run(std::process::Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && complete -p pidscope")
        .arg("bash")
        .arg(&file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("-F _pidscope pidscope"));
}

/// The (status, meaning) rows of the first table after the README line
/// starting with `heading`.
fn readme_exit_table(heading: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    readme
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip_while(|l| !l.starts_with('|'))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').splitn(2, '|').collect();
            let meaning = cells[1].trim().trim_end_matches('|').trim();
            (cells[0].trim().to_string(), meaning.to_string())
        })
        .collect()
}

/// The (status, meaning) entries of a man page's EXIT STATUS section, the
/// roff markup turned back into README's (bold to backticks, `\-` to `-`).
fn man_exit_statuses(page: &str) -> Vec<(String, String)> {
    let roff = stdout(&["man", page]);
    let plain = |l: &str| {
        l.replace("\\fB", "`")
            .replace("\\fR", "`")
            .replace("\\-", "-")
            .replace("\\e", "\\")
    };
    let lines: Vec<&str> = roff
        .lines()
        .skip_while(|l| *l != ".SH \"EXIT STATUS\"")
        .skip(1)
        .take_while(|l| !l.starts_with(".SH"))
        .collect();
    lines
        .split(|l| *l == ".TP")
        .filter(|entry| entry.len() >= 2)
        .map(|entry| {
            let status = plain(entry[0]).trim_matches('`').to_string();
            (status, plain(&entry[1..].join(" ")))
        })
        .collect()
}

#[test]
fn readme_and_man_pages_give_the_same_exit_statuses() {
    for (page, heading) in [
        ("audit", "### Exit status"),
        ("run", "### `pidscope run --pidfile"),
    ] {
        let readme = readme_exit_table(heading);
        assert!(readme.len() >= 3, "README's {page} table: {readme:?}");
        assert_eq!(
            readme,
            man_exit_statuses(page),
            "README and pidscope-{page}(1) disagree on the exit statuses"
        );
    }
}
