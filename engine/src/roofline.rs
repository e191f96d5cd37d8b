//! Roofline probes: what the device itself can do, measured with hand-written WGSL
//! (`shaders/copy.wgsl`, `shaders/fma.wgsl`) on the same adapter and in the same run as the
//! workloads they scale, so that a kernel is judged as a fraction of its device's limit.

use crate::error::{Error, Result};
use crate::runtime::{Backend, Device};

const COPY_WGSL: &str = include_str!("../../shaders/copy.wgsl");
const FMA_WGSL: &str = include_str!("../../shaders/fma.wgsl");

/// Bytes the copy probe reads (and writes again).
const COPY_BYTES: u64 = 64 << 20;
/// Workgroups of the FMA probe (256 invocations each, 32,768 flops per invocation).
const FMA_GROUPS: usize = 1024;
const FMA_FLOPS_PER_INVOCATION: f64 = 1024.0 * 4.0 * 4.0 * 2.0;

/// A device's measured limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roofline {
    /// Device memory bandwidth: bytes read + written per second by a vec4 copy, in GB/s.
    pub copy_gbs: f64,
    /// Arithmetic: f32 FMA throughput in GFLOP/s (an FMA is 2 flops).
    pub fma_gflops: f64,
}

/// Runs the probes `runs` times on `device` and keeps each one's best run (for the copy, the
/// best of its two access patterns): a probe measures a capability, and the best run is the
/// least disturbed one. The CPU device has no probes: it
/// interprets kernels and has no roofline to compare with.
pub fn measure(device: &Device, runs: usize) -> Result<Roofline> {
    let Backend::Wgpu(w) = device.backend() else {
        return Err(Error::Unsupported {
            device: device.name(),
            message: "roofline probes run on wgpu devices only".into(),
        });
    };
    let words = (COPY_BYTES / 16) as usize;
    // SAFETY (all three): the probes guard every access by `arrayLength` of the buffer they
    // index, and their one loop has a constant trip count.
    let mut copy = unsafe {
        w.time_trusted_wgsl(
            "roofline copy",
            COPY_WGSL,
            "main",
            &[COPY_BYTES, COPY_BYTES],
            words.div_ceil(256),
            runs,
        )
    }?;
    copy.extend(unsafe {
        w.time_trusted_wgsl(
            "roofline copy4",
            COPY_WGSL,
            "main4",
            &[COPY_BYTES, COPY_BYTES],
            words.div_ceil(4 * 256),
            runs,
        )
    }?);
    let fma = unsafe {
        w.time_trusted_wgsl(
            "roofline fma",
            FMA_WGSL,
            "main",
            &[(FMA_GROUPS * 256 * 16) as u64],
            FMA_GROUPS,
            runs,
        )
    }?;
    let best = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
    let roofline = Roofline {
        copy_gbs: 2.0 * COPY_BYTES as f64 / best(&copy) * 1e-9,
        fma_gflops: FMA_GROUPS as f64 * 256.0 * FMA_FLOPS_PER_INVOCATION / best(&fma) * 1e-9,
    };
    crate::trace::record::probes(device, roofline.copy_gbs, roofline.fma_gflops);
    Ok(roofline)
}
