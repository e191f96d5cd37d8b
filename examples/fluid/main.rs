//! A 2-D fluid (Stam's stable fluids, `solver.rs`) stirred by a rotating jet that injects
//! dye, 256x256, every op a kiln op on the device. Prints steps per second and kernels per
//! step, and writes a few frames of the dye as PNGs (`target/fluid_*.png`).
//!
//! `cargo run --release --example fluid [steps]` (default 120)

mod solver;
#[path = "../common/png_out.rs"]
mod png_out;

use kiln::{Device, Tensor};
use solver::Fluid;

const N: usize = 256;
const JACOBI: usize = 40;
const DT: f32 = 0.5;

/// A disc of radius `r` around `(cy, cx)`: 1 inside, 0 outside.
fn disc(cy: f32, cx: f32, r: f32, device: &Device) -> kiln::Result<Tensor> {
    let data: Vec<f32> = (0..N * N)
        .map(|k| {
            let (y, x) = ((k / N) as f32 - cy, (k % N) as f32 - cx);
            ((y * y + x * x) < r * r) as u8 as f32
        })
        .collect();
    Tensor::from_slice_on(&data, &[N, N], device)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args().nth(1).map_or(Ok(120), |a| a.parse())?;
    let device = kiln::default_device()?;
    println!(
        "device: {}, {N}x{N}, {JACOBI} Jacobi iterations a projection",
        device.name()
    );
    let mut fluid = Fluid::new(N, &device);
    let jet = disc(N as f32 / 2.0, N as f32 / 2.0, 8.0, &device)?;
    let mut frames = 0;
    let (mut k0, mut t0) = (kiln::stats().kernels_launched, std::time::Instant::now());
    for step in 0..steps {
        // The jet turns once every 120 steps.
        let angle = step as f32 * std::f32::consts::TAU / 120.0;
        let (fy, fx) = (&jet * (8.0 * angle.sin()), &jet * (8.0 * angle.cos()));
        fluid.step((&fy, &fx), &(&jet * 4.0f32), DT, JACOBI)?;
        if step == 4 {
            // Past the first steps' compiling: time the rest.
            (k0, t0) = (kiln::stats().kernels_launched, std::time::Instant::now());
        }
        if step % (steps / 4).max(1) == steps / 4 - 1 || step + 1 == steps {
            let path = format!("target/fluid_{frames}.png");
            write_frame(&fluid.dye, &path)?;
            frames += 1;
        }
    }
    let timed = steps.saturating_sub(5).max(1);
    let seconds = t0.elapsed().as_secs_f64();
    println!(
        "{:.1} steps/s, {:.0} kernels a step (over the last {timed} steps); {frames} frames in target/fluid_*.png",
        timed as f64 / seconds,
        (kiln::stats().kernels_launched - k0) as f64 / timed as f64
    );
    Ok(())
}

/// The dye as a blue-to-white image.
fn write_frame(dye: &Tensor, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let d = dye.to_vec::<f32>()?;
    let rgb: Vec<u8> = d
        .iter()
        .flat_map(|&v| {
            let t = (v / 4.0).clamp(0.0, 1.0);
            [
                (t * 255.0) as u8,
                (t * 230.0 + 10.0) as u8,
                (80.0 + t * 175.0) as u8,
            ]
        })
        .collect();
    png_out::write_png(path, N as u32, N as u32, &rgb)
}
