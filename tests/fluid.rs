//! The fluid of `examples/fluid`: its projection leaves the divergence near zero, diffusion
//! is the implicit step's Jacobi iterations and keeps the total, advection keeps a constant
//! field and moves dye without losing much of it, and the CPU device and wgpu agree.

#[path = "../examples/fluid/solver.rs"]
mod solver;

mod common;
use common::devices;
use kiln::Tensor;
use solver::{diffuse, divergence, Fluid};

fn field(n: usize, seed: u64, dev: &kiln::Device) -> Tensor {
    let mut r = common::Rng::new(seed);
    let data: Vec<f32> = (0..n * n).map(|_| r.f32(-1.0, 1.0)).collect();
    Tensor::from_slice_on(&data, &[n, n], dev).unwrap()
}

fn max_abs(t: &Tensor) -> f32 {
    t.to_vec::<f32>()
        .unwrap()
        .iter()
        .fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn projection_removes_the_divergence() {
    for dev in devices() {
        let n = 32;
        let mut f = Fluid::new(n, &dev);
        f.u = field(n, 1, &dev);
        f.v = field(n, 2, &dev);
        let before = max_abs(&divergence(&f.u, &f.v));
        f.project(200);
        let after = max_abs(&divergence(&f.u, &f.v));
        assert!(
            after < 1e-4 * before,
            "{}: divergence {before} -> {after}",
            dev.name()
        );
    }
}

#[test]
fn advection_keeps_constants_and_dye() {
    let mut results = vec![];
    for dev in devices() {
        let n = 32;
        let mut f = Fluid::new(n, &dev);
        f.u = field(n, 3, &dev);
        f.v = field(n, 4, &dev);
        f.project(200);
        // A constant field stays that constant (the weights of each read sum to 1).
        let c = Tensor::full_on(&[n, n], 2.5, kiln::DType::F32, &dev);
        let moved = f.advect(&c, 0.7).to_vec::<f32>().unwrap();
        assert!(
            moved.iter().all(|v| (v - 2.5).abs() < 1e-5),
            "{}",
            dev.name()
        );
        // Dye in a blob, carried 10 steps without sources: its total stays within 5%.
        f.dye = field(n, 5, &dev).abs();
        let total = |t: &Tensor| t.sum_all().item::<f32>().unwrap();
        let start = total(&f.dye);
        let zero = f.dye.zeros_like();
        for _ in 0..10 {
            f.step((&zero, &zero), &zero, 0.5, 40).unwrap();
        }
        let end = total(&f.dye);
        assert!(
            (end - start).abs() < 0.05 * start,
            "{}: dye {start} -> {end}",
            dev.name()
        );
        results.push(f.dye.to_vec::<f32>().unwrap());
    }
    if let [a, b] = &results[..] {
        let diff = a
            .iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-3, "CPU and wgpu differ by {diff}");
    }
}

#[test]
fn diffusion_is_jacobi_on_the_implicit_step_and_keeps_the_total() {
    let n = 24;
    let (k, dt, iterations) = (0.5f32, 0.5f32, 4);
    for dev in devices() {
        let q = field(n, 6, &dev).abs();
        let host = q.to_vec::<f32>().unwrap();
        let got = diffuse(&q, k, dt, iterations).to_vec::<f32>().unwrap();
        // The host's Jacobi iterations of (1 - k dt laplacian) x = q, periodic.
        let a = k * dt;
        let mut x = host.clone();
        for _ in 0..iterations {
            x = (0..n * n)
                .map(|c| {
                    let (i, j) = (c / n, c % n);
                    let around = x[(i + 1) % n * n + j]
                        + x[(i + n - 1) % n * n + j]
                        + x[i * n + (j + 1) % n]
                        + x[i * n + (j + n - 1) % n];
                    (host[c] + a * around) / (1.0 + 4.0 * a)
                })
                .collect();
        }
        for (c, (g, w)) in got.iter().zip(&x).enumerate() {
            assert!((g - w).abs() < 1e-5, "{}: cell {c}: {g} vs {w}", dev.name());
        }
        let (before, after) = (host.iter().sum::<f32>(), got.iter().sum::<f32>());
        assert!(
            (after - before).abs() < 1e-4 * before,
            "total {before} -> {after}"
        );
        let peak = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(*x));
        assert!(peak(&got) < peak(&host), "diffusion smooths");
    }
}
