//! The layering ARCHITECTURE.md describes is the layering of the code: its
//! module table is checked against the imports, no two modules import each
//! other (directly or around a cycle), no source file outgrows a reader,
//! and the core crate depends on no I/O crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The edge crate's folders and the two workspace crates, as the table
/// names them.
const EDGE: &[&str] = &[
    "config",
    "notify",
    "offline",
    "service",
    "telemetry",
    "tools",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().unwrap().to_string_lossy();
    name == "tests" || name.ends_with("_tests")
}

/// The source of a file without its `#[cfg(test)]` module and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names that follow `prefix` in `text`, e.g. `crate::` → `core`.
fn after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    let bytes = text.as_bytes();
    text.match_indices(prefix)
        // Not the tail of a longer path such as `self::super::`.
        .filter(|(i, _)| {
            *i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':')
        })
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// Imports between the core crate's modules.
fn core_graph() -> Graph {
    let src = Path::new(ROOT).join("crates/leadpulse-core/src");
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && !is_test_file(&path) {
            modules.insert(name);
        }
    }
    let mut graph = Graph::new();
    for m in &modules {
        let file = src.join(format!("{m}.rs"));
        let files = if file.exists() {
            vec![file]
        } else {
            rust_files(&src.join(m))
        };
        let deps = graph.entry(format!("core::{m}")).or_default();
        for f in files.iter().filter(|f| !is_test_file(f)) {
            let text = code(f);
            // `super::` names the crate root from `m.rs` and `m/mod.rs`.
            let nested = f.parent().unwrap() != src && !f.ends_with("mod.rs");
            let parent = if nested { "super::super::" } else { "super::" };
            for name in after(&text, "crate::")
                .into_iter()
                .chain(after(&text, parent))
            {
                if name != m && modules.contains(name) {
                    deps.insert(format!("core::{name}"));
                }
            }
        }
    }
    graph
}

/// Imports between the edge crate's folders, the codec and the core.
fn edge_graph() -> Graph {
    let mut graph = Graph::new();
    let codec = Path::new(ROOT).join("crates/leadpulse-codec/src");
    let deps = graph.entry("codec".into()).or_default();
    for f in rust_files(&codec).iter().filter(|f| !is_test_file(f)) {
        if code(f).contains("leadpulse_core") {
            deps.insert("core".into());
        }
    }
    for m in EDGE {
        let deps = graph.entry((*m).into()).or_default();
        let dir = Path::new(ROOT).join("src").join(m);
        for f in rust_files(&dir).iter().filter(|f| !is_test_file(f)) {
            for name in after(&code(f), "crate::") {
                if name != *m && (EDGE.contains(&name) || name == "core" || name == "codec") {
                    deps.insert(name.into());
                }
            }
        }
    }
    graph
}

/// The module table of ARCHITECTURE.md: module → what it may import.
fn documented() -> Graph {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## Modules\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a Modules section");
    let section = section.split("\n## ").next().unwrap();
    let mut graph = Graph::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a module row has three cells: {line}");
        let ticked = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        for module in ticked(cells[0]) {
            let imports = ticked(cells[2]).into_iter().collect();
            assert!(
                graph.insert(module.clone(), imports).is_none(),
                "{module} is listed twice"
            );
        }
    }
    graph
}

#[test]
fn the_module_table_in_architecture_md_matches_the_imports() {
    let doc = documented();
    let mut code = core_graph();
    code.extend(edge_graph());
    for (module, imports) in &code {
        let listed = doc.get(module).unwrap_or_else(|| {
            panic!(
                "ARCHITECTURE.md's module table has no row for `{module}` (it imports {imports:?})"
            )
        });
        assert_eq!(
            listed, imports,
            "ARCHITECTURE.md says `{module}` imports {listed:?}; the code imports {imports:?}"
        );
    }
    let missing: Vec<_> = doc.keys().filter(|m| !code.contains_key(*m)).collect();
    assert!(
        missing.is_empty(),
        "the table lists modules that do not exist: {missing:?}"
    );
}

fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut c = path[i..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(graph, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(graph, n, &mut Vec::new(), &mut done))
}

#[test]
fn no_modules_import_each_other() {
    for graph in [core_graph(), edge_graph()] {
        assert_eq!(cycle(&graph), None, "an import cycle");
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for dir in ["src", "crates"] {
        for f in rust_files(&Path::new(ROOT).join(dir)) {
            if is_test_file(&f) {
                continue;
            }
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            if lines > 600 {
                long.push(format!("{} ({lines} lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn the_core_crate_depends_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(ROOT)
        .args([
            "tree",
            "--locked",
            "-p",
            "leadpulse-core",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: BTreeSet<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(crates.contains("leadpulse-core"), "{tree}");
    for io in [
        "rdkafka",
        "rdkafka-sys",
        "tokio",
        "tracing",
        "metrics",
        "axum",
        "hyper",
        "mio",
    ] {
        assert!(
            !crates.contains(io),
            "leadpulse-core depends on {io}:\n{tree}"
        );
    }
}
