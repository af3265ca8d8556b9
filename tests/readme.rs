//! Every `$ pidscope ...` example in README.md runs as written (on this
//! machine's /run), and is not a usage error.

mod common;

use common::{bin, run, tempdir};

/// Split a command line the way a shell would for these examples: words, and
/// single- or double-quoted strings.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[test]
fn every_readme_example_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let examples: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ pidscope "))
        .collect();
    assert!(examples.len() >= 3, "README has its examples: {examples:?}");
    let scratch = tempdir();
    for example in examples {
        // Files the examples write go to a scratch directory instead of system paths.
        let args: Vec<String> = words(example)
            .into_iter()
            .map(|w| match w.strip_prefix("/var/lib/") {
                Some(rest) => scratch
                    .path()
                    .join(rest.replace('/', "_"))
                    .display()
                    .to_string(),
                None => w,
            })
            .collect();
        let out = run(bin().args(&args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "`pidscope {example}` exited {:?}: {stderr}",
            out.status.code()
        );
        assert!(!stderr.contains("Usage:"), "`pidscope {example}`: {stderr}");
    }
}

#[test]
fn the_run_command_of_the_readme_starts_the_inspector() {
    // `cargo run --release` runs `pidscope` with no arguments: the inspector,
    // which without a terminal says where to go instead.
    let out = run(&mut bin());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pidscope audit"));
}
