//! The codebase checks its own size rules (as rust-analyzer's tidy tests do): no function in
//! `engine/src` or `inspector/src` longer than 120 lines, no file longer than 600. A function
//! past that is split into named steps, a file by responsibility.

mod common;
use common::rust_files;
use std::path::PathBuf;

const MAX_FUNCTION_LINES: usize = 120;
const MAX_FILE_LINES: usize = 600;

/// The line's code with comments, string and char literals removed, so that only the
/// braces of the code are left to count.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                // A string on one line; an escaped quote does not end it.
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('{', '\n') is skipped; a lifetime ('a) is kept as is.
                let rest: String = chars.clone().take(3).collect();
                let literal = rest.starts_with('\\') || rest.chars().nth(1) == Some('\'');
                if literal {
                    while let Some(s) = chars.next() {
                        if s == '\\' {
                            chars.next();
                        } else if s == '\'' {
                            break;
                        }
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// (name, first line, length in lines) of every function with a body in `text`.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        let code = code_of(line);
        let Some(at) = code.find("fn ") else { continue };
        let before = &code[..at];
        let is_item = before.trim().is_empty()
            || before
                .trim_end()
                .ends_with(|c: char| c == ')' || c.is_alphabetic());
        if !is_item || code.trim_start().starts_with("//") {
            continue;
        }
        let name: String = code[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let mut depth = 0i64;
        let mut opened = false;
        for (j, l) in lines.iter().enumerate().skip(i) {
            let code = code_of(l);
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if !opened && code.trim_end().ends_with(';') {
                break; // a declaration without a body
            }
            if opened && depth <= 0 {
                out.push((name.clone(), i + 1, j - i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn functions_and_files_stay_short() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("engine/src"), &mut files);
    rust_files(&root.join("inspector/src"), &mut files);
    files.sort();
    let mut problems = vec![];
    let mut functions_seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(&root).unwrap().display();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!(
                "{rel}: {lines} lines (at most {MAX_FILE_LINES}): split it by responsibility"
            ));
        }
        for (name, line, len) in functions(&text) {
            functions_seen += 1;
            if len > MAX_FUNCTION_LINES {
                problems.push(format!(
                    "{rel}:{line}: fn {name} is {len} lines (at most {MAX_FUNCTION_LINES}): split it into named steps"
                ));
            }
        }
    }
    assert!(
        functions_seen > 500,
        "the scan found only {functions_seen} functions"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_measures_bodies_and_skips_literals() {
    let text = "fn a() {\n    let s = \"}{\";\n    let c = '{';\n}\nfn b<'x>(v: &'x str) -> &'x str { v }\ntrait T { fn c(&self); }\n";
    assert_eq!(
        functions(text),
        vec![("a".to_string(), 1, 4), ("b".to_string(), 5, 1)]
    );
}
