//! `cargo bench --bench host`: the engine's host time, with criterion (no GPU time here).
//!
//! - `graph/build_100_ops`: building a lazy graph of 100 elementwise ops (nothing runs).
//! - `plan/schedule_cache_hit`: `kiln::schedule` of a step seen before (new data and a new
//!   constant): the schedule cache's path, no scheduling or codegen.
//! - `plan/cold_codegen`: scheduling, lowering, opts, linearizing, WGSL and naga validation
//!   of one new kernel (a new shape every iteration, so no cache helps), on the CPU device,
//!   which stops before the driver.
//! - `realize/cached_step`: a cached step realized on the default device (planning, buffer
//!   allocation, dispatch; not waiting for the result).
//! - `train/mlp_step_plan`: the host's part of a training step of examples/train_digits'
//!   MLP (batch 64, 64-128-10): building the forward, the cross-entropy, the gradients of
//!   the four parameters and their SGD updates, and planning them (a schedule-cache hit).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

use kiln::{Device, Tensor};

fn input(dev: &Device, n: usize) -> Tensor {
    Tensor::from_slice_on(&vec![0.5f32; n], &[n], dev).expect("upload")
}

fn host(c: &mut Criterion) {
    let cpu = Device::cpu();
    let x = input(&cpu, 1024);
    c.bench_function("graph/build_100_ops", |b| {
        b.iter(|| {
            let mut y = x.clone();
            for i in 0..100 {
                y = &(&y * (1.0 + i as f32 * 1e-3)) + 0.5;
                if i % 2 == 0 {
                    y = y.relu();
                }
            }
            black_box(y)
        })
    });

    let mut step = 0u32;
    c.bench_function("plan/schedule_cache_hit", |b| {
        b.iter(|| {
            step += 1;
            let y = (&(&x * (0.3 + step as f32 * 1e-4)) + 2.0).exp().sum(&[0]);
            black_box(kiln::schedule(&[&y]).expect("schedule"))
        })
    });

    let mut size = 4096usize;
    c.bench_function("plan/cold_codegen", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                size += 1;
                let x = input(&cpu, size);
                let y = (&(&x * 0.5) + 2.0).exp().sum(&[0]);
                let t0 = Instant::now();
                let s = kiln::schedule(&[&y]).expect("schedule");
                black_box(s.kernels()[0].wgsl().expect("naga"));
                total += t0.elapsed();
            }
            total
        })
    });

    let w1 = Tensor::from_slice_on(&vec![0.01f32; 64 * 128], &[64, 128], &cpu).expect("upload");
    let b1 = input(&cpu, 128);
    let w2 = Tensor::from_slice_on(&vec![0.01f32; 128 * 10], &[128, 10], &cpu).expect("upload");
    let b2 = input(&cpu, 10);
    let batch = Tensor::from_slice_on(&vec![0.5f32; 64 * 64], &[64, 64], &cpu).expect("upload");
    let labels = Tensor::from_slice_on(&[3i32; 64], &[64], &cpu).expect("upload");
    c.bench_function("train/mlp_step_plan", |b| {
        b.iter(|| {
            let h = (batch.matmul(&w1) + &b1).relu();
            let loss = (h.matmul(&w2) + &b2).cross_entropy(&labels);
            let grads = loss.gradient(&[&w1, &b1, &w2, &b2]);
            let new: Vec<Tensor> = [&w1, &b1, &w2, &b2]
                .iter()
                .zip(&grads)
                .map(|(p, g)| *p - &(g * 0.01f32))
                .collect();
            let mut outs: Vec<&Tensor> = new.iter().collect();
            outs.push(&loss);
            black_box(kiln::schedule(&outs).expect("schedule"))
        })
    });

    let dev = kiln::default_device().expect("a device");
    let x = input(&dev, 1024);
    let mut step = 0u32;
    c.bench_function("realize/cached_step", |b| {
        b.iter(|| {
            step += 1;
            let y = &(&x * (0.3 + step as f32 * 1e-4)) + 2.0;
            y.realize().expect("realize");
            black_box(y)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = host
}
criterion_main!(benches);
