//! `own_rows`: kernels whose workgroup owns rows. When some output axes are
//! columns (no reduction varies along them, as softmax's tail along its row), every reduce
//! nest is grouped over the same lanes and the columns are spread over them with GROUPOUT,
//! so that each row's max, sum and tail run once in one workgroup; a row short enough is
//! held in registers and read once. See the module docs of `heuristic` for the numbers.

use super::{group_nest, padded_within, read_contiguously, Plan, CPU_RUN, GROUP_SIZE};
use crate::codegen::opt::{Opt, OptOp};
use crate::codegen::shaped::AxisKind;
use crate::target::MAX_ROW;

/// Row-owning kernels give each lane about this many elements of the row per nest: every
/// lane of a workgroup passes every barrier of the nests' tree reductions, so fewer lanes
/// per row pay.
const ROW_ELEMENTS_PER_LANE: usize = 128;
/// Elements of a row one lane holds in registers when the row fits: the fastest of the
/// splits of a 4096-long softmax row tried on lavapipe (BENCHMARKS.md).
const ROW_REGISTER_VALUES: usize = 64;
/// The fewest lanes a row-owning workgroup gets (when the row is that long).
const MIN_ROW_LANES: usize = 16;
/// Neighbouring rows a lane takes when its row runs along a strided axis (one vec4 across
/// them per element of the row).
const BATCH_VEC: usize = 4;

/// Rows owned by a workgroup (see the module docs). Says whether it applied. A row
/// short enough is first tried held in registers (`own_rows_with` with `hold`), over the lanes that
/// give each at most [`ROW_REGISTER_VALUES`] of it.
pub(super) fn own_rows(plan: &mut Plan) -> bool {
    own_rows_across(plan, true) || own_rows_across(plan, false)
}

/// [`own_rows`], with `across`: each lane first takes [`BATCH_VEC`] neighbouring rows where
/// the row runs along a strided axis and a batch axis is contiguous (and not at all
/// otherwise). Says whether it applied; the plan is unchanged when it did not.
fn own_rows_across(plan: &mut Plan, across: bool) -> bool {
    let ast = plan.ast;
    let cols = ast.column_axes();
    let Some(&main) = cols.last() else {
        return false;
    };
    let cap = GROUP_SIZE.min(plan.limits.max_workgroup_size);
    let size = ast.full_shape[main];
    // About ROW_ELEMENTS_PER_LANE elements per lane, at least MIN_ROW_LANES lanes; a power of
    // two no larger than the row, so that padding at most doubles it.
    let wanted = (size / ROW_ELEMENTS_PER_LANE).max(1);
    let g = cap
        .min(1 << wanted.ilog2())
        .max(MIN_ROW_LANES)
        .min(1 << size.ilog2());
    let hold_lanes = g.max(size.div_ceil(ROW_REGISTER_VALUES).next_power_of_two());
    let can_hold = cols.len() == 1 && hold_lanes <= cap;
    // A row along a strided axis (softmax(0) of a row-major matrix) whose batch axis is the
    // contiguous one: each lane takes 4 neighbouring rows, so that every load is a vec4
    // across them instead of a scalar.
    let before = (plan.opts.clone(), plan.shaped.clone());
    if across {
        let batch = (0..plan.shaped.parts.len()).find(|&i| {
            let p = plan.shaped.parts[i];
            p.kind == AxisKind::Global
                && !cols.contains(&p.axis)
                && p.size.is_multiple_of(BATCH_VEC)
                && read_contiguously(ast, p.axis)
        });
        let vectorized = !read_contiguously(ast, main)
            && batch.is_some_and(|i| plan.push(Opt::new(OptOp::Upcast, i, BATCH_VEC)));
        if !vectorized {
            return false;
        }
    }
    // A CPU adapter's lanes hold runs of CPU_RUN neighbours rather than strided vec4s.
    let owned = (can_hold
        && plan.limits.cpu_adapter
        && own_rows_with(plan, main, hold_lanes, true, CPU_RUN))
        || (can_hold && own_rows_with(plan, main, hold_lanes, true, 4))
        || own_rows_with(plan, main, g, false, 4);
    if !owned {
        (plan.opts, plan.shaped) = before;
    }
    owned
}

/// Rows owned by workgroups of `g` lanes, the last column axis `main` spread over them, each
/// lane taking runs of `run` neighbours (UPCAST and UNROLL before GROUPOUT and GROUP). With
/// `hold`, each lane's share of the row is unrolled whole, in the tail (UPCAST) and in every
/// nest (UNROLL): the nests and the tail then load the same elements at the same indices,
/// the linearizer's CSE keeps one load of each, and the row is read from memory once
/// instead of once per nest and once more by the tail. Says whether it applied; the plan is
/// unchanged when it did not.
fn own_rows_with(plan: &mut Plan, main: usize, g: usize, hold: bool, run: usize) -> bool {
    let ast = plan.ast;
    let cols = ast.column_axes();
    let size = ast.full_shape[main];
    let part_of = |plan: &Plan, axis: usize, kind: AxisKind| {
        (0..plan.shaped.parts.len()).find(|&i| {
            let p = plan.shaped.parts[i];
            p.axis == axis && p.kind == kind
        })
    };
    let global = |plan: &Plan, axis: usize| {
        part_of(plan, axis, AxisKind::Global).expect("a column axis has a global part")
    };
    let before = (plan.opts.clone(), plan.shaped.clone());
    // Padded to whole runs over the lanes where that adds at most an eighth (softmax rows of
    // 4000 to 4096), else to whole lanes (at most doubling the row).
    let tile = if padded_within(size, run * g).is_some() {
        run * g
    } else {
        g
    };
    if !size.is_multiple_of(tile) && !plan.push(Opt::new(OptOp::Padto, global(plan, main), tile)) {
        return false;
    }
    let padded = plan.shaped.padded[main];
    if padded.is_multiple_of(run * g) {
        plan.push(Opt::new(OptOp::Upcast, global(plan, main), run));
    } else if run > 4 {
        (plan.opts, plan.shaped) = before;
        return false;
    }
    // The other columns loop inside the workgroup, so that each row's nests run once; a row
    // too long for one workgroup keeps them on the grid instead (the scheduler let its nests
    // be recomputed per slice only where they are small: see `NEST_RECOMPUTE_RATIO`).
    let row: usize = cols.iter().map(|&c| ast.full_shape[c]).product();
    let loop_outer = row <= MAX_ROW;
    let spread = plan.push(Opt::new(OptOp::GroupOut, global(plan, main), g))
        && (!loop_outer
            || cols[..cols.len() - 1]
                .iter()
                .all(|&c| plan.push(Opt::new(OptOp::GroupOut, global(plan, c), 1))));
    if !spread {
        (plan.opts, plan.shaped) = before;
        return false;
    }
    let mut held = !hold
        || part_of(plan, main, AxisKind::Loop)
            .is_none_or(|i| plan.push(Opt::new(OptOp::Upcast, i, 0)));
    for nest in ast.nests() {
        let grouped = group_nest(plan, &nest, g, run);
        if hold {
            held &= grouped;
            // What GROUP left of the nest's longest part, unrolled whole.
            let rest = plan
                .shaped
                .reduce_parts()
                .into_iter()
                .enumerate()
                .find(|(_, i)| {
                    let p = plan.shaped.parts[*i];
                    nest.contains(&p.axis) && p.size > 1
                });
            held &= rest.is_none_or(|(r, _)| plan.push(Opt::new(OptOp::Unroll, r, 0)));
        }
    }
    if !held {
        (plan.opts, plan.shaped) = before;
        return false;
    }
    true
}
