//! Dropping the last handle to a realized value frees its buffer: a loop that builds and
//! realizes a 1 MB result 10,000 times must not grow memory.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};
use std::sync::Mutex;

/// Memory counters are per device and process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn churn(dev: &Device, iterations: usize) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 256 * 1024; // 1 MB of f32
    let x = Tensor::ones_on(&[N], DType::F32, dev)
        .contiguous()
        .realize()
        .unwrap();
    let baseline_nodes = kiln::live_nodes();
    let baseline_mem = dev.memory_in_use();
    let mut rss_after_warmup = None;
    for i in 0..iterations {
        // The same expression each time (a new constant would be a new kernel to compile).
        let y = (&x * 2.0f32 + &x).realize().unwrap();
        assert!(y.is_realized());
        if i == iterations / 10 {
            rss_after_warmup = rss_bytes();
        }
        if i % 1000 == 999 {
            // An occasional read keeps the host from running arbitrarily far ahead.
            assert_eq!(y.shrink(&[(0, 1)]).item::<f32>().unwrap(), 3.0);
        }
    }
    assert_eq!(
        dev.memory_in_use(),
        baseline_mem,
        "device memory grew on {dev:?}"
    );
    assert!(
        kiln::live_nodes() <= baseline_nodes + 2,
        "graph nodes leaked: {} -> {}",
        baseline_nodes,
        kiln::live_nodes()
    );
    if let (Some(a), Some(b)) = (rss_after_warmup, rss_bytes()) {
        assert!(
            b < a + 64 * 1024 * 1024,
            "process memory grew from {a} to {b} bytes on {dev:?}"
        );
    }
}

#[test]
fn realizing_in_a_loop_does_not_grow_memory_on_wgpu() {
    if let Some(gpu) = gpu() {
        churn(&gpu, 10_000);
    }
}

#[test]
fn realizing_in_a_loop_does_not_grow_memory_on_cpu() {
    churn(&Device::cpu(), 10_000);
}

#[test]
fn dropping_tensors_frees_nodes_and_buffers() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Device::cpu();
    let before_nodes = kiln::live_nodes();
    let before_mem = dev.memory_in_use();
    {
        let a = Tensor::from_slice_on(&[1.0f32; 100], &[10, 10], &dev).unwrap();
        let b = a.exp().sum(&[1]).realize().unwrap();
        assert!(dev.memory_in_use() > before_mem);
        drop(a);
        // b no longer needs a: realizing dropped its sources.
        assert_eq!(b.numel(), 10);
    }
    assert_eq!(dev.memory_in_use(), before_mem);
    assert!(
        kiln::live_nodes() <= before_nodes,
        "{} live nodes, {} before",
        kiln::live_nodes(),
        before_nodes
    );
}
