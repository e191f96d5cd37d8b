//! `DEBUG=1..6` output, pinned by golden files (`tests/golden/debug_N.txt`) that tolerate
//! times and colors: the test runs this binary again with `DEBUG=N NO_COLOR=1` (the level is
//! read once per process), on the CPU device so that limits and kernels do not depend on the
//! adapter, and replaces every decimal number (times, rates, memory) and the GFLOPS with `F`
//! and runs of spaces with one. `kiln::debug::set_level` is checked the same way. After an intended
//! change: `KILN_BLESS=1 cargo test --test debug_levels -- --test-threads=1`, then review the
//! diff.

use kiln::{Device, Tensor};

const CHILD: &str = "KILN_DEBUG_TEST_CHILD";

#[test]
fn child_prints_debug_output() {
    let Ok(how) = std::env::var(CHILD) else {
        return; // only meaningful as the child of the tests below
    };
    if let Ok(level) = how.parse::<u32>() {
        kiln::debug::set_level(level);
    }
    let dev = Device::cpu();
    let data: Vec<f32> = (0..32).map(|i| (i % 7) as f32 * 0.5 - 1.0).collect();
    let x = Tensor::from_slice_on(&data, &[4, 8], &dev).unwrap();
    x.softmax(-1).realize().unwrap();
    let y = (&x * 3.0).sum(&[1]).realize().unwrap();
    // The same step over new data: a schedule-cache hit (DEBUG=1 says so), nothing compiled.
    let x2 = Tensor::from_slice_on(
        &data.iter().map(|v| v * 2.0).collect::<Vec<_>>(),
        &[4, 8],
        &dev,
    )
    .unwrap();
    x2.softmax(-1).realize().unwrap();
    // A copy between devices gets its own DEBUG=2 line (CPU to CPU would be no copy).
    if let Ok(gpu) = Device::gpu() {
        let back = y.to(&gpu).unwrap().to(&dev).unwrap();
        assert_eq!(back.to_vec::<f32>().unwrap(), y.to_vec::<f32>().unwrap());
    }
}

/// Decimal numbers become `F`, runs of spaces one space.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    // Copies (to the GPU and back, where there is one) are checked apart: the golden files
    // hold what every machine prints. Driver notices are not kiln's.
    for line in text
        .lines()
        .filter(|l| !l.starts_with("*** COPY") && !l.starts_with("WARNING:"))
    {
        let mut norm = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_digit() {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let token: String = chars[start..i].iter().collect();
                if token.contains('.') && !token.ends_with('.') {
                    norm.push('F');
                } else {
                    norm.push_str(&token);
                }
                continue;
            }
            if chars[i] == ' ' && norm.ends_with(' ') {
                i += 1;
                continue;
            }
            norm.push(chars[i]);
            i += 1;
        }
        // GFLOPS print as integers (tinygrad's format): a number too.
        if let Some(at) = norm.find(" GFLOPS") {
            let start = norm[..at]
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .len();
            norm.replace_range(start..at, "F");
        }
        out.push_str(norm.trim_end());
        out.push('\n');
    }
    out
}

fn run_child(level_env: Option<&str>, set_level: Option<&str>) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args([
        "--exact",
        "child_prints_debug_output",
        "--nocapture",
        "--quiet",
    ])
    .env(CHILD, set_level.unwrap_or("env"))
    .env("NO_COLOR", "1")
    .env_remove("DEBUG")
    .env_remove("KILN_TRACE");
    if let Some(l) = level_env {
        cmd.env("DEBUG", l);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    normalize(&String::from_utf8_lossy(&out.stderr))
}

/// Compares with the golden file; `bless` (one writer only: tests run in parallel) rewrites it
/// first under `KILN_BLESS=1`.
fn check(level: u32, got: &str, bless: bool) {
    let path = format!(
        "{}/tests/golden/debug_{level}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if bless && std::env::var("KILN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with KILN_BLESS=1 to create it)"));
    assert!(
        got == want,
        "DEBUG={level} output changed. If intended, rerun with KILN_BLESS=1 and review the diff.\n--- got ---\n{got}\n--- want ---\n{want}"
    );
}

#[test]
fn every_debug_level_matches_its_golden_file() {
    let mut previous = 0;
    for level in 1..=6u32 {
        let got = run_child(Some(&level.to_string()), None);
        // Each level prints more than the one before.
        assert!(
            got.len() > previous,
            "DEBUG={level} printed no more than DEBUG={}",
            level - 1
        );
        previous = got.len();
        check(level, &got, true);
    }
    assert_eq!(
        run_child(None, None),
        "",
        "without DEBUG nothing is printed"
    );
}

#[test]
fn set_level_from_code_prints_like_the_environment() {
    check(3, &run_child(None, Some("3")), false);
    check(2, &run_child(Some("5"), Some("2")), false);
}
