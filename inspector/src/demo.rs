//! `--demo`: a few workloads of the kind kiln is for (softmax, layernorm, an MLP forward
//! pass, a matmul), run in this process while tracing, so the inspector has real kernels to
//! show and the kernel lab has live ones to re-time.

use kiln::{Device, Result, Tensor};

/// Deterministic inputs (a small LCG): the demo shows kernels, not data.
fn input(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_slice_on(&data, shape, device)
}

/// The demo's base size: softmax of [256, 1024], layernorm of [256, 512], an MLP of
/// 64 x 256 -> 512 -> 10, a 512^3 matmul.
pub const SIZE: usize = 256;

/// The workloads, each realized once, scaled by `n` ([`SIZE`] for the demo; tests use less).
pub fn workloads(device: &Device, n: usize) -> Result<()> {
    // softmax along rows
    let x = input(&[n, 4 * n], 1, device)?;
    x.softmax(-1).realize()?;
    // layernorm with an affine tail
    let h = input(&[n, 2 * n], 2, device)?;
    let gamma = input(&[2 * n], 3, device)?;
    let beta = input(&[2 * n], 4, device)?;
    (h.layer_norm(-1, 1e-5) * &gamma + &beta).realize()?;
    // a two-layer MLP forward pass: relu(x @ w1 + b1) @ w2 + b2, then softmax
    let batch = input(&[64, n], 5, device)?;
    let (w1, b1) = (input(&[n, 2 * n], 6, device)?, input(&[2 * n], 7, device)?);
    let (w2, b2) = (input(&[2 * n, 10], 8, device)?, input(&[10], 9, device)?);
    let hidden = (batch.matmul(&w1) + &b1).relu();
    (hidden.matmul(&w2) + &b2).softmax(-1).realize()?;
    // a square matmul
    let a = input(&[2 * n, 2 * n], 10, device)?;
    let b = input(&[2 * n, 2 * n], 11, device)?;
    a.matmul(&b).realize()?;
    Ok(())
}

/// Runs the demo on `device` and records it: the workloads once untraced (their first run
/// compiles), then a new recording (`kiln::trace::start`, dropping any before) of the
/// roofline probes (on a GPU) and the workloads again, warm.
pub fn run(device: &Device, n: usize) -> Result<()> {
    workloads(device, n)?;
    kiln::trace::start()?;
    if !device.is_cpu() {
        kiln::roofline::measure(device, 5)?;
    }
    workloads(device, n)
}
