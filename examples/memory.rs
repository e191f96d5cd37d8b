//! What the process's memory does (resident set, Linux): the numbers of BENCHMARKS.md's
//! "Memory" section.
//!
//! ```sh
//! cargo run --release --example memory                  # 100 computed tensors of 64 MB, kept, dropped
//! cargo run --release --example memory -- upload 100    # the same, uploaded from the host
//! cargo run --release --example memory -- pipelines 100 # RSS per new pipeline
//! ```

use kiln::{DType, Device, Tensor};

fn rss_gb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e9
}

fn read_small(gpu: &Device) -> kiln::Result<f32> {
    Tensor::full_on(&[4], 1.0, DType::F32, gpu)
        .sum_all()
        .item::<f32>()
}

fn tensors(gpu: &Device, upload: bool, count: usize) -> kiln::Result<()> {
    const N: usize = 16 << 20; // 64 MB of f32
    let host = vec![1.0f32; N];
    println!("start: {:.2} GB", rss_gb());
    let kept: Vec<Tensor> = (0..count)
        .map(|i| match upload {
            true => Tensor::from_slice_on(&host, &[N], gpu),
            false => Tensor::full_on(&[N], i as f64, DType::F32, gpu)
                .contiguous()
                .realize(),
        })
        .collect::<kiln::Result<_>>()?;
    read_small(gpu)?;
    let in_use = gpu.memory_in_use() as f64 / 1e9;
    println!(
        "{count} kept: {:.2} GB (memory_in_use {in_use:.2} GB)",
        rss_gb()
    );
    drop(kept);
    println!("dropped: {:.2} GB", rss_gb());
    read_small(gpu)?;
    println!("after a read: {:.2} GB", rss_gb());
    Ok(())
}

fn pipelines(gpu: &Device, count: usize) -> kiln::Result<()> {
    read_small(gpu)?; // the first pipeline's one-time costs
    let before = rss_gb();
    for n in 0..count {
        // A new length is a new kernel, so a new pipeline.
        let x = Tensor::ones_on(&[1000 + 4 * n], DType::F32, gpu);
        x.exp().sum_all().item::<f32>()?;
    }
    let grown = rss_gb() - before;
    let p = gpu.pipeline_cache_usage();
    println!(
        "{count} new kernels: RSS +{:.1} MB ({:.0} KB each); pipeline cache {} entries, {:.1} MB estimated",
        grown * 1e3,
        grown * 1e6 / count as f64,
        p.entries,
        p.bytes as f64 / 1e6
    );
    Ok(())
}

fn main() -> kiln::Result<()> {
    let gpu = Device::gpu()?;
    println!("device: {}", gpu.name());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |default: usize| args.get(1).and_then(|c| c.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("pipelines") => pipelines(&gpu, count(100)),
        Some("upload") => tensors(&gpu, true, count(100)),
        _ => tensors(&gpu, false, count(100)),
    }
}
