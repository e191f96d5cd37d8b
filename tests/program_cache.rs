//! The program and pipeline caches are bounded (LRU by bytes). Every new input length compiled
//! a new program and pipeline that were never evicted: 500 lengths cost +259 MB on wgpu. One
//! test per binary: the budget is process-wide.

mod common;
use common::*;
use kiln::Tensor;

#[test]
fn caches_stay_within_their_budget_and_evicted_programs_come_back() {
    let budget = 2 << 20;
    kiln::set_cache_bytes(budget);
    assert_eq!(kiln::cache_bytes(), budget);
    for dev in devices() {
        let run = |n: usize| {
            let x = Tensor::from_slice_on(&vec![0.5f32; n], &[n], &dev).unwrap();
            let y = (&x * 2.0 + 1.0).exp();
            let got: Vec<f32> = y.to_vec().unwrap();
            assert!(
                got.iter().all(|&v| (v - 2.0f32.exp()).abs() < 1e-5),
                "n = {n}"
            );
        };
        for n in 100..160 {
            run(n);
        }
        let programs = kiln::program_cache_usage();
        let pipelines = dev.pipeline_cache_usage();
        assert!(programs.bytes <= budget, "{dev:?}: {programs:?}");
        assert!(pipelines.bytes <= budget, "{dev:?}: {pipelines:?}");
        if !dev.is_cpu() {
            // 60 lengths compiled 60 pipelines; a 2 MiB budget keeps about ten.
            assert!((1..60).contains(&pipelines.entries), "{pipelines:?}");
        }
        // The first lengths were evicted: they compile again and still compute.
        run(100);
        run(101);
    }
}
