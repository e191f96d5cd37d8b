//! Compiled pipelines persist across processes through wgpu's `PipelineCache` (Vulkan), in
//! `kiln::cache_dir()` (`KILN_CACHE_DIR` here). The test runs this binary twice with a fresh
//! directory: the first child writes the file, the second loads it and still computes right;
//! `KILN_PIPELINE_CACHE=0` writes nothing.

mod common;
use common::*;
use kiln::{DType, Device};

const CHILD: &str = "KILN_PIPELINE_CACHE_TEST_CHILD";

#[test]
fn child_compiles_a_kernel() {
    if std::env::var(CHILD).is_err() {
        return; // only meaningful as the child of the test below
    }
    let dev = Device::gpu().expect("the parent checked for a GPU");
    let x = rand_input(DType::F32, &[16, 24], 1).on(&dev);
    let y = x.softmax(-1);
    let want = y.oracle().unwrap().data;
    assert_close("softmax", &read(&y), &want, 1e-5, 1e-4);
}

fn run_child(dir: &std::path::Path, enabled: bool) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["--exact", "child_compiles_a_kernel", "--quiet"])
        .env(CHILD, "1")
        .env("KILN_CACHE_DIR", dir);
    if !enabled {
        cmd.env("KILN_PIPELINE_CACHE", "0");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pipelines_are_saved_and_reloaded() {
    let Ok(dev) = Device::gpu() else {
        return println!("no GPU adapter: nothing to cache");
    };
    if !dev.name().ends_with("(Vulkan)") {
        return println!("{}: wgpu's pipeline cache is Vulkan-only", dev.name());
    }
    let dir = std::env::temp_dir().join(format!("kiln-pipelines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    run_child(&dir, false);
    assert!(
        files(&dir).is_empty(),
        "KILN_PIPELINE_CACHE=0 wrote {:?}",
        files(&dir)
    );
    run_child(&dir, true);
    let written = files(&dir);
    assert!(
        written.len() == 1 && written[0].starts_with("wgpu_pipeline_cache_vulkan"),
        "{written:?}"
    );
    // The next process loads it and computes the same values.
    run_child(&dir, true);
    assert_eq!(files(&dir), written);
    std::fs::remove_dir_all(&dir).unwrap();
}
