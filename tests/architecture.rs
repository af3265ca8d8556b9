//! The shape ARCHITECTURE.md promises, checked: imports only flow down the
//! layers, and no two source files import each other, directly or around a
//! loop. Read from the source text (the part before `#[cfg(test)]`, as the
//! tests of a module may reach anywhere), like a reviewer would.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The library's top-level modules, bottom first. A module may use the
/// modules of lower layers, never those of its own layer or above.
const LAYERS: &[&[&str]] = &[
    &["cores", "kept", "serial", "text"],
    &["scan", "probe"],
    &["systemd"],
    &["verdict"],
    &["display"],
    &["policy"],
    &["report", "config", "lock"],
    &["inspect"],
    &["act", "live"],
    &["tui"],
    &["fixture"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`.
fn module_of(path: &Path) -> Vec<String> {
    let rel = path
        .strip_prefix("src")
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a file names with `crate::` or `super::`, including the
/// items of `{...}` groups (`crate::a::{b, c::d}` names `a::b` and `a::c::d`).
fn references(me: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for head in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(head) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + head.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut base: Vec<String> = if head == "crate::" {
                Vec::new()
            } else {
                // `super` of module a::b (`a/b.rs`) is `a`; of module a (`a/mod.rs`), the crate.
                me[..me.len().saturating_sub(1)].to_vec()
            };
            base.extend(
                path.trim_end_matches(':')
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            if path.ends_with("::") && rest[path.len()..].starts_with('{') {
                let group: String = rest[path.len() + 1..]
                    .chars()
                    .take_while(|c| *c != '}')
                    .collect();
                for item in group.split(',') {
                    let item = item.trim().split("::").next().unwrap_or_default().trim();
                    if !item.is_empty() && item != "self" {
                        let mut t = base.clone();
                        t.push(item.to_string());
                        found.push(t);
                    }
                }
            }
            found.push(base);
        }
    }
    found
}

struct Graph {
    /// file -> files it imports
    edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    /// module path -> file
    files: BTreeMap<Vec<String>, PathBuf>,
}

fn graph() -> Graph {
    let mut paths = Vec::new();
    sources(Path::new("src"), &mut paths);
    let files: BTreeMap<Vec<String>, PathBuf> =
        paths.iter().map(|p| (module_of(p), p.clone())).collect();
    let resolve = |target: &[String]| {
        (1..=target.len())
            .rev()
            .find_map(|k| files.get(&target[..k]).cloned())
    };
    let mut edges = BTreeMap::new();
    for path in &paths {
        let text = fs::read_to_string(path).expect("source is readable");
        let me = module_of(path);
        let mut out = BTreeSet::new();
        for target in references(&me, &code(&text)) {
            if let Some(file) = resolve(&target).filter(|f| f != path) {
                out.insert(file);
            }
        }
        edges.insert(path.clone(), out);
    }
    Graph { edges, files }
}

#[test]
fn imports_only_flow_down_the_layers() {
    let g = graph();
    let mut upward = Vec::new();
    for (from, targets) in &g.edges {
        let from_mod = module_of(from);
        // The binary (src/main.rs, src/cli/) and the crate root sit above everything.
        let Some(top) = from_mod.first() else {
            continue;
        };
        if top == "cli" || top == "main" {
            continue;
        }
        let from_layer = layer(top).unwrap_or_else(|| {
            panic!("src/{top} is in no layer: add it to LAYERS and to ARCHITECTURE.md")
        });
        for to in targets {
            let to_mod = module_of(to);
            let Some(to_top) = to_mod.first() else {
                continue;
            };
            if to_top == top {
                continue;
            }
            let to_layer = layer(to_top).unwrap_or(usize::MAX);
            if to_layer >= from_layer {
                upward.push(format!("{} -> {}", from.display(), to.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not flow down:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_source_files_import_each_other() {
    let g = graph();
    // Tarjan's strongly connected components over the file graph.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Path, usize>,
        low: BTreeMap<&'a Path, usize>,
        stack: Vec<&'a Path>,
        on_stack: BTreeSet<&'a Path>,
        cycles: Vec<Vec<String>>,
    }
    fn strong<'a>(s: &mut State<'a>, v: &'a Path) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.g.edges[v] {
            let w = w.as_path();
            if !s.index.contains_key(w) {
                strong(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.display().to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.cycles.push(component);
            }
        }
    }
    let mut s = State {
        g: &g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        cycles: Vec::new(),
    };
    for v in g.edges.keys() {
        if !s.index.contains_key(v.as_path()) {
            strong(&mut s, v);
        }
    }
    let roots = ["src/lib.rs", "src/main.rs"];
    let cycles: Vec<_> = s
        .cycles
        .into_iter()
        .filter(|c| !c.iter().all(|f| roots.contains(&f.as_str())))
        .collect();
    assert!(
        cycles.is_empty(),
        "files that import each other: {cycles:?}"
    );
}

#[test]
fn the_checker_sees_imports() {
    // A checker that finds no edges would pass anything.
    let g = graph();
    let edges = |file: &str| &g.edges[Path::new(file)];
    assert!(
        edges("src/inspect/judge.rs").contains(Path::new("src/policy/mod.rs"))
            || edges("src/inspect/judge.rs").contains(Path::new("src/policy/classify.rs"))
    );
    assert!(edges("src/act/mod.rs").contains(Path::new("src/policy/delete.rs")));
    assert!(g.files.len() > 20, "{} files", g.files.len());
    let refs = references(
        &["a".into(), "b".into()],
        "use super::c::{d, e::f};\nuse crate::x::y;",
    );
    assert!(
        refs.contains(&vec!["a".to_string(), "c".into(), "d".into()]),
        "{refs:?}"
    );
    assert!(
        refs.contains(&vec!["a".to_string(), "c".into(), "e".into()]),
        "{refs:?}"
    );
    assert!(
        refs.contains(&vec!["x".to_string(), "y".into()]),
        "{refs:?}"
    );
}
