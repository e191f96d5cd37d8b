//! The program and pipeline caches are bounded (LRU by bytes), by what their entries cost the
//! process. One test per binary: the budget is process-wide.

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
        run(99); // the first program of each kind is a one-time cost
        let rss_before = rss_bytes();
        for n in 100..160 {
            run(n);
        }
        if let (false, Some(before), Some(after)) = (dev.is_cpu(), rss_before, rss_bytes()) {
            // Unbounded, 60 pipelines held about 29 MB on lavapipe: the budget counts what a
            // pipeline really costs the process.
            let grown = after.saturating_sub(before);
            assert!(grown < 4 * budget + (4 << 20), "{dev:?}: the process grew {grown} bytes over 60 new pipelines under a {budget}-byte budget");
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
        if !dev.is_cpu() {
            pipeline_estimate_covers_what_a_pipeline_costs(&dev, &run);
        }
    }
}

/// The pipeline cache's budget counts what a pipeline costs the process: with nothing
/// evicted, the estimated bytes of 40 new pipelines cover at least 60% of the process's
/// growth while compiling them (LLVM's first compile of a kernel costs more than a cached one) (on lavapipe a pipeline is LLVM machine code in host memory).
fn pipeline_estimate_covers_what_a_pipeline_costs(dev: &kiln::Device, run: &dyn Fn(usize)) {
    kiln::set_cache_bytes(256 << 20);
    let (Some(before), est_before) = (rss_bytes(), dev.pipeline_cache_usage()) else {
        return;
    };
    for n in 200..240 {
        run(n);
    }
    let grown = rss_bytes().unwrap().saturating_sub(before);
    let est = dev.pipeline_cache_usage();
    let new = est.entries - est_before.entries;
    let per_pipeline = grown / new;
    let estimated = (est.bytes - est_before.bytes) / new;
    assert!(
        estimated * 10 >= per_pipeline * 6,
        "{dev:?}: a pipeline is estimated at {estimated} bytes but the process grew {per_pipeline} per pipeline ({new} new)"
    );
}
