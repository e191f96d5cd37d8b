//! `fill_workgroup`: which output axes the lanes of a workgroup lie along (LOCAL).

use std::cmp::Reverse;

use super::{largest_divisor, AxisUse, Plan, MAX_LOCAL};
use crate::codegen::opt::{Opt, OptOp};

/// Output axes that get lanes at most.
const MAX_LOCAL_AXES: usize = 3;
/// Lanes below which an axis of odd factors is padded to whole groups instead.
const MIN_LANES: usize = 8;

/// LOCALs up to [`MAX_LOCAL_AXES`] output axes: expanded axes first, then the axes the loads
/// read with the smallest strides (neighbouring lanes read neighbouring memory), then the
/// inner ones. Each takes the largest of 16, 8, 4, 3, 2 (32 for the first) that divides it;
/// where that is under [`MIN_LANES`], the axis is padded to whole groups of 8 or 16 (within
/// an eighth), else takes its largest divisor that fits (125 takes 25). The chosen sizes
/// then double, in the same order, until the workgroup has [`MAX_LOCAL`] lanes: fewer,
/// larger workgroups cost the driver fewer dispatches.
pub(super) fn fill_workgroup(plan: &mut Plan, uses: &[AxisUse]) {
    let mut ranked: Vec<(bool, usize)> = plan
        .globals()
        .into_iter()
        .map(|i| (uses[plan.shaped.parts[i].axis].broadcasters > 0, i))
        .collect();
    let stride = |i: usize| {
        let u = uses[plan.shaped.parts[i].axis];
        if u.readers == 0 {
            i64::MAX
        } else {
            u.stride_sum
        }
    };
    ranked.sort_by_key(|&(expanded, i)| (Reverse(expanded), stride(i), Reverse(i)));
    let mut lanes = 1;
    let mut chosen: Vec<(usize, usize)> = vec![];
    for &(_, i) in ranked.iter().take(MAX_LOCAL_AXES) {
        let size = plan.shaped.parts[i].size;
        let first = Some(&i) == plan.globals().first();
        let sizes: &[usize] = if first {
            &[32, 16, 8, 4, 3, 2]
        } else {
            &[16, 8, 4, 3, 2]
        };
        let cap = sizes[0].min(MAX_LOCAL / lanes);
        let mut n = sizes
            .iter()
            .copied()
            .find(|&n| size.is_multiple_of(n) && n <= cap)
            .unwrap_or(1);
        // An axis already split (PADTO refuses it) takes its largest divisor that fits: a
        // one-lane workgroup fills one SIMD lane of eight on llvmpipe.
        let want = sizes[1].min(cap);
        if n < MIN_LANES {
            if want > n && plan.pad_within(i, want) {
                n = want;
            } else {
                n = n.max(largest_divisor(size, cap));
            }
        }
        if n > 1 {
            chosen.push((i, n));
            lanes *= n;
        }
    }
    loop {
        let mut grew = false;
        for (i, n) in chosen.iter_mut() {
            if lanes * 2 <= MAX_LOCAL && plan.shaped.parts[*i].size.is_multiple_of(*n * 2) {
                *n *= 2;
                lanes *= 2;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // LOCAL keeps global parts in place (a global part of size 1 stays), so indices hold.
    chosen.sort();
    for (i, n) in chosen {
        plan.push(Opt::new(OptOp::Local, i, n));
    }
}
