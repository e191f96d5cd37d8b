//! `stage_shared_inputs`: workgroup-memory tiles (STAGE) for register-tiled kernels on a GPU.

use super::super::opt::{Opt, OptOp};
use super::super::shaped::AxisKind;
use super::super::stage::stage_tile;
use super::Plan;

/// Lanes of a workgroup that must read each element of a tile for STAGE to be proposed: each
/// element is then loaded from the buffer once instead of by this many lanes.
const MIN_SHARERS: usize = 8;

/// Outputs per lane below which a kernel is not a register tile (a matmul's is 8x8).
const MIN_TILE: usize = 16;

/// Where a register-tiled kernel (a matmul, conv2d) has a workgroup whose lanes share an
/// input (each element read by at least [`MIN_SHARERS`] lanes: a matmul's block of 8x16
/// lanes reads each element of `a` 16 times and of `b` 8 times), stage it through workgroup
/// memory: the block tiling of the fastest published WGSL matmuls (gpu.cpp, 64x64 blocks,
/// BK=8, 8x8 outputs per thread). Not on a CPU adapter, where workgroup memory is no faster
/// than a buffer (both are loops over the lanes) and the copies and barriers cost the rest
/// (BENCHMARKS.md, "STAGE"). Unmeasured on a GPU: a list without STAGE is one
/// `Schedule::set_opts` away.
pub(super) fn stage_shared_inputs(plan: &mut Plan) {
    if plan.limits.cpu_adapter || plan.upcast_size() < MIN_TILE {
        return;
    }
    for buf in 0..plan.ast.bufs.len() {
        let Ok(tile) = stage_tile(plan.ast, &plan.shaped, buf) else {
            continue;
        };
        let parts = &plan.shaped.parts;
        let tile_lanes: usize = tile
            .parts
            .iter()
            .filter(|&&i| parts[i].kind == AxisKind::Local)
            .map(|&i| parts[i].size)
            .product();
        if plan.shaped.local_size() / tile_lanes >= MIN_SHARERS {
            plan.push(Opt::new(OptOp::Stage, buf, 0));
        }
    }
}
