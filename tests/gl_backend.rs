//! wgpu falls back to its GL backend when no Vulkan driver is found. kiln names the backend in
//! the device string and runs on it: the GL adapter binds only 16 storage buffers, and its
//! float -> int casts differed. The test runs this binary again with `WGPU_BACKEND=gl` (the
//! backend is chosen once per process) and checks the cases that differed there against the
//! oracle. Where the machine has no GL driver, it says so and passes.
//! The whole suite also passes under `WGPU_BACKEND=gl` on llvmpipe. The same child-process
//! trick checks the report of a missing adapter (a backend this platform lacks).

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

const CHILD: &str = "KILN_GL_TEST_CHILD";

#[test]
fn child_runs_on_gl() {
    if std::env::var(CHILD).is_err() {
        return; // only meaningful as the child of the test below
    }
    let dev = match Device::gpu() {
        Ok(d) if d.name().contains("(Gl)") => d,
        Ok(d) => return println!("NO_GL: the adapter is {}", d.name()),
        Err(e) => return println!("NO_GL: {e}"),
    };
    // Casts of out-of-range floats follow Rust's `as`, as on every other path.
    let x = Tensor::from_slice_on(
        &[
            3e9f32,
            -3e9,
            f32::NAN,
            -1.5,
            2.7,
            f32::INFINITY,
            -0.0,
            1e-30,
        ],
        &[8],
        &dev,
    )
    .unwrap();
    for d in [DType::I32, DType::U32, DType::Bool] {
        let y = x.cast(d);
        assert_close(
            &format!("cast to {d:?}"),
            &read(&y),
            &y.oracle().unwrap().data,
            0.0,
            0.0,
        );
    }
    // 40 outputs of one input: more than the 16 bindings GL allows in one kernel.
    let xi = x.cast(DType::I32);
    let outs: Vec<Tensor> = (0..40).map(|i| &xi + &xi * (i as f32 + 2.0)).collect();
    let refs: Vec<&Tensor> = outs.iter().collect();
    let s = kiln::schedule(&refs).unwrap();
    assert!(s.kernels().len() >= 3, "{s:?}");
    s.run().unwrap();
    for o in &outs {
        assert_close("outputs", &read(o), &o.oracle().unwrap().data, 0.0, 0.0);
    }
    // A long reduction, split in two stages.
    let ones = Tensor::ones_on(&[1 << 20], DType::F32, &dev).contiguous();
    assert_eq!(ones.sum_all().item::<f32>().unwrap(), (1 << 20) as f32);
    println!("GL_OK on {}", dev.name());
}

#[test]
fn runs_on_the_gl_backend_where_there_is_one() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(&exe)
        .args(["--exact", "child_runs_on_gl", "--nocapture", "--quiet"])
        .env(CHILD, "1")
        .env("WGPU_BACKEND", "gl")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the GL child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(line) = stdout.lines().find(|l| l.starts_with("NO_GL")) {
        eprintln!("skipping the GL backend: {line}");
        return;
    }
    assert!(stdout.contains("GL_OK"), "{stdout}");
}

const NO_ADAPTER_CHILD: &str = "KILN_NO_ADAPTER_TEST_CHILD";

/// The child: a backend this platform lacks, so there is no adapter.
#[test]
fn child_without_an_adapter() {
    if std::env::var(NO_ADAPTER_CHILD).is_err() {
        return;
    }
    match kiln::default_device() {
        Err(e) => println!("ERR {e}"),
        Ok(d) => println!("OK {}", d.name()),
    }
}

/// Device errors said "device: KILN_REQUIRE_GPU=1 but device: no wgpu adapter": one prefix.
#[test]
fn a_missing_adapter_is_reported_once() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(&exe)
        .args([
            "--exact",
            "child_without_an_adapter",
            "--nocapture",
            "--quiet",
        ])
        .env(NO_ADAPTER_CHILD, "1")
        .env("WGPU_BACKEND", "dx12")
        .env("KILN_REQUIRE_GPU", "1")
        .env_remove("KILN_DEVICE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ERR") || l.starts_with("OK"));
    match line {
        Some(l) if l.starts_with("ERR") => {
            assert_eq!(l.matches("device:").count(), 1, "{l}");
            assert!(l.contains("KILN_REQUIRE_GPU=1 but no wgpu adapter"), "{l}");
        }
        // A platform with DX12 has an adapter: nothing to check there.
        other => eprintln!("skipping: {other:?}"),
    }
}
