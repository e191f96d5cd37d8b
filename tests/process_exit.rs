//! A program that realizes kernels on wgpu and returns from `main` without reading anything
//! back must exit cleanly (reliability issue: it died with SIGSEGV or "double free" at exit in
//! up to 59 of 60 runs on lavapipe, while the driver still compiled kiln's last kernel).
//!
//! The test runs this test binary again as the child program, 100 times.

mod common;
use common::*;
use kiln::Tensor;

const CHILD: &str = "KILN_EXIT_TEST_CHILD";

/// The child program: realizes two new kernels, reads nothing, returns.
#[test]
fn child_realizes_kernels_and_returns() {
    if std::env::var(CHILD).is_err() {
        return; // only meaningful as the child of the test below
    }
    let dev = gpu().expect("the parent checked for an adapter");
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[4], &dev).unwrap();
    let y = (&x * 3.0).exp().sum_all();
    y.realize().unwrap();
    (&x + &y).sin().realize().unwrap();
}

#[test]
fn programs_that_realize_and_return_exit_cleanly() {
    if gpu().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for run in 0..100 {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "child_realizes_kernels_and_returns", "--quiet"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run {run} of 100 exited with {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
