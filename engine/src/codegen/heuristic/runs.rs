//! `grouped_runs`: a grouped reduction on a CPU adapter, where each group lane walks one
//! contiguous run of the reduced data.
//!
//! On llvmpipe a lane's load is a loop over the SIMD lanes, so a lane that walks a long
//! contiguous run with four vec4 loads per step (UNROLL 16) reads fastest: `max(1)` of
//! 4096x4096 reaches the copy probe that way (`unroll_last_reduce`). The GPU form of a grouped reduction
//! strides vec4s across 256 lanes instead. Here the group takes 8 or more lanes (one
//! subgroup on lavapipe, so they combine in registers), and each walks its own run of at
//! most [`MAX_RUN`] elements: the first stage of `sum_all` over 4096x4096,
//! `[512, 8r, 4096r]`, groups the 8 rows of 4096 and splits each in 4 (32 lanes), which
//! runs about as fast as `max(1)` over the same data (BENCHMARKS.md).

use super::super::opt::{Opt, OptOp};
use super::{read_contiguously, Plan, CPU_RUN};

/// Lanes that split one reduction at least (a subgroup on lavapipe).
const GROUP_LANES: usize = 8;
/// Steps of [`CPU_RUN`] elements each lane takes at least.
const MIN_STEPS: usize = 16;
/// Elements one lane folds at most, one after another: a float sum's error grows with it
/// (a mean of 2^25 copies of 0.1 was off by 4e-5 with 4096 per lane; the accuracy tests
/// allow 1e-5).
const MAX_RUN: usize = 1024;

/// Applies the contiguous-run grouping where it fits (one reduce nest, its innermost part
/// read contiguously); says whether it did. The plan is unchanged when it did not.
pub(super) fn grouped_runs(plan: &mut Plan) -> bool {
    let ast = plan.ast;
    if !plan.limits.cpu_adapter || ast.nests().len() != 1 {
        return false;
    }
    let reds = plan.shaped.reduce_parts();
    let Some(&last) = reds.last() else {
        return false;
    };
    let inner = plan.shaped.parts[last];
    if !inner.size.is_multiple_of(CPU_RUN)
        || inner.size / CPU_RUN < MIN_STEPS
        || !read_contiguously(ast, inner.axis)
    {
        return false;
    }
    let before = (plan.opts.clone(), plan.shaped.clone());
    let r = reds.len() - 1;
    // The group lanes: 8 over an outer reduce part they divide (whole runs per lane), and
    // the outer pieces of the run itself (GROUPTOP: each lane keeps a contiguous share)
    // until each lane's run is at most MAX_RUN long.
    let outer = (0..r).find(|&o| plan.shaped.parts[reds[o]].size.is_multiple_of(GROUP_LANES));
    let steps = inner.size / CPU_RUN;
    // The fewest pieces that divide the run into whole steps of at most MAX_RUN each (250
    // steps of sum_all over 4000x4000: 5 pieces of 50).
    let mut fewest = steps.div_ceil(MAX_RUN / CPU_RUN);
    if outer.is_none() {
        fewest = fewest.max(GROUP_LANES);
    }
    let split = (fewest..=steps)
        .find(|&d| steps.is_multiple_of(d))
        .unwrap_or(steps);
    // (GROUP of a whole outer part removes it from the reduce parts: find the run's again.)
    let run_part = |plan: &Plan| {
        let reds = plan.shaped.reduce_parts();
        reds.iter()
            .rposition(|&i| plan.shaped.parts[i].axis == inner.axis)
    };
    let ok = steps.is_multiple_of(split)
        && plan.push(Opt::new(OptOp::Unroll, r, CPU_RUN))
        && outer.is_none_or(|o| plan.push(Opt::new(OptOp::Group, o, GROUP_LANES)))
        && (split == 1
            || run_part(plan).is_some_and(|r| plan.push(Opt::new(OptOp::GroupTop, r, split))));
    if !ok {
        (plan.opts, plan.shaped) = before;
    }
    ok
}
