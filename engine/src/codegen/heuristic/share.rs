//! `shared_tile`: the shared register tile, for a register-tiled reduction (a matmul,
//! conv2d) on a CPU adapter with subgroups.
//!
//! On llvmpipe a buffer load is a loop over the SIMD lanes with one scalar load each, and a
//! matmul's time goes to those loops rather than to its FMAs. Here the workgroup's lanes sit
//! side by side along the stored axis only (the columns), so every lane reads the same rows
//! of the inputs that do not read the columns (`a` in `a @ b`, the weights of conv2d), and
//! SHARE splits those loads over the subgroup: lane s loads every S-th element, and the
//! others receive it by a subgroup broadcast (a register shuffle). Each lane computes
//! [`ROWS`] x [`COLS`] outputs: per 4 reduce steps (the UNROLL) its own columns of `b` cost
//! 8 vec4 loads, its 32 rows of `a` (one vec4 along the reduction each) 32/S.
//!
//! Without SHARE the same tile is slower than 16x16, since each lane then loads all 32 rows
//! itself (BENCHMARKS.md, "SHARE"). A side that the tile does not divide is padded up to it
//! first (PADTO, masked) where that adds at most an eighth: a matmul of 1000^3 pads 1000 to
//! 1024 both ways.

use std::cmp::Reverse;

use super::super::opt::{Opt, OptOp};
use super::{padded_within, AxisUse, Plan};

/// Outputs per lane along the shared axis (the rows whose loads the subgroup splits).
const ROWS: usize = 32;
/// Outputs per lane along the lanes' axis (two vec4 loads of `b` per reduce step).
const COLS: usize = 8;
/// Lanes per workgroup, along the columns, at most (a multiple of the subgroup size).
const LANES: usize = 16;
/// Workgroups the kernel must keep at least, for every core to have some.
const MIN_GROUPS: usize = 4;

/// Applies the shared tile where it fits (see the module docs); says whether it did. The
/// plan is unchanged when it did not.
pub(super) fn shared_tile(
    plan: &mut Plan,
    uses: &[AxisUse],
    complementary: &dyn Fn(usize, usize) -> bool,
) -> bool {
    let Some((_, largest)) = plan.limits.subgroup_sizes else {
        return false;
    };
    let reds = plan.shaped.reduce_parts();
    if !plan.limits.cpu_adapter || reds.is_empty() {
        return false;
    }
    let globals = plan.globals();
    // The columns: the stored (innermost) output axis, which some load reads (its own
    // columns per lane); the rows: another output axis the column readers broadcast along.
    let Some(&cols) = globals.last() else {
        return false;
    };
    let col_axis = plan.shaped.parts[cols].axis;
    if uses[col_axis].readers == 0 {
        return false;
    }
    // Each side a multiple of its tile, padded up to one (masked) where that adds at most
    // an eighth: 1000 rows become 1024.
    let padded_rows = |i: usize| -> Option<usize> {
        let p = plan.shaped.parts[i];
        (i != cols && complementary(p.axis, col_axis))
            .then(|| padded_within(p.size, ROWS))
            .flatten()
    };
    let globals_by_waste = {
        let mut g: Vec<usize> = globals
            .iter()
            .copied()
            .filter(|&i| padded_rows(i).is_some())
            .collect();
        g.sort_by_key(|&i| padded_rows(i).map(|n| n - plan.shaped.parts[i].size));
        g
    };
    let Some(&rows) = globals_by_waste.first() else {
        return false;
    };
    let col_size = plan.shaped.parts[cols].size;
    let lanes = [LANES, LANES / 2]
        .into_iter()
        .filter(|&l| l % largest == 0)
        .filter_map(|l| padded_within(col_size, COLS * l).map(|n| (l, n)))
        .min_by_key(|&(l, n)| (n, Reverse(l)));
    let Some((lanes, _)) = lanes else {
        return false;
    };
    let outputs = plan.ast.output_numel();
    if outputs / (ROWS * COLS * lanes) < MIN_GROUPS {
        return false;
    }
    let before = (plan.opts.clone(), plan.shaped.clone());
    if !plan.pad_within(rows, ROWS) || !plan.pad_within(cols, COLS * lanes) {
        (plan.opts, plan.shaped) = before;
        return false;
    }
    let r = reds.len() - 1;
    // As `unroll_last_reduce`: a short last reduce part whole (conv2d's kernel width), else by 4
    // (a vec4 of `a` along the reduction per row).
    let unroll = match plan.shaped.parts[reds[r]].size {
        n if n <= 4 => Some(0),
        n if n.is_multiple_of(4) => Some(4),
        _ => None,
    };
    let ok = plan.push(Opt::new(OptOp::Upcast, rows, 8))
        && plan.push(Opt::new(OptOp::Upcast, rows, ROWS / 8))
        && plan.push(Opt::new(OptOp::Upcast, cols, COLS))
        && unroll.is_none_or(|n| plan.push(Opt::new(OptOp::Unroll, r, n)))
        && plan.push(Opt::new(OptOp::Local, cols, lanes));
    let mut shared = false;
    if ok {
        for buf in 0..plan.ast.bufs.len() {
            shared |= plan.push(Opt::new(OptOp::Share, buf, 0));
        }
    }
    if !shared {
        (plan.opts, plan.shaped) = before;
    }
    shared
}
