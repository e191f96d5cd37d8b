//! Dropping the last handle to a realized value frees its buffer: a loop that builds and
//! realizes a 1 MB result 10,000 times must not grow memory.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};
use std::sync::Mutex;

/// Memory counters are per device and process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

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

/// Large tensors created, kept and dropped give their memory back to the operating system,
/// not only to kiln's counter: past the buffer pool's 1 GiB, a dropped buffer is destroyed
/// and the bind groups that held it are forgotten.
#[test]
fn dropped_tensors_give_process_memory_back_on_wgpu() {
    let Some(gpu) = gpu() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 16 << 20; // 64 MB of f32
    const POOL: usize = 1 << 30;
    let host = vec![0.5f32; N];
    let read_small = || {
        let t = Tensor::full_on(&[4], 1.0, DType::F32, &gpu).sum_all();
        assert_eq!(t.item::<f32>().unwrap(), 4.0);
    };
    read_small();
    let before = rss_bytes().expect("Linux's /proc");
    // Half computed by kernels (their outputs bound in cached bind groups), half uploaded.
    let kept: Vec<Tensor> = (0..48)
        .map(|i| match i % 2 {
            0 => Tensor::full_on(&[N], i as f64, DType::F32, &gpu)
                .contiguous()
                .realize()
                .unwrap(),
            _ => Tensor::from_slice_on(&host, &[N], &gpu).unwrap(),
        })
        .collect();
    read_small();
    let peak = rss_bytes().unwrap();
    assert!(
        peak > before + 40 * (N * 4),
        "the tensors were not resident: {before} -> {peak}"
    );
    drop(kept);
    read_small();
    let after = rss_bytes().unwrap();
    assert_eq!(gpu.memory_in_use(), 0);
    assert!(
        after < before + POOL + (256 << 20),
        "after dropping 3 GB of tensors the process holds {} MB more than before (peak {} MB more); the pool keeps at most 1 GiB",
        (after - before) >> 20,
        (peak - before) >> 20
    );
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
