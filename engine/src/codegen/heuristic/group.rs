//! `group_few_outputs`: a kernel of few outputs splits its reduction across a workgroup.

use super::reduce::column_reduce;
use super::runs::grouped_runs;
use super::{group_nest, largest_divisor, read_contiguously, AxisUse, Plan, GROUP_SIZE};
use crate::codegen::opt::{Opt, OptOp};

/// Lanes that cooperate on one reduction when its kernel has several nests: each nest
/// passes a tree of barriers, so fewer lanes share them.
const MULTI_NEST_GROUP_SIZE: usize = 16;
/// The most values each of those lanes folds (more, and a long sum split over 16 lanes
/// drifts).
const MULTI_NEST_MAX_PER_LANE: usize = 256;
/// Outputs below which a reduction is split across a workgroup.
const FEW_OUTPUTS: usize = 2048;
/// The shortest reduce part worth grouping.
const MIN_GROUPED: usize = 64;

/// With fewer than [`FEW_OUTPUTS`] outputs, GROUPs the longest reduce part over up to
/// [`GROUP_SIZE`] lanes (after an UNROLL 4 where it is read contiguously, for vec4 loads;
/// padded to the lanes where no divisor gives 16), and the other nests over the same lanes
/// where they divide. A column sum takes `column_reduce`'s layout and, on a CPU adapter, a
/// contiguous reduction `grouped_runs`'. This also bounds each lane's loop: a 2^20-element
/// sum loops 1024 times per lane, not 2^20. Says whether it applied.
pub(super) fn group_few_outputs(plan: &mut Plan, uses: &[AxisUse]) -> bool {
    let ast = plan.ast;
    let reduce_parts = plan.shaped.reduce_parts();
    if reduce_parts.is_empty() || ast.output_numel() >= FEW_OUTPUTS {
        return false;
    }
    let (r, &i) = reduce_parts
        .iter()
        .enumerate()
        .max_by_key(|(_, &i)| plan.shaped.parts[i].size)
        .expect("non-empty");
    let size = plan.shaped.parts[i].size;
    if size < MIN_GROUPED {
        return false;
    }
    if column_reduce(plan, uses, r, i) || grouped_runs(plan) {
        return true;
    }
    let multi_nest = ast.nests().len() > 1
        && ast
            .reduce_lengths()
            .all(|n| n <= MULTI_NEST_GROUP_SIZE * MULTI_NEST_MAX_PER_LANE);
    let cap = if multi_nest {
        MULTI_NEST_GROUP_SIZE
    } else {
        GROUP_SIZE
    }
    .min(plan.limits.max_workgroup_size);
    let axis = plan.shaped.parts[i].axis;
    // Each lane first takes 4 neighbours (one vec4 load), then the group splits the rest.
    let vec4 = read_contiguously(ast, axis)
        && size.is_multiple_of(4)
        && size / 4 >= 64
        && largest_divisor(size / 4, cap) >= 16
        && plan.push(Opt::new(OptOp::Unroll, r, 4));
    let size = if vec4 { size / 4 } else { size };
    let d = largest_divisor(size, cap);
    let g = if d >= 16 {
        plan.push(Opt::new(OptOp::Group, r, d)).then_some(d)
    } else {
        let n = cap.min(size.next_power_of_two());
        (plan.push(Opt::new(OptOp::Padto, i, n)) && plan.push(Opt::new(OptOp::Group, r, n)))
            .then_some(n)
    };
    if let Some(g) = g {
        for nest in ast.nests() {
            if !nest.contains(&axis) {
                group_nest(plan, &nest, g, if multi_nest { 4 } else { 1 });
            }
        }
    }
    true
}
