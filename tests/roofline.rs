//! The roofline probes run on wgpu and report plausible figures; the CPU device has none.

mod common;

#[test]
fn probes_measure_the_adapter() {
    let cpu = kiln::Device::cpu();
    assert!(matches!(
        kiln::roofline::measure(&cpu, 1),
        Err(kiln::Error::Unsupported { .. })
    ));
    let Some(gpu) = common::gpu() else { return };
    let r = kiln::roofline::measure(&gpu, 1).unwrap();
    // Loose bounds: any real device copies faster than 10 MB/s and slower than 100 TB/s.
    assert!(r.copy_gbs > 0.01 && r.copy_gbs < 1e5, "{r:?}");
    assert!(r.fma_gflops > 0.01 && r.fma_gflops < 1e7, "{r:?}");
}
