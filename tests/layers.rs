//! The engine's layer order, held by its code (a tidy test, as rust-analyzer's are).
//!
//! ARCHITECTURE.md lists the engine's top-level modules bottom up in a ```layers block; a
//! module may refer to the modules listed before it and to no module after it. This test
//! reads every `crate::<module>` path in `engine/src` (the `use` lines and paths written
//! inline alike; comments and `#[cfg(test)]` modules are skipped: tests may use any layer)
//! and fails on a reference that runs up the order, naming the file and line. A strict order
//! admits no cycle between top-level modules.

mod common;
use common::rust_files;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The order from ARCHITECTURE.md's ```layers block: module name -> rank (bottom = 0).
fn written_order() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| !w.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The top-level modules lib.rs declares.
fn declared_modules(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

/// Files declared as `#[cfg(test)] mod name;`, which may use any layer.
fn test_only_files(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![];
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for w in lines.windows(2) {
            if w[0] == "#[cfg(test)]" {
                if let Some(name) = w[1].strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
                    let dir = match f.file_name().unwrap().to_str().unwrap() {
                        "mod.rs" | "lib.rs" => f.parent().unwrap().to_path_buf(),
                        other => f.parent().unwrap().join(other.trim_end_matches(".rs")),
                    };
                    out.push(dir.join(format!("{name}.rs")));
                    out.push(dir.join(name).join("mod.rs"));
                }
            }
        }
    }
    out
}

/// Every `crate::<name>` a line of code refers to, with the line number.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let code = line.trim();
        if code == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|(_, l)| l.trim().starts_with("mod "))
        {
            break; // an inline test module closes the file's code
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            rest = &rest[at + "crate::".len()..];
            if before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue; // `kiln_crate::` or the like
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            out.push((i + 1, name));
        }
    }
    out
}

#[test]
fn engine_imports_follow_the_written_layer_order() {
    let src = root().join("engine/src");
    let order = written_order();
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let declared = declared_modules(&src);
    let mut problems = vec![];
    for m in &declared {
        if !rank.contains_key(m.as_str()) {
            problems.push(format!(
                "engine/src/lib.rs: module `{m}` is missing from ARCHITECTURE.md's layers block"
            ));
        }
    }
    for m in &order {
        if !declared.contains(m) {
            problems.push(format!(
                "ARCHITECTURE.md's layers block lists `{m}`, which lib.rs does not declare"
            ));
        }
    }
    let mut files = vec![];
    rust_files(&src, &mut files);
    files.sort();
    let skipped = test_only_files(&files);
    let mut checked_references = 0;
    for f in files.iter().filter(|f| !skipped.contains(f)) {
        let rel = f.strip_prefix(root()).unwrap().display().to_string();
        let rel_src = f.strip_prefix(&src).unwrap();
        let top = rel_src
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let top = top.trim_end_matches(".rs");
        if top == "lib" {
            continue; // the public API re-exports every layer
        }
        let Some(&own) = rank.get(top) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        for (line, name) in references(&text) {
            checked_references += 1;
            if name.starts_with('{') {
                problems.push(format!("{rel}:{line}: import each layer on its own `use crate::<module>` line, so the order can be checked"));
                continue;
            }
            if name == top {
                continue;
            }
            match rank.get(name.as_str()) {
                None => problems.push(format!(
                    "{rel}:{line}: `crate::{name}` is not a module of the layer order (refer to an item through the module that defines it)"
                )),
                Some(&r) if r > own => problems.push(format!(
                    "{rel}:{line}: `{top}` uses `crate::{name}`, a layer above it (order, bottom up: {})",
                    order.join(" < ")
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        checked_references > 100,
        "the scan found only {checked_references} references: is it reading engine/src?"
    );
    assert!(
        problems.is_empty(),
        "layer order violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scan_sees_use_lines_inline_paths_and_skips_comments_and_tests() {
    let text = "use crate::graph::Node;\n// crate::tensor in a comment\nlet x = crate::trace::now(); // crate::realize\nfn f(k: &crate::Kernel) {}\n#[cfg(test)]\nmod tests {\n    use crate::tensor::Tensor;\n}\n";
    let found = references(text);
    assert_eq!(
        found,
        vec![
            (1, "graph".to_string()),
            (3, "trace".to_string()),
            (4, "Kernel".to_string())
        ]
    );
}
