//! Help, version, man page and completions: produced, complete, and in step
//! with the command-line definition.

mod common;

use common::{bin, run};

const SUBCOMMANDS: [&str; 6] = ["tui", "audit", "clean", "run", "man", "completions"];

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

#[test]
fn the_man_page_covers_every_subcommand() {
    let man = stdout(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH pidscope 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    for sub in ["tui", "audit", "clean", "run"] {
        assert!(
            man.contains(&format!(".SS \"pidscope {sub}\"")),
            "man page lacks {sub}"
        );
    }
    // Every option of audit is described.
    for option in ["\\-\\-json", "\\-\\-format", "\\-\\-output"] {
        assert!(
            man.contains(option) || man.contains(&option.replace("\\-", "-")),
            "man page lacks {option}"
        );
    }
    // No line of help text is taken for a roff request.
    for line in man.lines().filter(|l| l.starts_with('.')) {
        let request = line.split_whitespace().next().unwrap_or("");
        assert!(
            [
                ".ie", ".el", ".TH", ".SH", ".SS", ".TP", ".PP", ".RS", ".RE", ".nf", ".fi", ".br",
                ".IP", ".B", ".I"
            ]
            .contains(&request),
            "unexpected roff request: {line}"
        );
    }
}

#[test]
fn completions_for_every_shell_mention_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&["completions", shell]);
        assert!(script.len() > 500, "{shell}: too short");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = run(bin().args(["completions", "tcsh"]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
