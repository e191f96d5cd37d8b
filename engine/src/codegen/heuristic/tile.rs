//! Register tiles: `upcast_broadcast_axes` upcasts the output axes some input broadcasts
//! along (a matmul's rows and columns), `grow_register_tile` grows the tile.

use super::{AxisUse, Plan};
use crate::codegen::opt::{Opt, OptOp};

/// Outputs a kernel keeps after tiling, per tile (fewer leave the device idle).
const MIN_TILES: usize = 1024;
/// Upcast outputs per lane this step stops at, before `grow_register_tile`.
const MAX_FIRST_TILE: usize = 32;

/// While there are at least [`MIN_TILES`] outputs and fewer than [`MAX_FIRST_TILE`] per
/// lane, UPCASTs by 4 (or 3) an output axis that some input does not read, preferring axes
/// fewer inputs read, then smaller strides. On a CPU adapter the tile takes two axes that
/// every load broadcasts one of (`complementary`): conv2d's output channels and columns, not
/// its rows and columns, which the image reads both. Returns the axes upcast, in order.
pub(super) fn upcast_broadcast_axes(
    plan: &mut Plan,
    uses: &[AxisUse],
    complementary: &dyn Fn(usize, usize) -> bool,
) -> Vec<usize> {
    let out_n = plan.ast.output_numel();
    let cpu = plan.limits.cpu_adapter;
    let mut upcasted: Vec<usize> = vec![];
    while out_n / plan.upcast_size().max(1) >= MIN_TILES && plan.upcast_size() < MAX_FIRST_TILE {
        if cpu && upcasted.len() == 2 && complementary(upcasted[0], upcasted[1]) {
            break;
        }
        let cpu_pair = cpu
            && upcasted.len() == 1
            && plan.globals().into_iter().any(|i| {
                let axis = plan.shaped.parts[i].axis;
                axis != upcasted[0] && complementary(upcasted[0], axis)
            });
        let mut choices: Vec<(usize, i64, usize, usize)> = vec![];
        for i in plan.globals() {
            let part = plan.shaped.parts[i];
            if upcasted.contains(&part.axis) || uses[part.axis].broadcasters == 0 {
                continue;
            }
            if cpu_pair && !complementary(upcasted[0], part.axis) {
                continue;
            }
            for amount in [3, 4] {
                if part.size.is_multiple_of(amount) {
                    let u = uses[part.axis];
                    choices.push((u.readers, u.stride_sum, i, amount));
                }
            }
        }
        choices.sort();
        let Some(&(_, _, i, amount)) = choices.first() else {
            break;
        };
        let axis = plan.shaped.parts[i].axis;
        if !plan.push(Opt::new(OptOp::Upcast, i, amount)) {
            break;
        }
        upcasted.push(axis);
    }
    upcasted
}

/// Grows a two-axis 4x4 tile to 8x8, each upcast axis
/// once more by 2, innermost first (4x8 where the outputs are too few for 8x8); on a CPU
/// adapter once more, to 16x16, since values that spill go to the stack while each load is
/// a loop over the lanes there, so loading less per FMA pays.
pub(super) fn grow_register_tile(plan: &mut Plan, upcasted: &[usize]) {
    let out_n = plan.ast.output_numel();
    let rounds = if plan.limits.cpu_adapter { 2 } else { 1 };
    let mut by_depth = upcasted.to_vec();
    by_depth.sort_unstable_by(|a, b| b.cmp(a));
    for _ in 0..rounds {
        let size = plan.upcast_size();
        let grow = upcasted.len() >= 2 && (size == 16 || (upcasted.len() == 2 && size == 64));
        if !grow {
            break;
        }
        for &axis in by_depth.iter().take(2) {
            if out_n / (plan.upcast_size() * 2) < MIN_TILES {
                break;
            }
            let Some(i) = plan
                .globals()
                .into_iter()
                .find(|&i| plan.shaped.parts[i].axis == axis)
            else {
                break;
            };
            if !plan.shaped.parts[i].size.is_multiple_of(2)
                || !plan.push(Opt::new(OptOp::Upcast, i, 2))
            {
                break;
            }
        }
    }
}
